//! The gateway in front of real governance, budget and grants servers: a whole
//! scenario through its one address, the views that show it, and the
//! protection every call passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aimaq_auth::Scope;
use aimaq_e2e::scenario::*;
use aimaq_e2e::system::{System, generous};
use aimaq_gateway::{AgencyRateLimit, RateConfig};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::gateway::v1::*;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_proto::grants::v1::*;
use aimaq_testing::with_token;
use tonic::Code;
use tonic_types::StatusExt;

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
    let mut views = GatewayServiceClient::new(channel.clone());

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
        [aimaq_proto::gateway::v1::ProjectCount {
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

    // The dashboard shows the targets recorded as data, and nothing else.
    let mut budget = BudgetServiceClient::new(channel.clone());
    for (metric, value) in [
        (TargetMetric::Projects, 1000),
        (TargetMetric::Settlements, 500),
    ] {
        budget
            .set_program_target(with_token(
                SetProgramTargetRequest {
                    request_id: format!("target-{metric:?}"),
                    target: Some(ProgramTarget {
                        program_code: "AUYL_EL_BESIGI".into(),
                        metric: metric as i32,
                        from_year: year,
                        to_year: year,
                        value,
                        source: "test statement".into(),
                        ..ProgramTarget::default()
                    }),
                    expected_version: 0,
                },
                &token,
            ))
            .await
            .unwrap();
    }
    let mut governance = GovernanceServiceClient::new(channel.clone());
    for (kind, value_bp, due) in [
        (IndicatorKind::StandardsSufficiency, 7000, 2028),
        (IndicatorKind::SmeShareOfGdp, 4000, 2030),
    ] {
        governance
            .record_indicator(with_token(
                RecordIndicatorRequest {
                    request_id: format!("indicator-{kind:?}"),
                    territory_kato: String::new(),
                    kind: kind as i32,
                    figure: IndicatorFigure::Target as i32,
                    year: due,
                    value_bp,
                    source: "test statement".into(),
                    expected_version: 0,
                },
                &token,
            ))
            .await
            .unwrap();
    }
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
            .unwrap_or_else(|| panic!("no indicator {key}: {:?}", dashboard.indicators))
    };
    let projects = format!("auyl_el_besigi_projects_{year}_{year}");
    let villages = format!("auyl_el_besigi_settlements_{year}_{year}");
    for key in [
        "standards_sufficiency",
        projects.as_str(),
        villages.as_str(),
        "rural_district_revenue_growth",
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
            sufficiency.target_year,
            sufficiency.target_source.as_str()
        ),
        (10_000, 7000, 2028, "test statement")
    );
    assert_eq!(
        (indicator(&projects).actual, indicator(&projects).target),
        (1, 1000)
    );
    assert_eq!(indicator(&projects).period, year.to_string());
    assert_eq!(indicator(&villages).actual, 1);
    assert_eq!(indicator(&format!("{projects}_cancelled")).actual, 0);
    // Recorded as a target only: the actual is no data, never 0 with state OK.
    let sme = indicator("sme_share_of_gdp");
    assert_eq!(sme.status.as_ref().unwrap().state(), SectionState::NoData);
    assert_eq!((sme.target, sme.target_year), (4000, 2030));
    let pilot = indicator("akim_elections_pilot");
    assert_eq!(
        pilot.status.as_ref().unwrap().state(),
        SectionState::NoData,
        "the village's election is no pilot"
    );
    assert_eq!(indicator("rural_district_revenue_growth").actual, 35_000);
    assert!(
        !dashboard
            .indicators
            .iter()
            .any(|i| i.key.starts_with("auyl_amanaty")),
        "no target recorded, no line"
    );

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_keeps_codes_details_and_streams_and_the_gateway_guards() {
    let system = System::start().await;
    let rate = RateConfig::local(
        "1000/1000".parse().unwrap(),
        vec!["limited agency=1/3".parse::<AgencyRateLimit>().unwrap()],
    );
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
