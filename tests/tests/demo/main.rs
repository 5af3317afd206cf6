//! The stack's demo data holds the facts of the design brief.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod evidence;
mod feeds;

use std::path::Path;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::{
    ExecutionRow, GetExecutionReportRequest, GetSufficiencyRequest, ReportGrouping,
};
use aimaq_proto::common::v1::Date;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::gateway::v1::{DashboardIndicator, GetNationalDashboardRequest, SectionState};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::{
    ApplicationStatus, GetMciRateRequest, GetPolicyRequest, GetStatisticsRequest,
    ListApplicationsRequest,
};
use aimaq_stack::{Stack, StackOptions};
use evidence::{
    a_certified_election_recounts, edited_rows_are_found, every_resource_is_in_its_committed_state,
    results_bundle,
};
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

    let territory = async |kato: &str| {
        let request = authorized(
            GetTerritoryRequest {
                kato: kato.into(),
                include_ancestors: false,
            },
            &token,
        );
        let mut client = client.clone();
        client
            .get_territory(request)
            .await
            .unwrap()
            .into_inner()
            .territory
            .unwrap()
    };
    let alatau = territory("192000000").await;
    assert!(alatau.growth_points.unwrap().special_economic_zone);

    // The regions have Kazakh and English names; the classifier's districts
    // Russian only, and the API says which.
    for (kato, languages, english) in [
        ("610000000", vec!["kk", "ru", "en"], "Turkistan Region"),
        ("100000000", vec!["kk", "ru", "en"], "Abai Region"),
        ("613600000", vec!["ru"], ""),
    ] {
        let named = territory(kato).await;
        assert_eq!(named.name_languages, languages, "{kato}");
        assert_eq!(named.name.unwrap().en, english);
    }
    let formed = Date {
        year: 2022,
        month: 6,
        day: 8,
    };
    assert_eq!(territory("100000000").await.valid_from, Some(formed));
    assert_eq!(territory("103233000").await.valid_from, Some(formed));
    assert_eq!(territory("610000000").await.valid_from, None);

    let pilot = client
        .list_elections(authorized(
            ListElectionsRequest {
                pilot_only: true,
                year: 2023,
                page_size: 200,
                ..ListElectionsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    // 46 districts and 3 cities of regional significance; three ties, two of
    // them repeated already, the third repeat scheduled.
    let first: Vec<&Election> = pilot.elections.iter().filter(|e| !e.repeat).collect();
    assert_eq!(first.len(), 49);
    let cities = first
        .iter()
        .filter(|e| e.office() == ElectionOffice::CityAkim)
        .count();
    assert_eq!(cities, 3);
    assert!(
        first
            .iter()
            .all(|e| e.status() == ElectionStatus::Certified)
    );
    let repeats: Vec<&Election> = pilot.elections.iter().filter(|e| e.repeat).collect();
    assert_eq!(repeats.len(), 3);
    assert!(
        repeats
            .iter()
            .all(|e| e.round == 1 && !e.previous_election.is_empty())
    );
    let held = repeats
        .iter()
        .filter(|e| e.status() == ElectionStatus::Certified)
        .count();
    assert_eq!(held, 2);

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
                // The republic's figures.
                territory_kato: String::new(),
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
    assert_eq!(values, [(2025, 6400), (2028, 7000)]);
    assert!(sufficiency.indicators.iter().all(|i| !i.source.is_empty()));

    budget_demo_data_holds_the_facts(&stack, &token).await;
    finance_report_adds_up(&stack, &token).await;
    grants_demo_data_holds_the_facts(&stack, &token).await;
    dashboard_shows_the_facts(&stack, &token).await;
    every_resource_is_in_its_committed_state(&stack, &token).await;
    feeds::every_event_carries_its_resource(&stack, &token).await;
    let certified = a_certified_election_recounts(&stack, &token).await;
    edited_rows_are_found(&stack, &token, dir.path()).await;
    let altered = results_bundle(&stack, &token, &certified)
        .await
        .unwrap_err();
    assert_eq!(
        altered.code(),
        tonic::Code::FailedPrecondition,
        "{altered:?}"
    );
    stack.stop().await.unwrap();
}

/// The national dashboard, through the gateway, shows the demo's figures next to
/// the targets of the source material, each pinned to the years its source
/// gives, named by period and source; a period without records is no data.
async fn dashboard_shows_the_facts(stack: &Stack, token: &str) {
    let channel = stack.channel("gateway").await.unwrap();
    let mut client = GatewayServiceClient::new(channel);
    let mut dashboard = async |year| {
        client
            .get_national_dashboard(authorized(GetNationalDashboardRequest { year }, token))
            .await
            .unwrap()
            .into_inner()
            .indicators
    };
    let figure = |lines: &[DashboardIndicator], key: &str, state: SectionState| {
        let line = lines
            .iter()
            .find(|i| i.key == key)
            .unwrap_or_else(|| panic!("no indicator {key}: {lines:?}"));
        assert_eq!(
            line.status.as_ref().unwrap().state(),
            state,
            "{key}: {line:?}"
        );
        if line.target != 0 {
            assert!(
                !line.target_source.is_empty(),
                "{key}: a target names its source"
            );
        }
        (line.actual, line.target, line.period.clone())
    };
    const BILLION_TENGE_IN_TIYN: i64 = 100_000_000_000;
    let ok = SectionState::Ok;

    let of_2024 = dashboard(2024).await;
    assert_eq!(
        figure(&of_2024, "auyl_el_besigi_money_2019_2024", ok),
        (
            701 * BILLION_TENGE_IN_TIYN,
            701 * BILLION_TENGE_IN_TIYN,
            "2019-2024".into()
        )
    );
    let (undertaken, target, _) = figure(&of_2024, "auyl_el_besigi_projects_2019_2024", ok);
    let (cancelled, _, _) = figure(&of_2024, "auyl_el_besigi_projects_2019_2024_cancelled", ok);
    assert_eq!(
        (undertaken + cancelled, target),
        (6000, 6000),
        "both counts shown"
    );
    assert!(cancelled > 0);
    // The column sums exactly the years it names.
    let (allowances, target, period) =
        figure(&of_2024, "diploma_to_village_allowances_2009_2024", ok);
    assert_eq!((target, period.as_str()), (114_000, "2009-2024"));
    assert!(allowances > 100_000, "{allowances}");
    assert!(
        of_2024
            .iter()
            .all(|i| !i.key.starts_with("auyl_amanaty_money_2026"))
    );

    let of_2025 = dashboard(2025).await;
    assert_eq!(
        figure(&of_2025, "auyl_el_besigi_projects_2025_2025", ok),
        (1000, 1000, "2025".into())
    );
    assert_eq!(
        figure(&of_2025, "auyl_el_besigi_settlements_2025_2025", ok).0,
        500
    );
    assert_eq!(
        figure(&of_2025, "auyl_amanaty_money_2025_2025", ok).0,
        50 * BILLION_TENGE_IN_TIYN
    );
    assert_eq!(
        figure(&of_2025, "standards_sufficiency", ok),
        (6400, 7000, "2025".into())
    );
    assert_eq!(
        figure(&of_2025, "rural_district_revenue_growth", ok).0,
        35_000
    );
    assert_eq!(
        figure(&of_2025, "akim_elections_pilot", ok),
        (51, 52, "2023".into()),
        "49 first elections and 2 repeats certified; 1 repeat scheduled"
    );
    // A target without a published actual: no data, not 0.
    figure(&of_2025, "sme_share_of_gdp", SectionState::NoData);

    let of_2026 = dashboard(2026).await;
    assert_eq!(
        figure(&of_2026, "auyl_amanaty_money_2026_2028", ok).0,
        450 * BILLION_TENGE_IN_TIYN
    );
    let (_, target, _) = figure(
        &of_2026,
        "auyl_amanaty_projects_2026_2028",
        SectionState::NoData,
    );
    assert_eq!(target, 25_000);
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
    // Abai, Zhetisu and Ulytau regions were formed in June 2022: no money of
    // an earlier year is theirs.
    let formed_in_2022 = |kato: &str| ["10", "33", "62"].iter().any(|p| kato.starts_with(p));
    assert!(
        history
            .rows
            .iter()
            .all(|row| row.fiscal_year >= 2022 || !formed_in_2022(&row.territory_kato))
    );
    assert!(
        history
            .rows
            .iter()
            .any(|row| row.fiscal_year >= 2022 && formed_in_2022(&row.territory_kato))
    );
    for total in &history.totals {
        let envelope = history
            .envelopes
            .iter()
            .find(|e| e.fiscal_year == total.fiscal_year)
            .unwrap();
        assert!(total.allocated_tiyn <= envelope.amount_tiyn);
        assert!(total.disbursed_tiyn > envelope.amount_tiyn / 2);
    }

    let this_year = report(2025, 2025, "AUYL_EL_BESIGI").await;
    let [total] = this_year.totals.as_slice() else {
        panic!("{:?}", this_year.totals);
    };
    assert_eq!(projects(total), 1000);
    assert_eq!(total.settlements_covered, 500);

    let amanaty = report(2025, 2025, "AUYL_AMANATY").await;
    assert_eq!(amanaty.envelopes[0].amount_tiyn, 50 * billion);
    assert!(projects(&amanaty.totals[0]) >= 1000);
    let plan = report(2026, 2028, "AUYL_AMANATY").await;
    let planned: i64 = plan.envelopes.iter().map(|e| e.amount_tiyn).sum();
    assert_eq!(planned, 450 * billion, "the next three years' envelopes");

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

/// The execution report in the finance form agrees with itself: the regions'
/// rows of a year sum to the year's total, a region's districts sum to no more
/// than its own plan and to its disbursed, the fourth quarter holds what the
/// year holds, every row names its territory, and the programme's code comes
/// with its source.
async fn finance_report_adds_up(stack: &Stack, token: &str) {
    let channel = stack.channel("budget").await.unwrap();
    let client = BudgetServiceClient::new(channel);
    let report = |grouping: ReportGrouping, region: &str, quarter: i32| {
        let mut client = client.clone();
        let request = authorized(
            GetExecutionReportRequest {
                program_code: "AUYL_EL_BESIGI".into(),
                from_year: 2024,
                to_year: 2024,
                grouping: grouping as i32,
                territory_kato: region.into(),
                quarter,
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
    let year = report(ReportGrouping::Region, "", 0).await;
    assert_eq!(year.budget_code, "000 001");
    assert!(year.budget_code_source.starts_with("Illustrative"));
    let [total] = year.totals.as_slice() else {
        panic!("{:?}", year.totals);
    };
    let sum = |rows: &[ExecutionRow], figure: fn(&ExecutionRow) -> i64| -> i64 {
        rows.iter().map(figure).sum()
    };
    assert_eq!(sum(&year.rows, |r| r.allocated_tiyn), total.allocated_tiyn);
    assert_eq!(sum(&year.rows, |r| r.disbursed_tiyn), total.disbursed_tiyn);
    assert!(total.disbursed_tiyn > 0 && total.spend_rate_percent > 0.0);
    for row in &year.rows {
        let name = row.territory_name.clone().unwrap_or_default();
        assert!(!name.ru.is_empty(), "{row:?}");
        assert!(row.approved_plan_tiyn > 0, "{row:?}");
    }
    let fourth = report(ReportGrouping::Region, "", 4).await;
    assert_eq!(fourth.totals[0].disbursed_tiyn, total.disbursed_tiyn);

    let region = &year.rows[0];
    let districts = report(ReportGrouping::District, &region.territory_kato, 0).await;
    assert!(!districts.rows.is_empty());
    assert!(sum(&districts.rows, |r| r.allocated_tiyn) <= region.allocated_tiyn);
    assert_eq!(
        sum(&districts.rows, |r| r.disbursed_tiyn),
        region.disbursed_tiyn
    );
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
    // "Just over 114,000": within 1% above it.
    assert!(totals.allowances < 115_140, "{totals:?}");
    // Published in March 2023 for 2009–2022: about 95,000 and 45,000.
    let earlier = client
        .get_statistics(authorized(
            GetStatisticsRequest {
                from_year: 2009,
                to_year: 2022,
                ..GetStatisticsRequest::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .totals
        .unwrap();
    let about = |value: i64, published: i64| (value - published).abs() * 100 <= published;
    assert!(about(earlier.allowances, 95_000), "{earlier:?}");
    assert!(about(earlier.loans, 45_000), "{earlier:?}");
    // The allowance was 70 MCI in September 2016 and 100 MCI by 2019; each
    // term says in its source what is known and what is assumed.
    for (year, month, allowance_mci) in [(2009, 1, 70), (2016, 9, 70), (2019, 1, 100)] {
        let policy = client
            .get_policy(authorized(
                GetPolicyRequest {
                    date: Some(Date {
                        year,
                        month,
                        day: 1,
                    }),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .policy
            .unwrap();
        assert_eq!(policy.allowance_mci, allowance_mci, "{year}-{month}");
        assert!(!policy.source.is_empty());
    }
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
