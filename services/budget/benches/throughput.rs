//! Budget writes and reports, each against a baseline measured in the same run:
//!
//! - `CreateProject` committed per second at 32 concurrent callers, spread over 8
//!   rural-district allocations; on PostgreSQL next to `pgbench -b tpcb-like`
//!   (scale 8: as many hot branch rows as we have hot allocations) on the same
//!   server, on SQLite next to the 2,000 writes/s target;
//! - `GetExecutionReport` latency at one caller with 100,000 projects loaded (5
//!   years × the real classifier's districts), by region and by district, next to
//!   the gRPC health check on the same server.
//!
//!     cargo bench -p aimaq-budget --bench throughput
//!
//! (`AIMAQ_BENCH_PROJECTS=<n>` loads fewer projects, for a quick look.)
//!
//! PostgreSQL runs when `AIMAQ_TEST_POSTGRES_URL` (default
//! postgres://postgres@127.0.0.1:5432/test) is reachable and `pgbench` is on the
//! PATH. Prints Markdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aimaq_bench::{Load, channels, pgbench};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::governance::v1::TerritoryKind;
use aimaq_testing::{Engine, TestDatabase, TestServer, TestTokens, with_token};
use aimaq_types::Kato;
use futures::{StreamExt, TryStreamExt, stream};
use tokio::runtime::Handle;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const CALLERS: usize = 32;
const CONNECTIONS: usize = 4;
const WRITES: Load = Load {
    callers: CALLERS,
    warm_up: Duration::from_secs(1),
    window: Duration::from_secs(10),
};
const READS: Load = Load {
    callers: 1,
    warm_up: Duration::from_secs(1),
    window: Duration::from_secs(5),
};
const PROGRAM: &str = "BENCH";
const YEARS: [i32; 5] = [2020, 2021, 2022, 2023, 2024];
const PROJECTS: usize = 100_000;

/// Projects to load: `AIMAQ_BENCH_PROJECTS`, or 100,000.
fn projects_to_load() -> usize {
    std::env::var("AIMAQ_BENCH_PROJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(PROJECTS)
}
const BATCH: usize = 500;
const HOT_ALLOCATIONS: usize = 8;
const PGBENCH_SCALE: usize = 8;
/// An envelope: within the bound of one amount (10 trillion tenge); allocations
/// below it are fractions of it.
const BIG: i64 = 1 << 49;

/// The classifier's villages with their district, and the first
/// `HOT_ALLOCATIONS` rural districts of the Turkestan region with a village each.
struct Places {
    villages: Vec<(Kato, Kato)>,
    hot: Vec<(Kato, Kato)>,
}

fn places(rows: &[aimaq_proto::governance::v1::TerritoryInput]) -> Places {
    let codes: std::collections::BTreeSet<Kato> = rows
        .iter()
        .filter_map(|t| Kato::parse(&t.kato).ok())
        .collect();
    let villages: Vec<(Kato, Kato)> = rows
        .iter()
        .filter(|t| t.kind == TerritoryKind::Village as i32)
        .filter_map(|t| Kato::parse(&t.kato).ok())
        .map(|k| (k, k.district()))
        .filter(|(k, d)| *d != k.region() && codes.contains(d))
        .collect();
    let mut hot = Vec::new();
    for (village, _) in &villages {
        let rural = Kato::parse(&format!("{}000", &village.to_string()[..6])).unwrap();
        if village.to_string().starts_with("61")
            && codes.contains(&rural)
            && rural.level() == 3
            && !hot.iter().any(|(r, _)| *r == rural)
        {
            hot.push((rural, *village));
        }
        if hot.len() == HOT_ALLOCATIONS {
            break;
        }
    }
    Places { villages, hot }
}

async fn load_projects(
    client: &BudgetServiceClient<tonic::transport::Channel>,
    token: &str,
    places: &Places,
) -> Duration {
    let started = Instant::now();
    let mut allocations: BTreeMap<(i32, Kato), i64> = BTreeMap::new();
    let projects: Vec<ImportedProject> = (0..projects_to_load())
        .map(|i| {
            let (village, district) = places.villages[(i * 7919) % places.villages.len()];
            let year = YEARS[i % YEARS.len()];
            *allocations.entry((year, district)).or_default() += 1;
            let status = [
                ProjectStatus::Completed,
                ProjectStatus::InProgress,
                ProjectStatus::Approved,
                ProjectStatus::Planned,
                ProjectStatus::Cancelled,
            ][i % 5];
            ImportedProject {
                allocation: format!("allocations/{PROGRAM}/{year}/{district}"),
                settlement_kato: village.to_string(),
                category: ProjectCategory::EngineeringInfrastructure as i32,
                title: format!("Project {i}"),
                cost_tiyn: 1_000_000,
                status: status as i32,
                disbursed_tiyn: if status == ProjectStatus::Planned {
                    0
                } else {
                    500_000
                },
                ..ImportedProject::default()
            }
        })
        .collect();
    let mut regions: Vec<(i32, Kato)> = allocations.keys().map(|(y, d)| (*y, d.region())).collect();
    regions.dedup();
    regions.sort();
    regions.dedup();
    for (level, keys) in [
        (1, regions),
        (2, allocations.keys().copied().collect::<Vec<_>>()),
    ] {
        stream::iter(keys)
            .map(|(year, kato)| {
                let mut client = client.clone();
                let request = with_token(
                    AllocateRequest {
                        request_id: format!("load-{level}-{year}-{kato}"),
                        program_code: PROGRAM.into(),
                        fiscal_year: year,
                        territory_kato: kato.to_string(),
                        amount_tiyn: BIG >> (level * 6),
                    },
                    token,
                );
                async move { client.allocate(request).await }
            })
            .buffer_unordered(8)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
    }
    stream::iter(projects.chunks(BATCH).enumerate())
        .map(|(n, batch)| {
            let mut client = client.clone();
            let request = with_token(
                ImportProjectsRequest {
                    request_id: format!("load-projects-{n}"),
                    projects: batch.to_vec(),
                    validate_only: false,
                },
                token,
            );
            async move { client.import_projects(request).await }
        })
        .buffer_unordered(2)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    started.elapsed()
}

async fn run(database: TestDatabase, label: &str, servers: Handle) {
    let backend = database.engine;
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let governance = TestServer::start_on(
        servers.clone(),
        TestDatabase::sqlite().await,
        &tokens,
        aimaq_governance::run,
    )
    .await;
    let mut registry =
        aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient::new(
            governance.channel().await,
        );
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kato-2022.csv");
    let rows = aimaq_governance::classifier::read(&path).unwrap();
    let places = places(&rows);
    aimaq_governance::classifier::import(&mut registry, &token, "bench-kato", rows)
        .await
        .unwrap();
    let url = governance.url();
    let server = TestServer::start_on(
        servers.clone(),
        database,
        &tokens,
        move |config, listener, shutdown| aimaq_budget::run(config, url, listener, shutdown),
    )
    .await;
    let channels = channels(&server, CONNECTIONS).await;
    let mut client = BudgetServiceClient::new(channels[0].clone());
    client
        .create_program(with_token(
            CreateProgramRequest {
                request_id: "program".into(),
                program: Some(Program {
                    code: PROGRAM.into(),
                    title: Some(aimaq_proto::common::v1::LocalizedText {
                        ru: "Benchmark".into(),
                        ..Default::default()
                    }),
                    kind: ProgramKind::RuralInfrastructure as i32,
                    funding_source: FundingSource::NationalBudget as i32,
                    first_year: 2020,
                    last_year: 2026,
                    ..Program::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap();
    for year in YEARS.into_iter().chain([2026]) {
        client
            .set_envelope(with_token(
                SetEnvelopeRequest {
                    request_id: format!("envelope-{year}"),
                    program_code: PROGRAM.into(),
                    fiscal_year: year,
                    amount_tiyn: BIG,
                    expected_version: 0,
                },
                &token,
            ))
            .await
            .unwrap();
    }
    let load_time = load_projects(&client, &token, &places).await;

    // The hot allocations of this year: region, district, rural districts.
    let mut chain: Vec<(Kato, i64)> = vec![(places.hot[0].0.region(), BIG >> 2)];
    let mut districts: Vec<Kato> = places.hot.iter().map(|(r, _)| r.district()).collect();
    districts.dedup();
    chain.extend(districts.into_iter().map(|d| (d, BIG >> 4)));
    chain.extend(places.hot.iter().map(|(r, _)| (*r, BIG >> 10)));
    for (kato, amount) in chain {
        client
            .allocate(with_token(
                AllocateRequest {
                    request_id: format!("hot-{kato}"),
                    program_code: PROGRAM.into(),
                    fiscal_year: 2026,
                    territory_kato: kato.to_string(),
                    amount_tiyn: amount,
                },
                &token,
            ))
            .await
            .unwrap();
    }

    let pick = {
        let channels = channels.clone();
        move |caller: usize| channels[caller % CONNECTIONS].clone()
    };
    let health_once = {
        let pick = pick.clone();
        READS
            .measure(move |caller| {
                let mut client = HealthClient::new(pick(caller));
                async move { client.check(HealthCheckRequest::default()).await.is_ok() }
            })
            .await
    };
    let report = |grouping: ReportGrouping, territory: &str| {
        let (pick, token) = (pick.clone(), token.clone());
        let territory = territory.to_owned();
        READS.measure(move |caller| {
            let mut client = BudgetServiceClient::new(pick(caller));
            let request = with_token(
                GetExecutionReportRequest {
                    program_code: PROGRAM.into(),
                    from_year: YEARS[0],
                    to_year: YEARS[YEARS.len() - 1],
                    grouping: grouping as i32,
                    territory_kato: territory.clone(),
                    quarter: 0,
                },
                &token,
            );
            async move { client.get_execution_report(request).await.is_ok() }
        })
    };
    let by_region = report(ReportGrouping::Region, "").await;
    let by_district = report(ReportGrouping::District, "610000000").await;

    let next = Arc::new(AtomicU64::new(0));
    let hot = Arc::new(places.hot);
    let create = {
        let (pick, token) = (pick.clone(), token.clone());
        WRITES
            .measure(move |caller| {
                let mut client = BudgetServiceClient::new(pick(caller));
                let n = next.fetch_add(1, Ordering::Relaxed);
                let (rural, village) = hot[caller % hot.len()];
                let request = with_token(
                    CreateProjectRequest {
                        request_id: format!("bench-{n}"),
                        allocation: format!("allocations/{PROGRAM}/2026/{rural}"),
                        settlement_kato: village.to_string(),
                        category: ProjectCategory::SocialInfrastructure as i32,
                        title: format!("School {n}"),
                        borrower_id: String::new(),
                        cost_tiyn: 1_000_000,
                        standard_codes: vec!["SCHOOL".into()],
                    },
                    &token,
                );
                async move { client.create_project(request).await.is_ok() }
            })
            .await
    };
    let pgbench = match backend {
        Engine::Postgres => pgbench(CALLERS, WRITES.window, PGBENCH_SCALE).await,
        Engine::Sqlite => None,
    };

    println!("\n### {label}\n");
    println!(
        "{} projects loaded through ImportProjects in {:.1} s.\n",
        projects_to_load(),
        load_time.as_secs_f64()
    );
    println!("| workload | calls | calls/s | ratio to baseline | p50 | p99 | failures |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "{}",
        health_once.row("health check, 1 caller (baseline)", health_once.per_second)
    );
    println!(
        "{}",
        by_region.row(
            "GetExecutionReport by region, 5 years, 1 caller",
            health_once.per_second
        )
    );
    println!(
        "{}",
        by_district.row(
            "GetExecutionReport by district of 610000000, 5 years, 1 caller",
            health_once.per_second
        )
    );
    match pgbench {
        Some(tps) => {
            println!(
                "| pgbench -b tpcb-like -s {PGBENCH_SCALE}, {CALLERS} clients (baseline) | | {tps:.0} | 1.00 | | | |"
            );
            println!(
                "{}",
                create.row(&format!("CreateProject, {CALLERS} callers"), tps)
            );
        }
        None => println!(
            "{}",
            create.row(
                &format!("CreateProject, {CALLERS} callers (ratio to the 2,000/s target)"),
                2000.0
            )
        ),
    }
}

fn main() {
    aimaq_bench::on_both_backends(run);
}
