//! Grants writes and the loan schedule, each against a baseline measured in the
//! same run:
//!
//! - `SubmitApplication` (a new applicant each call) and then
//!   `DecideApplication` (approving those applications, allowance and loan) committed
//!   per second at 32 concurrent callers; on PostgreSQL next to
//!   `pgbench -b tpcb-like` on the same server, on SQLite next to the 2,000/s
//!   target;
//! - `GetLoanSchedule` (180 lines) at one caller, next to the gRPC health check.
//!
//!     cargo bench -p aimaq-grants --bench throughput
//!
//! PostgreSQL runs when `AIMAQ_TEST_POSTGRES_URL` (default
//! postgres://postgres@127.0.0.1:5432/test) is reachable and `pgbench` is on the
//! PATH. Prints Markdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use aimaq_bench::{Load, channels, pgbench};
use aimaq_proto::common::v1::Date;
use aimaq_proto::governance::v1::TerritoryKind;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::territories::seed;
use aimaq_testing::{Engine, TestDatabase, TestServer, TestTokens, with_token};
use aimaq_types::Iin;
use tokio::runtime::Handle;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

// The allocator of the server binaries, so the servers here run as they do there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
/// pgbench's scale (8 branch rows), as in the budget benchmark. Applications go
/// to villages of as many regions, so decisions take 8 quota rows, 4 callers to a
/// row as pgbench's 32 clients to a branch; submissions share no row.
const PGBENCH_SCALE: usize = 8;
/// The regions (two-digit KATO prefixes) of the applications: Turkestan, whose
/// chain the test territories hold, and seven more added for the benchmark.
const REGIONS: [&str; PGBENCH_SCALE] = ["61", "11", "15", "19", "23", "27", "31", "35"];

/// A region, district, rural district and village for each region past the first,
/// shaped like Turkestan's test chain.
fn more_territories() -> Vec<(String, TerritoryKind)> {
    REGIONS[1..]
        .iter()
        .flat_map(|region| {
            [
                (format!("{region}0000000"), TerritoryKind::Region),
                (format!("{region}3600000"), TerritoryKind::District),
                (format!("{region}3633000"), TerritoryKind::RuralDistrict),
                (format!("{region}3633100"), TerritoryKind::Village),
            ]
        })
        .collect()
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// The `n`-th distinct valid IIN of someone born in 1995–2004.
fn iin(n: u64) -> Option<String> {
    let year = 95 + (n / 3_360_000) % 10;
    let (yy, century) = if year >= 100 {
        (year - 100, 5)
    } else {
        (year, 3)
    };
    let day_of_year = (n / 10_000) % 336;
    let (month, day) = (1 + day_of_year / 28, 1 + day_of_year % 28);
    let serial = n % 10_000;
    Iin::complete(&format!("{yy:02}{month:02}{day:02}{century}{serial:04}")).map(|i| i.to_string())
}

fn application(id: u64, iin: String) -> SubmitApplicationRequest {
    SubmitApplicationRequest {
        request_id: format!("bench-{id}"),
        iin,
        full_name: format!("Specialist {id}"),
        field: Field::Education as i32,
        diploma: Some(Diploma {
            level: DiplomaLevel::Bachelor as i32,
            speciality: "Mathematics teacher".into(),
            year: 2023,
            institution: "Regional university".into(),
        }),
        // Consecutive applications, and so concurrent decisions, change regions.
        settlement_kato: format!("{}3633100", REGIONS[id as usize % REGIONS.len()]),
        employer: "Village school".into(),
        start_date: date(2026, 9, 1),
        allowance_requested: true,
        loan_requested: Some(LoanRequest {
            amount_tiyn: 500_000_000,
            term_months: 180,
        }),
        validate_only: false,
    }
}

async fn run(database: TestDatabase, label: &'static str, servers: Handle) {
    let backend = database.engine;
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let more = more_territories();
    let more: Vec<(&str, TerritoryKind)> = more.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    let governance = TestServer::start_on(
        servers.clone(),
        TestDatabase::sqlite().await,
        &tokens,
        aimaq_governance::run,
    )
    .await;
    seed(governance.channel().await, &tokens, &more).await;
    let url = governance.url();
    let server = TestServer::start_on(
        servers.clone(),
        database,
        &tokens,
        move |config, listener, shutdown| aimaq_grants::run(config, url, listener, shutdown),
    )
    .await;
    let channels = channels(&server, CONNECTIONS).await;
    let mut client = GrantsServiceClient::new(channels[0].clone());
    client
        .set_mci_rate(with_token(
            SetMciRateRequest {
                request_id: "mci".into(),
                rate: Some(MciRate {
                    effective_from: date(2026, 1, 1),
                    value_tiyn: 432_500,
                    source: "Budget law".into(),
                    version: 0,
                }),
                expected_version: 0,
            },
            &token,
        ))
        .await
        .unwrap();
    client
        .set_policy(with_token(
            SetPolicyRequest {
                request_id: "policy".into(),
                policy: Some(Policy {
                    effective_from: date(2025, 10, 1),
                    allowance_mci: 100,
                    loan_cap_mci: 2500,
                    loan_rate_bp: 1,
                    max_term_months: 180,
                    obligation_months: 36,
                    eligible_fields: vec![Field::Education as i32],
                    source: "Decree".into(),
                    version: 0,
                }),
                expected_version: 0,
            },
            &token,
        ))
        .await
        .unwrap();
    for region in REGIONS {
        client
            .set_quota(with_token(
                SetQuotaRequest {
                    request_id: format!("quota-{region}"),
                    region_kato: format!("{region}0000000"),
                    year: 2026,
                    // As much as a quota may hold: no decision is refused for it.
                    allowance_count: aimaq_types::bounds::MAX_PEOPLE as i32,
                    loan_amount_tiyn: aimaq_types::bounds::MAX_AMOUNT_TIYN,
                    expected_version: 0,
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
    let next = Arc::new(AtomicU64::new(0));
    let submitted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let submit_one = {
        let (pick, token, submitted) = (pick.clone(), token.clone(), submitted.clone());
        move |caller: usize| {
            let mut client = GrantsServiceClient::new(pick(caller));
            let (id, iin) = loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if let Some(iin) = iin(n) {
                    break (n, iin);
                }
            };
            let request = with_token(application(id, iin), &token);
            let submitted = submitted.clone();
            async move {
                match client.submit_application(request).await {
                    Ok(answer) => {
                        if let Some(app) = answer.into_inner().application {
                            submitted.lock().unwrap().push((app.name, app.version));
                        }
                        true
                    }
                    Err(_) => false,
                }
            }
        }
    };
    let submit = WRITES.measure(submit_one.clone()).await;
    // As many again, unmeasured, so that approvals faster than submissions do not
    // run out of applications in their window.
    WRITES.measure(submit_one).await;
    let submitted = Arc::new(std::mem::take(&mut *submitted.lock().unwrap()));
    let cursor = Arc::new(AtomicUsize::new(0));
    let decide = {
        let (pick, token) = (pick.clone(), token.clone());
        let (submitted, cursor) = (submitted.clone(), cursor.clone());
        WRITES
            .measure(move |caller| {
                let mut client = GrantsServiceClient::new(pick(caller));
                let next = submitted
                    .get(cursor.fetch_add(1, Ordering::Relaxed))
                    .cloned();
                let token = token.clone();
                async move {
                    let Some((name, version)) = next else {
                        return false;
                    };
                    let request = with_token(
                        DecideApplicationRequest {
                            request_id: format!("decide-{}", name.replace('/', "-")),
                            application: name,
                            decision: Decision::Approve as i32,
                            decision_date: date(2026, 10, 1),
                            grant_allowance: true,
                            grant_loan: Some(LoanRequest {
                                amount_tiyn: 500_000_000,
                                term_months: 180,
                            }),
                            reason: String::new(),
                            expected_version: version,
                        },
                        &token,
                    );
                    client.decide_application(request).await.is_ok()
                }
            })
            .await
    };
    let decided = cursor.load(Ordering::Relaxed).min(submitted.len());
    let with_loan = submitted.first().map(|(name, _)| name.clone()).unwrap();
    let health = {
        let pick = pick.clone();
        READS
            .measure(move |caller| {
                let mut client = HealthClient::new(pick(caller));
                async move { client.check(HealthCheckRequest::default()).await.is_ok() }
            })
            .await
    };
    let schedule = {
        let (pick, token) = (pick.clone(), token.clone());
        READS
            .measure(move |caller| {
                let mut client = GrantsServiceClient::new(pick(caller));
                let request = with_token(
                    GetLoanScheduleRequest {
                        application: with_loan.clone(),
                    },
                    &token,
                );
                async move {
                    client
                        .get_loan_schedule(request)
                        .await
                        .is_ok_and(|r| r.into_inner().lines.len() == 180)
                }
            })
            .await
    };
    let baseline = match backend {
        Engine::Postgres => pgbench(CALLERS, WRITES.window, PGBENCH_SCALE).await,
        Engine::Sqlite => None,
    };

    println!("\n### {label}\n");
    println!(
        "{} applications submitted in two windows (the first measured); {decided} of them decided in the third.\n",
        submitted.len()
    );
    if decided >= submitted.len() {
        println!("**The approvals ran out of applications: their figure is too low.**\n");
    }
    println!("| workload | calls | calls/s | ratio to baseline | p50 | p99 | failures |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let (writes_baseline, writes_note) = match baseline {
        Some(tps) => {
            println!(
                "| pgbench -b tpcb-like -s {PGBENCH_SCALE}, {CALLERS} clients (baseline) | | {tps:.0} | 1.00 | | | |"
            );
            (tps, "")
        }
        None => (2000.0, " (ratio to the 2,000/s target)"),
    };
    println!(
        "{}",
        submit.row(
            &format!("SubmitApplication, {CALLERS} callers{writes_note}"),
            writes_baseline
        )
    );
    println!(
        "{}",
        decide.row(
            &format!("DecideApplication, {CALLERS} callers{writes_note}"),
            writes_baseline
        )
    );
    println!(
        "{}",
        health.row("health check, 1 caller (baseline)", health.per_second)
    );
    println!(
        "{}",
        schedule.row("GetLoanSchedule (180 lines), 1 caller", health.per_second)
    );
}

fn main() {
    aimaq_bench::on_both_backends(run);
}
