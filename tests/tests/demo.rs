//! The stack's demo data holds the facts of the design brief.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::{ExecutionRow, GetExecutionReportRequest, GetSufficiencyRequest};
use aimaq_proto::common::v1::Date;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::gateway::v1::{GetNationalDashboardRequest, SectionState};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::{
    ApplicationStatus, GetMciRateRequest, GetStatisticsRequest, ListApplicationsRequest,
};
use aimaq_stack::{Stack, StackOptions};
use tonic::Request;

fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_demo_data_holds_the_facts() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = StackOptions::ephemeral(dir.path());
    options.classifier =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/kato-2022.csv");
    let stack = Stack::start(&options).await.unwrap();
    let token = stack.admin_token.clone();
    let channel = stack.channel("governance").await.unwrap();
    let mut client = GovernanceServiceClient::new(channel);

    let alatau = client
        .get_territory(authorized(
            GetTerritoryRequest {
                kato: "192000000".into(),
                include_ancestors: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .territory
        .unwrap();
    assert!(alatau.growth_points.unwrap().special_economic_zone);

    let pilot = client
        .list_elections(authorized(
            ListElectionsRequest {
                pilot_only: true,
                year: 2023,
                ..ListElectionsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pilot.elections.len(), 5);
    assert!(
        pilot
            .elections
            .iter()
            .all(|e| e.status == ElectionStatus::Certified as i32)
    );

    let revenue = client
        .get_revenue_summary(authorized(
            GetRevenueSummaryRequest {
                territory_kato: "610000000".into(),
                from_year: 2019,
                to_year: 2024,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let growth = revenue.growth_factor_bp;
    assert_eq!(growth, 35_000, "3.5-fold");

    let sufficiency = client
        .list_indicators(authorized(
            ListIndicatorsRequest {
                territory_kato: "610000000".into(),
                kinds: vec![IndicatorKind::StandardsSufficiency as i32],
                ..ListIndicatorsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let values: Vec<(i32, i64)> = sufficiency
        .indicators
        .iter()
        .map(|i| (i.year, i.value_bp))
        .collect();
    assert_eq!(values, [(2026, 6400), (2028, 7000)]);

    budget_demo_data_holds_the_facts(&stack, &token).await;
    grants_demo_data_holds_the_facts(&stack, &token).await;
    dashboard_shows_the_facts(&stack, &token).await;
    stack.stop().await.unwrap();
}

/// The national dashboard, through the gateway, shows the demo's figures next to
/// the targets of the source material.
async fn dashboard_shows_the_facts(stack: &Stack, token: &str) {
    let channel = stack.channel("gateway").await.unwrap();
    let dashboard = GatewayServiceClient::new(channel)
        .get_national_dashboard(authorized(GetNationalDashboardRequest { year: 0 }, token))
        .await
        .unwrap()
        .into_inner();
    let indicator = |key: &str| {
        let indicator = dashboard
            .indicators
            .iter()
            .find(|i| i.key == key)
            .unwrap_or_else(|| panic!("no indicator {key}"));
        let status = indicator.status.clone().unwrap();
        assert_eq!(status.state(), SectionState::Ok, "{key}: {status:?}");
        (indicator.actual, indicator.target)
    };
    const BILLION_TENGE_IN_TIYN: i64 = 100_000_000_000;
    assert_eq!(indicator("standards_sufficiency"), (6400, 7000));
    assert_eq!(
        indicator("auyl_el_besigi_money"),
        (701 * BILLION_TENGE_IN_TIYN, 701 * BILLION_TENGE_IN_TIYN)
    );
    assert_eq!(indicator("auyl_el_besigi_projects_this_year"), (1000, 1000));
    assert_eq!(indicator("auyl_el_besigi_villages_this_year"), (500, 500));
    assert_eq!(
        indicator("auyl_amanaty_money"),
        (50 * BILLION_TENGE_IN_TIYN, 50 * BILLION_TENGE_IN_TIYN)
    );
    let (allowances, _) = indicator("diploma_allowances");
    assert!(allowances > 114_000, "{allowances}");
    let (growth, _) = indicator("rural_district_revenue_growth");
    assert_eq!(growth, 35_000);
    let (pilot, _) = indicator("akim_elections_pilot");
    assert_eq!(pilot, 5);
}

/// 'Auyl – El Besigi': 701 billion tenge 2019–2024 and 6,000 projects, this
/// year's 1,000 projects in 500 villages; 'Auyl Amanaty': 50 billion this year;
/// sufficiency 64%.
async fn budget_demo_data_holds_the_facts(stack: &Stack, token: &str) {
    let channel = stack.channel("budget").await.unwrap();
    let mut client = BudgetServiceClient::new(channel);
    let report = |from_year, to_year, program: &str| {
        let mut client = client.clone();
        let request = authorized(
            GetExecutionReportRequest {
                program_code: program.into(),
                from_year,
                to_year,
                ..GetExecutionReportRequest::default()
            },
            token,
        );
        async move {
            client
                .get_execution_report(request)
                .await
                .unwrap()
                .into_inner()
        }
    };
    let projects = |row: &ExecutionRow| row.projects.iter().map(|c| c.count).sum::<i64>();

    let history = report(2019, 2024, "AUYL_EL_BESIGI").await;
    let billion = 100 * 1_000_000_000;
    let envelopes: i64 = history.envelopes.iter().map(|e| e.amount_tiyn).sum();
    assert_eq!(envelopes, 701 * billion);
    assert_eq!(history.totals.iter().map(projects).sum::<i64>(), 6000);
    assert!(history.rows.len() > 6 * 10, "rows by region and year");
    for total in &history.totals {
        let envelope = history
            .envelopes
            .iter()
            .find(|e| e.fiscal_year == total.fiscal_year)
            .unwrap();
        assert!(total.allocated_tiyn <= envelope.amount_tiyn);
        assert!(total.disbursed_tiyn > envelope.amount_tiyn / 2);
    }

    let this_year = report(2026, 2026, "AUYL_EL_BESIGI").await;
    let [total] = this_year.totals.as_slice() else {
        panic!("{:?}", this_year.totals);
    };
    assert_eq!(projects(total), 1000);
    assert_eq!(total.settlements_covered, 500);

    let amanaty = report(2026, 2026, "AUYL_AMANATY").await;
    assert_eq!(amanaty.envelopes[0].amount_tiyn, 50 * billion);
    assert!(projects(&amanaty.totals[0]) >= 1000);

    let sufficiency = client
        .get_sufficiency(authorized(GetSufficiencyRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .overall
        .unwrap();
    assert_eq!(sufficiency.sufficiency_bp, 6400);
    assert!(sufficiency.applicable > 10_000);
}

/// 'With a diploma – to the village!': both MCI values of 2022, the published
/// totals of 2009–2024, and applications in every status.
async fn grants_demo_data_holds_the_facts(stack: &Stack, token: &str) {
    let channel = stack.channel("grants").await.unwrap();
    let mut client = GrantsServiceClient::new(channel);
    for ((month, day), tenge) in [((3, 31), 3063), ((4, 1), 3180)] {
        let rate = client
            .get_mci_rate(authorized(
                GetMciRateRequest {
                    date: Some(Date {
                        year: 2022,
                        month,
                        day,
                    }),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .rate
            .unwrap();
        assert_eq!(rate.value_tiyn, tenge * 100);
    }
    let published = client
        .get_statistics(authorized(
            GetStatisticsRequest {
                from_year: 2009,
                to_year: 2024,
                ..GetStatisticsRequest::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    let totals = published.totals.unwrap();
    assert!(totals.allowances > 114_000, "{totals:?}");
    assert!(totals.loans <= 52_000, "{totals:?}");
    assert!(published.rows.iter().all(|r| r.historical));
    for status in [
        ApplicationStatus::Submitted,
        ApplicationStatus::Approved,
        ApplicationStatus::Rejected,
        ApplicationStatus::Active,
        ApplicationStatus::Completed,
        ApplicationStatus::Breached,
    ] {
        let listed = client
            .list_applications(authorized(
                ListApplicationsRequest {
                    status: status as i32,
                    page_size: 1,
                    ..ListApplicationsRequest::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.applications.len(), 1, "{status:?}");
    }
}
