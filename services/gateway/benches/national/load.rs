//! Loading the nation: the classifier, statuses of every settlement,
//! projects, decided applications and revenues, each through the services'
//! own RPCs.

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::{Date, LocalizedText};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{RecordRevenueRequest, RevenueSource, TerritoryKind};
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::with_token;
use aimaq_types::{Iin, Kato};
use futures::{StreamExt, TryStreamExt, stream};
use std::future::Future;
use tonic::transport::Channel;

use super::Servers;

pub const PROGRAM: &str = "NATIONAL";
pub const PROJECT_YEARS: std::ops::RangeInclusive<i32> = 2019..=2026;
pub const DECISION_YEARS: std::ops::RangeInclusive<i32> = 2009..=2026;
pub const STANDARDS: [&str; 7] = [
    "SCHOOL",
    "MEDICAL_POST",
    "DRINKING_WATER",
    "PAVED_ROAD",
    "INTERNET",
    "CULTURE_HOUSE",
    "SPORTS_GROUND",
];
/// An envelope: within the bound of one amount; allocations are fractions.
pub const BIG: i64 = 1 << 49;

/// Divides the projects and applications loaded (`AIMAQ_BENCH_SCALE`).
pub fn scale() -> usize {
    std::env::var("AIMAQ_BENCH_SCALE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// The classifier's territories by level.
pub struct Nation {
    pub rows: Vec<aimaq_proto::governance::v1::TerritoryInput>,
    pub regions: Vec<Kato>,
    pub districts: Vec<Kato>,
    pub rural_districts: Vec<Kato>,
    /// Settlements whose district is in the classifier, with that district.
    pub settlements: Vec<(Kato, Kato)>,
}

impl Nation {
    pub fn read() -> Nation {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/kato-2022.csv");
        let rows = aimaq_governance::classifier::read(&path).unwrap();
        let of = |kinds: &[TerritoryKind]| -> Vec<Kato> {
            rows.iter()
                .filter(|t| kinds.iter().any(|k| *k as i32 == t.kind))
                .filter_map(|t| Kato::parse(&t.kato).ok())
                .collect()
        };
        let regions = of(&[TerritoryKind::Region]);
        // Districts of regions (not the districts of a city).
        let districts: Vec<Kato> = of(&[TerritoryKind::District])
            .into_iter()
            .filter(|d| d.level() == 2 && regions.contains(&d.region()))
            .collect();
        let rural_districts = of(&[TerritoryKind::RuralDistrict]);
        // Rural settlements: where standards, projects and specialists are.
        let settlements = rows
            .iter()
            .filter(|t| t.rural)
            .filter(|t| {
                [TerritoryKind::Village, TerritoryKind::Settlement]
                    .iter()
                    .any(|k| *k as i32 == t.kind)
            })
            .filter_map(|t| Kato::parse(&t.kato).ok())
            .map(|k| (k, k.district()))
            .filter(|(k, d)| *d != k.region() && districts.contains(d))
            .collect();
        Nation {
            rows,
            regions,
            districts,
            rural_districts,
            settlements,
        }
    }
}

/// A number from `n` that looks random and is the same on every run.
pub fn spread(n: usize) -> usize {
    n.wrapping_mul(2_654_435_761) % 1_000_003
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// Runs `calls` with at most `at_once` in flight, each one required to succeed.
async fn all<F, T>(at_once: usize, calls: impl Iterator<Item = F>)
where
    F: Future<Output = Result<T, tonic::Status>>,
{
    stream::iter(calls)
        .buffer_unordered(at_once)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
}

pub async fn load_territories(servers: &Servers, token: &str, nation: &Nation) {
    let mut registry = GovernanceServiceClient::new(servers.governance.channel().await);
    aimaq_governance::classifier::import(&mut registry, token, "national", nation.rows.clone())
        .await
        .unwrap();
    let calls = nation
        .rural_districts
        .iter()
        .enumerate()
        .flat_map(|(n, rural)| {
            [2024, 2025].map(|year| {
                let mut registry = registry.clone();
                let request = RecordRevenueRequest {
                    request_id: format!("revenue-{year}-{rural}"),
                    territory_kato: rural.to_string(),
                    fiscal_year: year,
                    source: RevenueSource::LandTax as i32,
                    amount_tiyn: 100_000_000 + (spread(n) as i64) * 1_000,
                    note: String::new(),
                    validate_only: false,
                };
                let request = with_token(request, token);
                async move { registry.record_revenue(request).await }
            })
        });
    all(8, calls).await;
}

pub async fn load_statuses(client: &BudgetServiceClient<Channel>, token: &str, nation: &Nation) {
    let statuses: Vec<StandardStatusInput> = nation
        .settlements
        .iter()
        .enumerate()
        .flat_map(|(n, (settlement, _))| {
            STANDARDS.iter().enumerate().map(move |(s, code)| {
                let draw = spread(n * 7 + s) % 10;
                StandardStatusInput {
                    settlement_kato: settlement.to_string(),
                    standard_code: (*code).into(),
                    applicable: draw != 0,
                    met: draw > 3,
                }
            })
        })
        .collect();
    let calls = statuses.chunks(1000).enumerate().map(|(n, batch)| {
        let mut client = client.clone();
        let request = ImportStandardStatusesRequest {
            request_id: format!("statuses-{n}"),
            statuses: batch.to_vec(),
            validate_only: false,
        };
        let request = with_token(request, token);
        async move { client.import_standard_statuses(request).await }
    });
    all(2, calls).await;
}

pub async fn load_projects(client: &BudgetServiceClient<Channel>, token: &str, nation: &Nation) {
    let program = Program {
        code: PROGRAM.into(),
        title: Some(LocalizedText {
            ru: "Национальная нагрузка".into(),
            ..Default::default()
        }),
        kind: ProgramKind::RuralInfrastructure as i32,
        funding_source: FundingSource::NationalBudget as i32,
        first_year: *PROJECT_YEARS.start(),
        last_year: *PROJECT_YEARS.end(),
        ..Program::default()
    };
    let request = CreateProgramRequest {
        request_id: "program".into(),
        program: Some(program),
    };
    client
        .clone()
        .create_program(with_token(request, token))
        .await
        .unwrap();
    let envelopes = PROJECT_YEARS.map(|year| {
        let mut client = client.clone();
        let request = SetEnvelopeRequest {
            request_id: format!("envelope-{year}"),
            program_code: PROGRAM.into(),
            fiscal_year: year,
            amount_tiyn: BIG,
            expected_version: 0,
        };
        let request = with_token(request, token);
        async move { client.set_envelope(request).await }
    });
    all(4, envelopes).await;
    let years: Vec<i32> = PROJECT_YEARS.collect();
    for (level, codes, amount) in [
        (1, &nation.regions, BIG >> 6),
        (2, &nation.districts, BIG >> 12),
    ] {
        let calls = years.iter().flat_map(|year| {
            codes.iter().map(move |kato| {
                let mut client = client.clone();
                let request = AllocateRequest {
                    request_id: format!("allocate-{level}-{year}-{kato}"),
                    program_code: PROGRAM.into(),
                    fiscal_year: *year,
                    territory_kato: kato.to_string(),
                    amount_tiyn: amount,
                };
                let request = with_token(request, token);
                async move { client.allocate(request).await }
            })
        });
        all(8, calls).await;
    }
    let projects: Vec<ImportedProject> = (0..100_000 / scale())
        .map(|n| {
            let (settlement, district) = nation.settlements[spread(n) % nation.settlements.len()];
            let year = years[n % years.len()];
            let status = [
                ProjectStatus::Completed,
                ProjectStatus::InProgress,
                ProjectStatus::Approved,
                ProjectStatus::Planned,
                ProjectStatus::Cancelled,
            ][n % 5];
            ImportedProject {
                allocation: format!("allocations/{PROGRAM}/{year}/{district}"),
                settlement_kato: settlement.to_string(),
                category: ProjectCategory::EngineeringInfrastructure as i32,
                title: format!("Project {n}"),
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
    let calls = projects.chunks(500).enumerate().map(|(n, batch)| {
        let mut client = client.clone();
        let request = ImportProjectsRequest {
            request_id: format!("projects-{n}"),
            projects: batch.to_vec(),
            validate_only: false,
        };
        let request = with_token(request, token);
        async move { client.import_projects(request).await }
    });
    all(2, calls).await;
}

/// An MCI value for each year (a load figure, not the published one), one
/// policy for every year, and quotas no decision exceeds.
async fn grant_terms(client: &GrantsServiceClient<Channel>, token: &str, nation: &Nation) {
    let rates = DECISION_YEARS.map(|year| {
        let mut client = client.clone();
        let rate = MciRate {
            effective_from: date(year, 1, 1),
            value_tiyn: i64::from(1_273 + (year - 2009) * 180) * 100,
            source: "Benchmark load".into(),
            version: 0,
        };
        let request = SetMciRateRequest {
            request_id: format!("mci-{year}"),
            rate: Some(rate),
            expected_version: 0,
        };
        let request = with_token(request, token);
        async move { client.set_mci_rate(request).await }
    });
    all(1, rates).await;
    let policy = Policy {
        effective_from: date(2009, 1, 1),
        allowance_mci: 100,
        loan_cap_mci: 1500,
        loan_rate_bp: 1,
        max_term_months: 180,
        obligation_months: 36,
        eligible_fields: vec![Field::Healthcare as i32, Field::Education as i32],
        source: "Benchmark load".into(),
        version: 0,
    };
    let request = SetPolicyRequest {
        request_id: "policy".into(),
        policy: Some(policy),
        expected_version: 0,
    };
    client
        .clone()
        .set_policy(with_token(request, token))
        .await
        .unwrap();
    let quotas = DECISION_YEARS.flat_map(|year| {
        nation.regions.iter().map(move |region| {
            let mut client = client.clone();
            let request = SetQuotaRequest {
                request_id: format!("quota-{year}-{region}"),
                region_kato: region.to_string(),
                year,
                allowance_count: aimaq_types::bounds::MAX_PEOPLE as i32,
                loan_amount_tiyn: aimaq_types::bounds::MAX_AMOUNT_TIYN,
                expected_version: 0,
            };
            let request = with_token(request, token);
            async move { client.set_quota(request).await }
        })
    });
    all(8, quotas).await;
}

/// A valid IIN of someone born in 1975, numbered `n`; some numbers have no
/// valid check digit.
fn iin(n: usize) -> Option<String> {
    let day_of_year = (n / 10_000) % 336;
    let (month, day) = (1 + day_of_year / 28, 1 + day_of_year % 28);
    Iin::complete(&format!("75{month:02}{day:02}3{:04}", n % 10_000)).map(|i| i.to_string())
}

/// Submits and decides one application: refused one time in ten, a loan one
/// time in three.
async fn apply(
    client: &mut GrantsServiceClient<Channel>,
    token: &str,
    n: usize,
    iin: String,
    settlement: Kato,
) -> Result<(), tonic::Status> {
    let loan = n.is_multiple_of(3).then_some(LoanRequest {
        amount_tiyn: 100_000_000,
        term_months: 120,
    });
    let submit = SubmitApplicationRequest {
        request_id: format!("submit-{n}"),
        iin,
        full_name: format!("Specialist {n}"),
        field: [Field::Healthcare, Field::Education][n % 2] as i32,
        diploma: Some(Diploma {
            level: DiplomaLevel::Bachelor as i32,
            speciality: "General medicine".into(),
            year: 2008,
            institution: "Medical university".into(),
        }),
        settlement_kato: settlement.to_string(),
        employer: "Village clinic".into(),
        start_date: date(2009, 1, 15),
        allowance_requested: true,
        loan_requested: loan,
        validate_only: false,
    };
    let application = client
        .submit_application(with_token(submit, token))
        .await?
        .into_inner()
        .application
        .unwrap();
    let years: Vec<i32> = DECISION_YEARS.collect();
    let refused = n % 10 == 9;
    let decide = DecideApplicationRequest {
        request_id: format!("decide-{n}"),
        application: application.name,
        decision: (if refused {
            Decision::Reject
        } else {
            Decision::Approve
        }) as i32,
        decision_date: date(years[spread(n) % years.len()], 3, 1 + (n % 28) as i32),
        grant_allowance: !refused,
        grant_loan: loan.filter(|_| !refused),
        reason: if refused {
            "Not a rural employer".into()
        } else {
            String::new()
        },
        expected_version: application.version,
    };
    client.decide_application(with_token(decide, token)).await?;
    Ok(())
}

pub async fn load_applications(
    client: &GrantsServiceClient<Channel>,
    token: &str,
    nation: &Nation,
) {
    grant_terms(client, token, nation).await;
    let calls = (0..)
        .filter_map(|n| iin(n).map(|iin| (n, iin)))
        .take(150_000 / scale())
        .map(|(n, iin)| {
            let mut client = client.clone();
            let settlement = nation.settlements[spread(n + 17) % nation.settlements.len()].0;
            async move { apply(&mut client, token, n, iin, settlement).await }
        });
    all(32, calls).await;
}
