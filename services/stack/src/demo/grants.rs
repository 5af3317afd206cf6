//! Demo data of the grants service: the MCI and the programme's terms as they
//! changed, the regions' quotas, the published national totals of 2009–2024
//! (loaded as marked aggregates), and a few thousand applications in every
//! status, made through the API from real rural villages of the classifier.
//! Everything is derived by a fixed hash, so every run is the same.

use aimaq_proto::common::v1::Date;
use aimaq_proto::governance::v1::{TerritoryInput, TerritoryKind};
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_types::{Iin, Kato};
use futures::{StreamExt, TryStreamExt, stream};
use tonic::Status;
use tonic::transport::Channel;

use super::mix;

/// MCI in tenge by the date it took effect (2022 had two).
const MCI: [((i32, i32), i64); 19] = [
    ((2009, 1), 1296),
    ((2010, 1), 1413),
    ((2011, 1), 1512),
    ((2012, 1), 1618),
    ((2013, 1), 1731),
    ((2014, 1), 1852),
    ((2015, 1), 1982),
    ((2016, 1), 2121),
    ((2017, 1), 2269),
    ((2018, 1), 2405),
    ((2019, 1), 2525),
    ((2020, 1), 2778),
    ((2021, 1), 2917),
    ((2022, 1), 3063),
    ((2022, 4), 3180),
    ((2023, 1), 3450),
    ((2024, 1), 3692),
    ((2025, 1), 3932),
    ((2026, 1), 4325),
];

/// The terms by the date they took effect: allowance MCI, loan cap MCI, and
/// what the sources say of the date.
const TERMS: [((i32, i32), i32, i32, &str); 4] = [
    (
        (2009, 1),
        70,
        1500,
        "Programme rules of 2009: a 70 MCI allowance and loans up to 1,500 MCI. Stated.",
    ),
    (
        (2018, 1),
        100,
        1500,
        "Known: a government release of September 2016 still gives 70 MCI (148.4 thousand tenge); 100 MCI is in force by 2019. Assumed: the change took effect on 1 January 2018 (its date is not in the sources used).",
    ),
    (
        (2024, 1),
        100,
        2000,
        "Loan cap of 2,000 MCI from 2024. Stated.",
    ),
    (
        (2025, 10),
        100,
        2500,
        "Loan cap of 2,500 MCI from late 2025. Stated; the day (1 October) is assumed.",
    ),
];

/// National allowances and housing loans by year. The totals are published:
/// about 95,000 and 45,000 for 2009–2022 (March 2023), just over 114,000 and
/// up to 52,000 for 2009–2024; the breakdown by year is the demo's, and sums
/// to 95,000 / 45,000 and 114,200 / 51,800.
const PUBLISHED: [(i32, i64, i64); 16] = [
    (2009, 4_100, 1_500),
    (2010, 5_600, 2_700),
    (2011, 6_200, 3_000),
    (2012, 6_500, 3_200),
    (2013, 6_800, 3_300),
    (2014, 7_000, 3_400),
    (2015, 7_100, 3_500),
    (2016, 7_200, 3_500),
    (2017, 7_300, 3_600),
    (2018, 7_500, 3_600),
    (2019, 7_600, 3_600),
    (2020, 7_200, 3_400),
    (2021, 7_400, 3_400),
    (2022, 7_500, 3_300),
    (2023, 9_500, 3_500),
    (2024, 9_700, 3_300),
];

/// Average housing loan of the published years, in MCI.
const AVERAGE_LOAN_MCI: i64 = 1200;
const APPLICATIONS: usize = 2000;
const QUOTA_ALLOWANCES: i32 = 400;
const QUOTA_LOANS_TENGE: i64 = 4_000_000_000;
const CONCURRENT_APPLICATIONS: usize = 8;

/// Fields in the proportions the demo draws them, in percent.
const FIELDS: [(Field, u64); 7] = [
    (Field::Education, 35),
    (Field::Healthcare, 25),
    (Field::AgroIndustrial, 15),
    (Field::Culture, 8),
    (Field::Sport, 7),
    (Field::SocialSecurity, 5),
    (Field::AkimOfficeCivilService, 5),
];

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn mci_on(year: i32) -> i64 {
    MCI.iter()
        .rev()
        .find(|((y, _), _)| *y <= year)
        .map_or(MCI[0].1, |(_, tenge)| *tenge)
}

fn field(key: u64) -> Field {
    let mut roll = key % 100;
    for (field, percent) in FIELDS {
        if roll < percent {
            return field;
        }
        roll -= percent;
    }
    Field::Education
}

/// A mostly young applicant's IIN: born 1986–2003, weighted to the late 1990s.
fn applicant(key: u64) -> Option<String> {
    (0..50u64).find_map(|attempt| {
        let h = mix(key ^ (attempt << 48));
        let year = 2003 - (((h % 10) * (h % 10)) / 5) as i32 - ((h >> 8) % 3) as i32;
        let (yy, century) = if year >= 2000 {
            (year - 2000, 5 + (h >> 12) % 2)
        } else {
            (year - 1900, 3 + (h >> 12) % 2)
        };
        let month = 1 + (h >> 16) % 12;
        let day = 1 + (h >> 24) % 28;
        let serial = (h >> 32) % 10_000;
        Iin::complete(&format!("{yy:02}{month:02}{day:02}{century}{serial:04}"))
            .map(|iin| iin.to_string())
    })
}

/// What happens to one demo application after it is submitted.
#[derive(Clone, Copy)]
enum Outcome {
    Submitted,
    Rejected,
    Approved,
    Active,
    Completed,
    Breached,
}

fn outcome(key: u64) -> Outcome {
    match key % 100 {
        0..10 => Outcome::Submitted,
        10..20 => Outcome::Rejected,
        20..32 => Outcome::Approved,
        32..80 => Outcome::Active,
        80..92 => Outcome::Completed,
        _ => Outcome::Breached,
    }
}

struct Demo {
    client: GrantsServiceClient<Channel>,
    token: String,
}

impl Demo {
    fn request<T>(&self, message: T) -> Result<tonic::Request<T>, Status> {
        super::authorized(message, &self.token)
    }

    async fn terms(&self, regions: &[String]) -> Result<(), Status> {
        let mut client = self.client.clone();
        for ((year, month), tenge) in MCI {
            client
                .set_mci_rate(self.request(SetMciRateRequest {
                    request_id: format!("demo-mci-{year}-{month}"),
                    rate: Some(MciRate {
                        effective_from: date(year, month, 1),
                        value_tiyn: tenge * 100,
                        source: format!("Law on the republican budget for {year}"),
                        version: 0,
                    }),
                    expected_version: 0,
                })?)
                .await?;
        }
        for ((year, month), allowance, cap, source) in TERMS {
            client
                .set_policy(self.request(SetPolicyRequest {
                    request_id: format!("demo-terms-{year}-{month}"),
                    policy: Some(Policy {
                        effective_from: date(year, month, 1),
                        allowance_mci: allowance,
                        loan_cap_mci: cap,
                        loan_rate_bp: 1,
                        max_term_months: 180,
                        obligation_months: 36,
                        eligible_fields: FIELDS.iter().map(|(f, _)| *f as i32).collect(),
                        source: source.into(),
                        version: 0,
                    }),
                    expected_version: 0,
                })?)
                .await?;
        }
        for region in regions {
            for year in [2025, 2026] {
                client
                    .set_quota(self.request(SetQuotaRequest {
                        request_id: format!("demo-quota-{region}-{year}"),
                        region_kato: region.clone(),
                        year,
                        allowance_count: QUOTA_ALLOWANCES,
                        loan_amount_tiyn: QUOTA_LOANS_TENGE * 100,
                        expected_version: 0,
                    })?)
                    .await?;
            }
        }
        for (year, allowances, loans) in PUBLISHED {
            let allowance_mci = TERMS
                .iter()
                .rev()
                .find(|((y, _), ..)| *y <= year)
                .map_or(100, |(_, a, ..)| i64::from(*a));
            let mci = mci_on(year) * 100;
            client
                .load_historical_aggregate(self.request(LoadHistoricalAggregateRequest {
                    request_id: format!("demo-published-{year}"),
                    year,
                    region_kato: String::new(),
                    totals: Some(GrantTotals {
                        allowances,
                        allowances_tiyn: allowances * allowance_mci * mci,
                        loans,
                        loans_tiyn: loans * AVERAGE_LOAN_MCI * mci,
                    }),
                    source: "Published totals: about 95,000 allowances and 45,000 housing loans in 2009-2022 (March 2023); over 114,000 and up to 52,000 in 2009-2024. The breakdown by year is the demo's and sums to those totals.".into(),
                })?)
                .await?;
        }
        Ok(())
    }

    /// One application through to its outcome.
    async fn application(&self, n: usize, village: &str) -> Result<(), Status> {
        let Some(case) = Case::drawn(n) else {
            return Ok(());
        };
        let Some(submitted) = self.submit(&case, village).await? else {
            return Ok(());
        };
        if matches!(case.outcome, Outcome::Submitted) {
            return Ok(());
        }
        let decided = self.decide(&case, submitted).await?;
        if matches!(case.outcome, Outcome::Rejected | Outcome::Approved) {
            return Ok(());
        }
        let mut current = decided;
        let kinds = [PaymentKind::Allowance, PaymentKind::LoanDisbursement];
        for kind in kinds.into_iter().take(if case.wants_loan { 2 } else { 1 }) {
            current = answered(
                self.client
                    .clone()
                    .record_payment(self.request(RecordPaymentRequest {
                        request_id: format!("demo-payment-{}-{}", case.n, kind as i32),
                        application: current.name.clone(),
                        kind: kind as i32,
                        payment_date: date(case.year, 5, 1),
                        payment_reference: format!("KZ-{:06}-{}", case.n, kind as i32),
                        expected_version: current.version,
                    })?)
                    .await?
                    .into_inner()
                    .application,
            )?;
        }
        let departure = match case.outcome {
            Outcome::Completed => date(2025, 9, 1),
            Outcome::Breached => date(2026, 6, 1),
            _ => return Ok(()),
        };
        self.client
            .clone()
            .record_departure(self.request(RecordDepartureRequest {
                request_id: format!("demo-departure-{}", case.n),
                application: current.name.clone(),
                departure_date: departure,
                reason: "Left the village job".into(),
                expected_version: current.version,
            })?)
            .await?;
        Ok(())
    }

    /// Submits the case's application; `None` when its generated IIN was taken.
    async fn submit(&self, case: &Case, village: &str) -> Result<Option<Application>, Status> {
        let n = case.n;
        let submitted = self
            .client
            .clone()
            .submit_application(self.request(SubmitApplicationRequest {
                request_id: format!("demo-application-{n}"),
                iin: case.iin.clone(),
                full_name: format!("Specialist {n:04}"),
                field: case.field as i32,
                diploma: Some(Diploma {
                    level: DiplomaLevel::Bachelor as i32,
                    speciality: format!("{:?}", case.field),
                    year: 2021,
                    institution: "Regional university".into(),
                }),
                settlement_kato: village.to_owned(),
                employer: "Village organisation".into(),
                start_date: case.start,
                allowance_requested: true,
                loan_requested: case.wants_loan.then_some(LoanRequest {
                    amount_tiyn: case.loan_tenge * 100,
                    term_months: 180,
                }),
                validate_only: false,
            })?)
            .await;
        match submitted {
            Ok(answer) => answered(answer.into_inner().application).map(Some),
            // Two generated applicants may share an IIN: the second is refused.
            Err(status) if status.code() == tonic::Code::FailedPrecondition => Ok(None),
            Err(status) => Err(status),
        }
    }

    /// Approves the case's application, or rejects it when that is its outcome.
    async fn decide(&self, case: &Case, submitted: Application) -> Result<Application, Status> {
        let reject = matches!(case.outcome, Outcome::Rejected);
        let decision = if reject {
            Decision::Reject
        } else {
            Decision::Approve
        };
        let answer = self
            .client
            .clone()
            .decide_application(self.request(DecideApplicationRequest {
                request_id: format!("demo-decision-{}", case.n),
                application: submitted.name.clone(),
                decision: decision as i32,
                decision_date: date(case.year, 4, 15),
                grant_allowance: !reject,
                grant_loan: (!reject && case.wants_loan).then_some(LoanRequest {
                    amount_tiyn: case.loan_tenge.min(5_000_000) * 100,
                    term_months: 180,
                }),
                reason: if reject {
                    "The employer is not in a rural settlement".into()
                } else {
                    String::new()
                },
                expected_version: submitted.version,
            })?)
            .await?;
        answered(answer.into_inner().application)
    }

    async fn statistics(&self) -> Result<GrantTotals, Status> {
        self.client
            .clone()
            .get_statistics(self.request(GetStatisticsRequest::default())?)
            .await?
            .into_inner()
            .national_since_2009
            .ok_or_else(|| Status::internal("no national totals"))
    }
}

/// Loads the grants demo data over the classifier's rural villages.
pub async fn grants(
    client: GrantsServiceClient<Channel>,
    token: &str,
    classifier: &[TerritoryInput],
) -> Result<Vec<String>, Status> {
    let demo = Demo {
        client,
        token: token.to_owned(),
    };
    let regions: Vec<String> = classifier
        .iter()
        .filter(|t| Kato::parse(&t.kato).is_ok_and(|k| k.level() == 1))
        .map(|t| t.kato.clone())
        .collect();
    demo.terms(&regions).await?;
    let villages: Vec<&str> = classifier
        .iter()
        .filter(|t| t.kind == TerritoryKind::Village as i32 && t.rural)
        .map(|t| t.kato.as_str())
        .collect();
    if !villages.is_empty() {
        let demo = &demo;
        let villages = &villages;
        stream::iter(0..APPLICATIONS)
            .map(|n| async move {
                let village = villages[(mix(n as u64 ^ 0x7111) % villages.len() as u64) as usize];
                demo.application(n, village).await
            })
            .buffer_unordered(CONCURRENT_APPLICATIONS)
            .try_collect::<Vec<()>>()
            .await?;
    }
    let national = demo.statistics().await?;
    Ok(vec![format!(
        "grants: MCI 2009-2026 (two values in 2022), terms history, quotas 2025-2026; {APPLICATIONS} applications in every status; since 2009: {} allowances, {} housing loans",
        national.allowances, national.loans
    )])
}
/// One demo application, drawn from its number: who applies, for what, and
/// how far it gets.
struct Case {
    n: usize,
    iin: String,
    outcome: Outcome,
    field: Field,
    wants_loan: bool,
    loan_tenge: i64,
    start: Option<Date>,
    /// The year it is decided and paid in.
    year: i32,
}

impl Case {
    fn drawn(n: usize) -> Option<Case> {
        let key = mix(0x6a9a ^ (n as u64) << 16);
        let iin = applicant(key)?;
        let outcome = outcome(mix(key ^ 1));
        // Completed applications started early enough to serve 36 months.
        let (start, year) = match outcome {
            Outcome::Completed => (date(2022, 8, 1), 2025),
            _ => (date(2025, 3, 1), 2025 + (n % 2) as i32),
        };
        Some(Case {
            n,
            iin,
            outcome,
            field: field(mix(key ^ 2)),
            wants_loan: mix(key ^ 3) % 100 < 45,
            loan_tenge: 3_000_000 + (mix(key ^ 4) % 5_000_000) as i64,
            start,
            year,
        })
    }
}

/// The application an answer must carry.
fn answered(application: Option<Application>) -> Result<Application, Status> {
    application.ok_or_else(|| Status::internal("no application in the answer"))
}
