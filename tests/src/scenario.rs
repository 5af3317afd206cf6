//! One scenario per backend, run through whatever channel is given (a
//! gateway's): what the views and reports then show.

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::{Date, LocalizedText};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::{TestServer, with_token};
use aimaq_types::Iin;
use chrono::Datelike;
use tonic::transport::Channel;

pub const VILLAGE: &str = "613633100";
pub const RURAL_DISTRICT: &str = "613633000";
pub const DISTRICT: &str = "613600000";
pub const REGION: &str = "610000000";
pub const TIYN: i64 = 100;

pub async fn channel(server: &TestServer) -> Channel {
    server.channel().await
}

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub fn this_year() -> i32 {
    chrono::Utc::now().year()
}

pub fn today() -> Option<Date> {
    let now = chrono::Utc::now();
    date(now.year(), now.month() as i32, now.day() as i32)
}

/// Budget through the gateway: a programme, its envelope, the region's
/// allocation, and one project completed in the village (meeting SCHOOL there).
/// The programme "AUYL_EL_BESIGI" (2019–2030) with an envelope of
/// `envelope_tiyn` for this year.
pub async fn program_with_envelope(
    budget: &mut BudgetServiceClient<Channel>,
    token: &str,
    envelope_tiyn: i64,
) {
    budget
        .create_program(with_token(
            CreateProgramRequest {
                request_id: "program".into(),
                program: Some(Program {
                    code: "AUYL_EL_BESIGI".into(),
                    title: Some(LocalizedText {
                        ru: "Ауыл – Ел бесігі".into(),
                        en: "Auyl – El Besigi".into(),
                        ..LocalizedText::default()
                    }),
                    kind: ProgramKind::RuralInfrastructure as i32,
                    funding_source: FundingSource::NationalBudget as i32,
                    first_year: 2019,
                    last_year: 2030,
                    ..Program::default()
                }),
            },
            token,
        ))
        .await
        .unwrap();
    budget
        .set_envelope(with_token(
            SetEnvelopeRequest {
                request_id: "envelope".into(),
                program_code: "AUYL_EL_BESIGI".into(),
                fiscal_year: this_year(),
                amount_tiyn: envelope_tiyn,
                expected_version: 0,
            },
            token,
        ))
        .await
        .unwrap();
}

pub async fn budget_scenario(channel: Channel, token: &str) {
    let mut budget = BudgetServiceClient::new(channel);
    let year = this_year();
    program_with_envelope(&mut budget, token, 1000 * TIYN).await;
    let allocation = budget
        .allocate(with_token(
            AllocateRequest {
                request_id: "allocate".into(),
                program_code: "AUYL_EL_BESIGI".into(),
                fiscal_year: year,
                territory_kato: REGION.into(),
                amount_tiyn: 500 * TIYN,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .allocation
        .unwrap();
    budget
        .record_standard_status(with_token(
            RecordStandardStatusRequest {
                request_id: "school-applies".into(),
                settlement_kato: VILLAGE.into(),
                standard_code: "SCHOOL".into(),
                applicable: true,
                met: false,
            },
            token,
        ))
        .await
        .unwrap();
    let mut project = budget
        .create_project(with_token(
            CreateProjectRequest {
                request_id: "project".into(),
                allocation: allocation.name,
                settlement_kato: VILLAGE.into(),
                category: ProjectCategory::SocialInfrastructure as i32,
                title: "School for 300 pupils".into(),
                borrower_id: String::new(),
                cost_tiyn: 300 * TIYN,
                standard_codes: vec!["SCHOOL".into()],
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .project
        .unwrap();
    for (step, to) in [
        ("approve", ProjectStatus::Approved),
        ("start", ProjectStatus::InProgress),
        ("pay", ProjectStatus::InProgress),
        ("complete", ProjectStatus::Completed),
    ] {
        if step == "pay" {
            project = budget
                .record_disbursement(with_token(
                    RecordDisbursementRequest {
                        request_id: "pay".into(),
                        project: project.name.clone(),
                        amount_tiyn: 300 * TIYN,
                        payment_date: today(),
                        payment_reference: "PP-1".into(),
                    },
                    token,
                ))
                .await
                .unwrap()
                .into_inner()
                .project
                .unwrap();
            continue;
        }
        project = budget
            .transition_project(with_token(
                TransitionProjectRequest {
                    request_id: step.into(),
                    project: project.name.clone(),
                    to_status: to as i32,
                    expected_version: project.version,
                    reason: String::new(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .project
            .unwrap();
    }
    assert_eq!(project.status(), ProjectStatus::Completed);
}

/// The MCI rate and the policy of this year, and REGION's quota of
/// `allowances` allowances.
pub async fn grants_terms(grants: &mut GrantsServiceClient<Channel>, token: &str, allowances: i32) {
    let year = this_year();
    grants
        .set_mci_rate(with_token(
            SetMciRateRequest {
                request_id: "mci".into(),
                rate: Some(MciRate {
                    effective_from: date(year, 1, 1),
                    value_tiyn: 4325 * TIYN,
                    source: "Budget law".into(),
                    version: 0,
                }),
                expected_version: 0,
            },
            token,
        ))
        .await
        .unwrap();
    grants
        .set_policy(with_token(
            SetPolicyRequest {
                request_id: "policy".into(),
                policy: Some(Policy {
                    effective_from: date(2010, 1, 1),
                    allowance_mci: 100,
                    loan_cap_mci: 2500,
                    loan_rate_bp: 1,
                    max_term_months: 180,
                    obligation_months: 36,
                    eligible_fields: vec![Field::Healthcare as i32, Field::Education as i32],
                    source: "Government decree".into(),
                    version: 0,
                }),
                expected_version: 0,
            },
            token,
        ))
        .await
        .unwrap();
    grants
        .set_quota(with_token(
            SetQuotaRequest {
                request_id: "quota".into(),
                region_kato: REGION.into(),
                year,
                allowance_count: allowances,
                loan_amount_tiyn: 0,
                expected_version: 0,
            },
            token,
        ))
        .await
        .unwrap();
}

/// An application of a healthcare graduate to work in VILLAGE from today,
/// with an allowance, by the holder of the `serial`-th valid IIN of a birth date.
pub fn application(request_id: &str, serial: u32) -> SubmitApplicationRequest {
    let year = this_year();
    let iin = (serial * 10..)
        .find_map(|serial| Iin::complete(&format!("0003155{serial:04}")))
        .unwrap();
    SubmitApplicationRequest {
        request_id: request_id.into(),
        iin: iin.to_string(),
        full_name: "Aigerim Seitkali".into(),
        field: Field::Healthcare as i32,
        diploma: Some(Diploma {
            level: DiplomaLevel::Bachelor as i32,
            speciality: "General medicine".into(),
            year: year - 1,
            institution: "Astana Medical University".into(),
        }),
        settlement_kato: VILLAGE.into(),
        employer: "Village outpatient clinic".into(),
        start_date: today(),
        allowance_requested: true,
        loan_requested: None,
        validate_only: false,
    }
}

/// Approves `application` today with its allowance.
pub fn approval(request_id: &str, application: &Application) -> DecideApplicationRequest {
    DecideApplicationRequest {
        request_id: request_id.into(),
        application: application.name.clone(),
        decision: Decision::Approve as i32,
        decision_date: today(),
        grant_allowance: true,
        grant_loan: None,
        reason: String::new(),
        expected_version: application.version,
    }
}

/// Grants through the gateway: terms, a quota, and one application approved
/// today and its allowance paid.
pub async fn grants_scenario(channel: Channel, token: &str) {
    let mut grants = GrantsServiceClient::new(channel);
    grants_terms(&mut grants, token, 10).await;
    let application = grants
        .submit_application(with_token(application("apply", 0), token))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let application = grants
        .decide_application(with_token(approval("decide", &application), token))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    grants
        .record_payment(with_token(
            RecordPaymentRequest {
                request_id: "paid".into(),
                application: application.name.clone(),
                kind: PaymentKind::Allowance as i32,
                payment_date: today(),
                payment_reference: "PP-2".into(),
                expected_version: application.version,
            },
            token,
        ))
        .await
        .unwrap();
}

/// An archival election of VILLAGE's akim (plurality) with `stations` and
/// two candidates; the election and the candidates' names.
pub async fn election_with_candidates(
    governance: &mut GovernanceServiceClient<Channel>,
    token: &str,
    stations: Vec<PollingStation>,
) -> (Election, Vec<String>) {
    let election = governance
        .schedule_election(with_token(
            ScheduleElectionRequest {
                request_id: "election".into(),
                territory_kato: VILLAGE.into(),
                office: ElectionOffice::RuralAkim as i32,
                call_date: date(2025, 6, 1),
                voting_date: date(2025, 8, 10),
                nomination_close_date: None,
                winner_rule: WinnerRule::Plurality as i32,
                pilot: false,
                polling_stations: stations,
                previous_election: String::new(),
                archival: true,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .election
        .unwrap();
    let mut candidates = Vec::new();
    for (n, born) in ["750314", "820607"].into_iter().enumerate() {
        let iin = (0..10)
            .find_map(|s| Iin::complete(&format!("{born}3{:04}", n * 10 + s)))
            .unwrap();
        let candidate = governance
            .register_candidate(with_token(
                RegisterCandidateRequest {
                    request_id: format!("candidate-{n}"),
                    election: election.name.clone(),
                    iin: iin.to_string(),
                    full_name: format!("Candidate {n}"),
                    nomination: Nomination::Self_ as i32,
                    party: String::new(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .candidate
            .unwrap();
        candidates.push(candidate.name);
    }
    (election, candidates)
}

/// A first protocol of `station`: `first` votes for the first candidate, 200
/// for the second, 50 against all and 10 spoiled of 700 ballots.
pub fn protocol(
    request_id: &str,
    election: &str,
    station: i32,
    candidates: &[String],
    first: i64,
) -> SubmitProtocolRequest {
    SubmitProtocolRequest {
        request_id: request_id.into(),
        election: election.into(),
        station_number: station,
        ballots_issued: 700,
        candidate_votes: candidates
            .iter()
            .zip([first, 200])
            .map(|(candidate, votes)| CandidateVotes {
                candidate: candidate.clone(),
                votes,
            })
            .collect(),
        against_all: 50,
        spoiled: 10,
        expected_version: 0,
        correction_reason: String::new(),
    }
}

/// Governance through the gateway: the village's akim election run to
/// certification (from the archive), and the rural district's revenue.
pub async fn governance_scenario(channel: Channel, token: &str) -> Election {
    let mut governance = GovernanceServiceClient::new(channel);
    let stations = vec![PollingStation {
        number: 1,
        address: "School No. 1".into(),
        registered_voters: 1000,
        ..PollingStation::default()
    }];
    let (election, candidates) = election_with_candidates(&mut governance, token, stations).await;
    let asked = protocol("protocol", &election.name, 1, &candidates, 400);
    governance
        .submit_protocol(with_token(asked, token))
        .await
        .unwrap();
    governance
        .certify_election(with_token(
            CertifyElectionRequest {
                request_id: "certify".into(),
                election: election.name.clone(),
                expected_version: 0,
                term_start: date(2025, 8, 15),
            },
            token,
        ))
        .await
        .unwrap();
    let year = this_year();
    for (fiscal_year, tenge) in [
        (2019, 1_000_000),
        (year - 2, 1_000_000),
        (year - 1, 3_500_000),
    ] {
        governance
            .record_revenue(with_token(
                RecordRevenueRequest {
                    request_id: format!("revenue-{fiscal_year}"),
                    territory_kato: RURAL_DISTRICT.into(),
                    fiscal_year,
                    source: RevenueSource::LandTax as i32,
                    amount_tiyn: tenge * TIYN,
                    note: String::new(),
                    validate_only: false,
                },
                token,
            ))
            .await
            .unwrap();
    }
    election
}
