//! The gateway in front of real governance, budget and grants servers: a whole
//! scenario through its one address, the views that show it, backends that stop,
//! hang and come back, and the protection every call passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aimaq_auth::Scope;
use aimaq_config::ServerConfig;
use aimaq_gateway::{AgencyRateLimit, BackendsConfig, GatewayConfig, RateConfig, Targets};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::{Date, LocalizedText};
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::gateway::v1::*;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::territories::governance_with;
use aimaq_testing::{TestDatabase, TestServer, TestTokens, with_token};
use aimaq_types::Iin;
use chrono::Datelike;
use tokio::net::TcpListener;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const VILLAGE: &str = "613633100";
const RURAL_DISTRICT: &str = "613633000";
const DISTRICT: &str = "613600000";
const REGION: &str = "610000000";
const TIYN: i64 = 100;

struct System {
    tokens: TestTokens,
    governance: TestServer,
    budget: TestServer,
    grants: Option<TestServer>,
    grants_address: SocketAddr,
}

async fn start_grants(
    address: SocketAddr,
    tokens: &TestTokens,
    governance_url: String,
) -> TestServer {
    TestServer::start_at(
        address,
        TestDatabase::sqlite().await,
        tokens,
        move |config, listener, shutdown| {
            aimaq_grants::run(config, governance_url, listener, shutdown)
        },
    )
    .await
}

impl System {
    async fn start() -> System {
        let tokens = TestTokens::new();
        let governance = governance_with(&tokens, aimaq_governance::run, &[]).await;
        let url = governance.url();
        let budget = TestServer::start(
            TestDatabase::sqlite().await,
            &tokens,
            move |config, listener, shutdown| aimaq_budget::run(config, url, listener, shutdown),
        )
        .await;
        let grants = start_grants(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            &tokens,
            governance.url(),
        )
        .await;
        System {
            grants_address: grants.address,
            tokens,
            governance,
            budget,
            grants: Some(grants),
        }
    }

    fn targets(&self) -> BackendsConfig {
        let fixed = |server: &TestServer| Targets::Fixed(vec![server.url()]);
        BackendsConfig {
            governance_url: fixed(&self.governance),
            budget_url: fixed(&self.budget),
            grants_url: Targets::Fixed(vec![format!("https://{}", self.grants_address)]),
            backend_connections: 2,
            backend_timeout: Duration::from_secs(5),
            // Every view read fresh: these tests watch backends change.
            view_max_age: Duration::ZERO,
        }
    }

    async fn gateway(
        &self,
        backends: BackendsConfig,
        rate: RateConfig,
        max_message_bytes: Option<usize>,
    ) -> TestServer {
        start_gateway(&self.tokens, backends, rate, max_message_bytes).await
    }
}

/// The gateway in front of `backends`, verifying the test tokens.
async fn start_gateway(
    tokens: &TestTokens,
    backends: BackendsConfig,
    rate: RateConfig,
    max_message_bytes: Option<usize>,
) -> TestServer {
    TestServer::start(
        TestDatabase::sqlite().await,
        tokens,
        move |config, listener, shutdown| {
            let mut limits = config.limits;
            if let Some(bytes) = max_message_bytes {
                limits.max_message_bytes = bytes;
            }
            let gateway = GatewayConfig::like(ServerConfig { limits, ..config }, backends, rate);
            aimaq_gateway::run(gateway, listener, shutdown)
        },
    )
    .await
}

fn generous() -> RateConfig {
    RateConfig {
        rate_limit: "10000/10000".parse().unwrap(),
        agency_rate_limits: Vec::new(),
    }
}

async fn channel(server: &TestServer) -> Channel {
    server.channel().await
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn this_year() -> i32 {
    chrono::Utc::now().year()
}

fn today() -> Option<Date> {
    let now = chrono::Utc::now();
    date(now.year(), now.month() as i32, now.day() as i32)
}

/// Budget through the gateway: a programme, its envelope, the region's
/// allocation, and one project completed in the village (meeting SCHOOL there).
async fn budget_scenario(channel: Channel, token: &str) {
    let mut budget = BudgetServiceClient::new(channel);
    let year = this_year();
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
                fiscal_year: year,
                amount_tiyn: 1000 * TIYN,
                expected_version: 0,
            },
            token,
        ))
        .await
        .unwrap();
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

/// Grants through the gateway: terms, a quota, and one application approved
/// today and its allowance paid.
async fn grants_scenario(channel: Channel, token: &str) {
    let mut grants = GrantsServiceClient::new(channel);
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
                allowance_count: 10,
                loan_amount_tiyn: 0,
                expected_version: 0,
            },
            token,
        ))
        .await
        .unwrap();
    let iin = (0..10)
        .find_map(|serial| Iin::complete(&format!("0003155{serial:04}")))
        .unwrap();
    let application = grants
        .submit_application(with_token(
            SubmitApplicationRequest {
                request_id: "apply".into(),
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
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let application = grants
        .decide_application(with_token(
            DecideApplicationRequest {
                request_id: "decide".into(),
                application: application.name.clone(),
                decision: Decision::Approve as i32,
                decision_date: today(),
                grant_allowance: true,
                grant_loan: None,
                reason: String::new(),
                expected_version: application.version,
            },
            token,
        ))
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

/// Governance through the gateway: the village's akim election run to
/// certification (from the archive), and the rural district's revenue.
async fn governance_scenario(channel: Channel, token: &str) -> Election {
    let mut governance = GovernanceServiceClient::new(channel);
    let stations = vec![PollingStation {
        number: 1,
        address: "School No. 1".into(),
        registered_voters: 1000,
        ..PollingStation::default()
    }];
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
    governance
        .submit_protocol(with_token(
            SubmitProtocolRequest {
                request_id: "protocol".into(),
                election: election.name.clone(),
                station_number: 1,
                ballots_issued: 700,
                candidate_votes: candidates
                    .iter()
                    .zip([400, 200])
                    .map(|(candidate, votes)| CandidateVotes {
                        candidate: candidate.clone(),
                        votes,
                    })
                    .collect(),
                against_all: 50,
                spoiled: 10,
                expected_version: 0,
                correction_reason: String::new(),
            },
            token,
        ))
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
                },
                token,
            ))
            .await
            .unwrap();
    }
    election
}

fn ok(status: &Option<SectionStatus>) -> bool {
    status
        .as_ref()
        .is_some_and(|s| s.state() == SectionState::Ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_through_the_gateway_shows_in_every_view() {
    let system = System::start().await;
    let gateway = system.gateway(system.targets(), generous(), None).await;
    let token = system.tokens.admin();
    let channel = channel(&gateway).await;
    budget_scenario(channel.clone(), &token).await;
    grants_scenario(channel.clone(), &token).await;
    let election = governance_scenario(channel.clone(), &token).await;
    let year = this_year();
    let mut views = GatewayServiceClient::new(channel);

    let profile = views
        .get_settlement_profile(with_token(
            GetSettlementProfileRequest {
                kato: VILLAGE.into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(profile.territory.as_ref().unwrap().kato, VILLAGE);
    let ancestors: Vec<&str> = profile.ancestors.iter().map(|t| t.kato.as_str()).collect();
    assert_eq!(ancestors, [RURAL_DISTRICT, DISTRICT, REGION]);
    let governance = profile.governance.unwrap();
    assert!(ok(&governance.status), "{:?}", governance.status);
    assert_eq!(governance.latest_election.unwrap().name, election.name);
    let results = governance.latest_results.unwrap();
    assert!(results.r#final);
    assert_eq!(results.outcome.unwrap().kind(), OutcomeKind::Winner);
    assert_eq!(governance.current_akim.unwrap().full_name, "Candidate 0");
    let revenue = governance.revenue.unwrap();
    assert_eq!(revenue.territory_kato, RURAL_DISTRICT);
    assert_eq!(revenue.rural_districts_counted, 1);
    let budget = profile.budget.unwrap();
    assert!(ok(&budget.status), "{:?}", budget.status);
    assert_eq!(
        budget.projects,
        [ProjectCount {
            program_code: "AUYL_EL_BESIGI".into(),
            status: ProjectStatus::Completed as i32,
            count: 1,
            cost_tiyn: 300 * TIYN,
        }]
    );
    let sufficiency = budget.sufficiency.unwrap().overall.unwrap();
    assert_eq!(
        (
            sufficiency.met,
            sufficiency.applicable,
            sufficiency.sufficiency_bp
        ),
        (1, 1, 10_000)
    );
    let grants = profile.grants.unwrap();
    assert!(ok(&grants.status), "{:?}", grants.status);
    assert_eq!(
        grants.specialists,
        [SpecialistCount {
            year,
            field: Field::Healthcare as i32,
            count: 1
        }]
    );
    assert_eq!(grants.totals.unwrap().allowances, 1);

    let region = views
        .get_region_profile(with_token(
            GetRegionProfileRequest {
                kato: REGION.into(),
                from_year: year - 2,
                to_year: year,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(region.territory.unwrap().kato, REGION);
    let budget = region.budget.unwrap();
    assert!(ok(&budget.status), "{:?}", budget.status);
    let [row] = budget.execution.as_slice() else {
        panic!("{:?}", budget.execution);
    };
    assert_eq!(
        (
            row.program_code.as_str(),
            row.fiscal_year,
            row.allocated_tiyn,
            row.disbursed_tiyn,
            row.settlements_covered
        ),
        ("AUYL_EL_BESIGI", year, 500 * TIYN, 300 * TIYN, 1)
    );
    assert_eq!(
        budget.sufficiency.unwrap().overall.unwrap().sufficiency_bp,
        10_000
    );
    let grants = region.grants.unwrap();
    assert!(ok(&grants.status), "{:?}", grants.status);
    assert_eq!(grants.statistics.unwrap().totals.unwrap().allowances, 1);
    let elections = region.elections.unwrap();
    assert!(ok(&elections.status), "{:?}", elections.status);
    let [summary] = elections.elections.as_slice() else {
        panic!("{:?}", elections.elections);
    };
    assert_eq!(
        summary.outcome.as_ref().unwrap().kind(),
        OutcomeKind::Winner
    );
    let revenue = region.revenue.unwrap();
    assert!(ok(&revenue.status), "{:?}", revenue.status);
    assert_eq!(revenue.summary.unwrap().growth_factor_bp, 35_000);
    let growth = region.growth_points.unwrap();
    assert!(ok(&growth.status), "{:?}", growth.status);
    assert!(growth.support_villages.is_empty());

    let dashboard = views
        .get_national_dashboard(with_token(GetNationalDashboardRequest { year: 0 }, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dashboard.year, year);
    let indicator = |key: &str| {
        dashboard
            .indicators
            .iter()
            .find(|i| i.key == key)
            .unwrap_or_else(|| panic!("no indicator {key}"))
    };
    for key in [
        "standards_sufficiency",
        "auyl_el_besigi_projects_this_year",
        "auyl_el_besigi_villages_this_year",
        "diploma_allowances",
        "rural_district_revenue_growth",
        "akim_elections_pilot",
    ] {
        assert!(
            ok(&indicator(key).status),
            "{key}: {:?}",
            indicator(key).status
        );
    }
    let sufficiency = indicator("standards_sufficiency");
    assert_eq!(
        (
            sufficiency.actual,
            sufficiency.target,
            sufficiency.target_year
        ),
        (10_000, 7000, 2028)
    );
    assert_eq!(indicator("auyl_el_besigi_projects_this_year").actual, 1);
    assert_eq!(indicator("auyl_el_besigi_villages_this_year").actual, 1);
    assert_eq!(indicator("diploma_allowances").actual, 1);
    assert_eq!(
        indicator("akim_elections_pilot").actual,
        0,
        "the village's election is no pilot"
    );
    assert_eq!(indicator("rural_district_revenue_growth").actual, 35_000);

    // An unknown territory fails the whole view.
    let unknown = views
        .get_settlement_profile(with_token(
            GetSettlementProfileRequest {
                kato: "613633900".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let invalid = views
        .get_region_profile(with_token(
            GetRegionProfileRequest {
                kato: VILLAGE.into(),
                ..GetRegionProfileRequest::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(
        invalid.get_details_bad_request().unwrap().field_violations[0].field,
        "kato"
    );
}

/// A listener that accepts connections and never answers: a hung backend.
async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (address, task)
}

fn settlement_request(
    token: &str,
    deadline: Duration,
) -> tonic::Request<GetSettlementProfileRequest> {
    let mut request = with_token(
        GetSettlementProfileRequest {
            kato: VILLAGE.into(),
        },
        token,
    );
    request.set_timeout(deadline);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_down_or_hung_costs_only_its_section() {
    let mut system = System::start().await;
    let gateway = system.gateway(system.targets(), generous(), None).await;
    let token = system.tokens.admin();
    let mut views = GatewayServiceClient::new(channel(&gateway).await);
    let answer = views
        .get_settlement_profile(settlement_request(&token, Duration::from_secs(3)))
        .await
        .unwrap()
        .into_inner();
    assert!(ok(&answer.grants.unwrap().status));

    // Grants stopped: its section is unavailable, the rest is answered.
    drop(system.grants.take());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let answer = views
        .get_settlement_profile(settlement_request(&token, Duration::from_secs(3)))
        .await
        .unwrap()
        .into_inner();
    assert!(started.elapsed() < Duration::from_secs(3));
    let grants = answer.grants.unwrap().status.unwrap();
    assert_eq!(grants.state(), SectionState::Unavailable, "{grants:?}");
    let budget = answer.budget.unwrap().status;
    assert!(ok(&budget), "{budget:?}");
    let governance = answer.governance.unwrap().status;
    assert!(ok(&governance), "{governance:?}");
    assert_eq!(answer.territory.unwrap().kato, VILLAGE);
    // Forwarded calls to it say UNAVAILABLE, which callers retry.
    let forwarded = GrantsServiceClient::new(channel(&gateway).await)
        .get_mci_rate(with_token(GetMciRateRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(forwarded.code(), Code::Unavailable);

    // Grants back on its address: full answers again, the gateway untouched.
    system.grants = Some(
        start_grants(
            system.grants_address,
            &system.tokens,
            system.governance.url(),
        )
        .await,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = views
            .get_settlement_profile(settlement_request(&token, Duration::from_secs(3)))
            .await
            .unwrap()
            .into_inner();
        if ok(&answer.grants.unwrap().status) {
            break;
        }
        assert!(Instant::now() < deadline, "grants did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Budget hung (accepts, never answers): the view still comes within the
    // caller's deadline, budget's section unavailable.
    let (hung, _hole) = black_hole().await;
    let mut backends = system.targets();
    backends.budget_url = Targets::Fixed(vec![format!("https://{hung}")]);
    let hung_gateway = system.gateway(backends, generous(), None).await;
    let mut views = GatewayServiceClient::new(channel(&hung_gateway).await);
    let started = Instant::now();
    let answer = views
        .get_settlement_profile(settlement_request(&token, Duration::from_millis(1500)))
        .await
        .unwrap()
        .into_inner();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        answer.budget.unwrap().status.unwrap().state(),
        SectionState::Unavailable
    );
    assert!(ok(&answer.grants.unwrap().status));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_keeps_codes_details_and_streams_and_the_gateway_guards() {
    let system = System::start().await;
    let rate = RateConfig {
        rate_limit: "1000/1000".parse().unwrap(),
        agency_rate_limits: vec!["limited agency=1/3".parse::<AgencyRateLimit>().unwrap()],
    };
    let gateway = system
        .gateway(system.targets(), rate, Some(64 * 1024))
        .await;
    let token = system.tokens.admin();
    let channel = channel(&gateway).await;
    let mut budget = BudgetServiceClient::new(channel.clone());

    // Rich error details come through as the backend sent them.
    let refused = budget
        .create_program(with_token(
            CreateProgramRequest {
                request_id: "bad".into(),
                program: Some(Program {
                    code: "lower case".into(),
                    ..Program::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = refused
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert!(fields.iter().any(|f| f.contains("code")), "{fields:?}");
    let missing = budget
        .get_program(with_token(
            GetProgramRequest {
                code: "NOPE".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // Streams both ways: a client stream in, a server stream out.
    let mut governance = GovernanceServiceClient::new(channel.clone());
    let import = ImportTerritoriesRequest {
        request_id: "import".into(),
        territories: vec![TerritoryInput {
            kato: "613633300".into(),
            kind: TerritoryKind::Village as i32,
            name: Some(LocalizedText {
                ru: "Village".into(),
                ..LocalizedText::default()
            }),
            rural: true,
            ..TerritoryInput::default()
        }],
        ..ImportTerritoriesRequest::default()
    };
    let imported = governance
        .import_territories(with_token(futures::stream::iter([import]), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.created, 1);
    budget_scenario(channel.clone(), &token).await;
    let mut exported = budget
        .export_allocations(with_token(
            ExportAllocationsRequest {
                program_code: "AUYL_EL_BESIGI".into(),
                ..ExportAllocationsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut count = 0;
    while let Some(_allocation) = exported.message().await.unwrap() {
        count += 1;
    }
    assert_eq!(count, 1);

    // No token, or a bad one: refused.
    let mut views = GatewayServiceClient::new(channel.clone());
    let anonymous = views
        .get_national_dashboard(GetNationalDashboardRequest { year: 0 })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let forged = budget
        .get_program(with_token(
            GetProgramRequest {
                code: "AUYL_EL_BESIGI".into(),
            },
            "not.a.token",
        ))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);

    // Over the size limit: refused whole, for a read and for a write.
    let huge = "9".repeat(100 * 1024);
    let too_large = budget
        .get_program(with_token(GetProgramRequest { code: huge.clone() }, &token))
        .await
        .unwrap_err();
    assert_eq!(too_large.code(), Code::ResourceExhausted, "{too_large:?}");
    let too_large = governance
        .upsert_territory(with_token(
            UpsertTerritoryRequest {
                request_id: huge,
                ..UpsertTerritoryRequest::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(too_large.code(), Code::ResourceExhausted, "{too_large:?}");

    // A caller over its rate is limited, with the delay to wait; another is not.
    let limited = system.tokens.token("limited", &[Scope::BudgetRead], None);
    let other = system.tokens.token("other", &[Scope::BudgetRead], None);
    let read = |token: &str| {
        with_token(
            GetProgramRequest {
                code: "AUYL_EL_BESIGI".into(),
            },
            token,
        )
    };
    for _ in 0..3 {
        budget.get_program(read(&limited)).await.unwrap();
    }
    let over = budget.get_program(read(&limited)).await.unwrap_err();
    assert_eq!(over.code(), Code::ResourceExhausted);
    let wait = over.get_details_retry_info().unwrap().retry_delay.unwrap();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
    for _ in 0..10 {
        budget.get_program(read(&other)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_around_an_endpoint_that_is_down() {
    let system = System::start().await;
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut backends = system.targets();
    backends.governance_url =
        Targets::Fixed(vec![format!("https://{dead}"), system.governance.url()]);
    let gateway = system.gateway(backends, generous(), None).await;
    let token = system.tokens.admin();
    let mut governance = GovernanceServiceClient::new(channel(&gateway).await);
    for _ in 0..40 {
        governance
            .get_territory(with_token(
                GetTerritoryRequest {
                    kato: VILLAGE.into(),
                    include_ancestors: false,
                },
                &token,
            ))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refused_at_the_gateway_itself() {
    // Backends that never answer: whatever is refused was refused by the gateway.
    let tokens = TestTokens::new();
    let (hole, _task) = black_hole().await;
    let url = || Targets::Fixed(vec![format!("https://{hole}")]);
    let backends = BackendsConfig {
        governance_url: url(),
        budget_url: url(),
        grants_url: url(),
        backend_connections: 1,
        backend_timeout: Duration::from_secs(1),
        view_max_age: Duration::ZERO,
    };
    let gateway = start_gateway(&tokens, backends, generous(), None).await;
    let mut budget = BudgetServiceClient::new(channel(&gateway).await);
    let started = Instant::now();
    let anonymous = budget
        .get_program(GetProgramRequest {
            code: "AUYL_EL_BESIGI".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let other_keys = TestTokens::new().admin();
    let foreign = budget
        .get_program(with_token(
            GetProgramRequest {
                code: "AUYL_EL_BESIGI".into(),
            },
            &other_keys,
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::Unauthenticated);
    assert!(started.elapsed() < Duration::from_millis(500));
}
