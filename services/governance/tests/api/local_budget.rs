//! Akims, rural-district revenue and development indicators.

use aimaq_proto::common::v1::Date;
use aimaq_proto::governance::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;
use tonic_types::StatusExt;

use super::start;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

async fn akims_are_appointed_and_succeeded(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let token = harness.admin();
    let appoint = |id: &str, iin: &str, start: i32| AppointAkimRequest {
        request_id: id.into(),
        territory_kato: "613633000".into(),
        iin: iin.into(),
        full_name: "Akim".into(),
        mandate: AkimMandate::Appointed as i32,
        term_start: date(start, 1, 10),
        ..AppointAkimRequest::default()
    };
    let first = harness
        .client
        .appoint_akim(with_token(appoint("a-1", "900101300007", 2019), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(first.predecessor.is_none());
    let second = harness
        .client
        .appoint_akim(with_token(appoint("a-2", "900101300811", 2021), &token))
        .await
        .unwrap()
        .into_inner();
    let predecessor = second.predecessor.unwrap();
    assert_eq!(predecessor.left_office, date(2021, 1, 10));
    assert_eq!(predecessor.version, 2);
    let post = harness
        .client
        .get_akim(with_token(
            GetAkimRequest {
                territory_kato: "613633000".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(post.current.unwrap().iin, "900101300811");
    assert_eq!(post.history.len(), 2);

    // An elected akim needs a certified election that they stood in.
    let mut elected = appoint("a-3", "900101300007", 2023);
    elected.mandate = AkimMandate::Elected as i32;
    let missing = harness
        .client
        .appoint_akim(with_token(elected.clone(), &token))
        .await
        .unwrap_err();
    assert_eq!(
        missing
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "election"
    );
    elected.election = "elections/77".into();
    let unknown = harness
        .client
        .appoint_akim(with_token(elected, &token))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let bad = AppointAkimRequest {
        request_id: "a-4".into(),
        territory_kato: "613633000".into(),
        iin: "900101300008".into(),
        ..AppointAkimRequest::default()
    };
    let status = harness
        .client
        .appoint_akim(with_token(bad, &token))
        .await
        .unwrap_err();
    let fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["iin", "full_name", "mandate", "term_start"]);
}

async fn revenue_growth_is_summarised(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let token = harness.admin();
    let record = |id: &str, kato: &str, year: i32, source: RevenueSource, amount: i64| {
        RecordRevenueRequest {
            request_id: id.into(),
            territory_kato: kato.into(),
            fiscal_year: year,
            source: source as i32,
            amount_tiyn: amount,
            note: String::new(),
            validate_only: false,
        }
    };
    for (id, year, source, amount) in [
        ("r-1", 2019, RevenueSource::LandTax, 6_000_000),
        ("r-2", 2019, RevenueSource::Transfers, 4_000_000),
        ("r-3", 2023, RevenueSource::LandTax, 20_000_000),
        ("r-4", 2023, RevenueSource::PersonalIncomeTax, 10_000_000),
        ("r-5", 2023, RevenueSource::Transfers, 5_000_000),
    ] {
        harness
            .client
            .record_revenue(with_token(
                record(id, "613633000", year, source, amount),
                &token,
            ))
            .await
            .unwrap();
    }
    let not_rural = harness
        .client
        .record_revenue(with_token(
            record("r-x", "613600000", 2023, RevenueSource::LandTax, 1),
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(not_rural.code(), Code::InvalidArgument);
    let zero = harness
        .client
        .record_revenue(with_token(
            record("r-0", "613633000", 2023, RevenueSource::LandTax, 0),
            &token,
        ))
        .await
        .unwrap_err();
    assert!(zero.message().contains("amount_tiyn"));

    let summary = harness
        .client
        .get_revenue_summary(with_token(
            GetRevenueSummaryRequest {
                territory_kato: "610000000".into(),
                from_year: 2019,
                to_year: 2023,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.years.len(), 5);
    assert_eq!(summary.years[0].total_tiyn, 10_000_000);
    assert_eq!(summary.years[4].total_tiyn, 35_000_000);
    assert_eq!(summary.years[4].own_revenue_share_bp, 8571);
    assert_eq!(summary.growth_factor_bp, 35_000, "3.5-fold");
    assert_eq!(summary.rural_districts_counted, 1);

    // No territory: the whole country, the same figures here.
    let national = harness
        .client
        .get_revenue_summary(with_token(
            GetRevenueSummaryRequest {
                territory_kato: String::new(),
                from_year: 2019,
                to_year: 2023,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(national.territory_kato, "");
    assert_eq!(national.growth_factor_bp, 35_000);
    assert_eq!(national.rural_districts_counted, 1);
}

async fn indicators_are_recorded_with_targets(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let token = harness.admin();
    let record = |id: &str, figure: IndicatorFigure, year: i32, value: i64, version: i64| {
        RecordIndicatorRequest {
            request_id: id.into(),
            territory_kato: "610000000".into(),
            kind: IndicatorKind::StandardsSufficiency as i32,
            figure: figure as i32,
            year,
            value_bp: value,
            source: "national report".into(),
            expected_version: version,
        }
    };
    for request in [
        record("i-1", IndicatorFigure::Actual, 2026, 6400, 0),
        record("i-2", IndicatorFigure::Target, 2028, 7000, 0),
    ] {
        harness
            .client
            .record_indicator(with_token(request, &token))
            .await
            .unwrap();
    }
    let twice = harness
        .client
        .record_indicator(with_token(
            record("i-3", IndicatorFigure::Actual, 2026, 6500, 0),
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    let stale = harness
        .client
        .record_indicator(with_token(
            record("i-4", IndicatorFigure::Actual, 2026, 6500, 3),
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let updated = harness
        .client
        .record_indicator(with_token(
            record("i-5", IndicatorFigure::Actual, 2026, 6500, 1),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .indicator
        .unwrap();
    assert_eq!((updated.value_bp, updated.version), (6500, 2));

    let listed = harness
        .client
        .list_indicators(with_token(
            ListIndicatorsRequest {
                territory_kato: "610000000".into(),
                page_size: 1,
                ..ListIndicatorsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.indicators.len(), 1);
    let rest = harness
        .client
        .list_indicators(with_token(
            ListIndicatorsRequest {
                territory_kato: "610000000".into(),
                page_size: 10,
                page_token: listed.next_page_token,
                ..ListIndicatorsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.indicators.len(), 1);
    assert_eq!(rest.indicators[0].figure, IndicatorFigure::Target as i32);
    assert!(rest.next_page_token.is_empty());

    // The republic's figures have no KATO; only a national token records them.
    let national = RecordIndicatorRequest {
        territory_kato: String::new(),
        ..record("n-1", IndicatorFigure::Target, 2030, 4000, 0)
    };
    let regional = harness.tokens.token(
        "akimat",
        &[
            aimaq_auth::Scope::GovernanceRead,
            aimaq_auth::Scope::GovernanceWrite,
        ],
        Some("61"),
    );
    let denied = harness
        .client
        .record_indicator(with_token(national.clone(), &regional))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let recorded = harness
        .client
        .record_indicator(with_token(national, &token))
        .await
        .unwrap()
        .into_inner()
        .indicator
        .unwrap();
    assert_eq!(recorded.territory_kato, "");
    let of_the_republic = harness
        .client
        .list_indicators(with_token(ListIndicatorsRequest::default(), &regional))
        .await
        .unwrap()
        .into_inner();
    let figures: Vec<(i32, i64)> = of_the_republic
        .indicators
        .iter()
        .map(|i| (i.year, i.value_bp))
        .collect();
    assert_eq!(figures, [(2030, 4000)], "the region's figures are its own");
}

/// The rural district budget report: each district with its own revenue by
/// source, transfers and subventions and its growth, a page at a time; its
/// rows add up to its totals, which are GetRevenueSummary's.
async fn the_rural_budget_report_adds_up_to_the_summary(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    harness
        .upsert(super::create(
            "seed-5",
            super::input("613635000", TerritoryKind::RuralDistrict, "Жамбылский с.о."),
        ))
        .await;
    let token = harness.admin();
    for (id, kato, year, source, amount) in [
        ("a-1", "613633000", 2019, RevenueSource::LandTax, 6_000_000),
        (
            "a-2",
            "613633000",
            2019,
            RevenueSource::Transfers,
            4_000_000,
        ),
        ("a-3", "613633000", 2023, RevenueSource::LandTax, 20_000_000),
        (
            "a-4",
            "613633000",
            2023,
            RevenueSource::PersonalIncomeTax,
            10_000_000,
        ),
        (
            "a-5",
            "613633000",
            2023,
            RevenueSource::Transfers,
            5_000_000,
        ),
        ("b-1", "613635000", 2019, RevenueSource::LandTax, 1_000_000),
        ("b-2", "613635000", 2023, RevenueSource::LandTax, 2_000_000),
        (
            "b-3",
            "613635000",
            2023,
            RevenueSource::Subventions,
            3_000_000,
        ),
    ] {
        harness
            .client
            .record_revenue(with_token(
                RecordRevenueRequest {
                    request_id: id.into(),
                    territory_kato: kato.into(),
                    fiscal_year: year,
                    source: source as i32,
                    amount_tiyn: amount,
                    note: String::new(),
                    validate_only: false,
                },
                &token,
            ))
            .await
            .unwrap();
    }
    let request = |page_token: String| GetRuralBudgetReportRequest {
        territory_kato: "610000000".into(),
        from_year: 2019,
        to_year: 2023,
        page_size: 1,
        page_token,
    };
    let first = harness
        .client
        .get_rural_budget_report(with_token(request(String::new()), &token))
        .await
        .unwrap()
        .into_inner();
    let second = harness
        .client
        .get_rural_budget_report(with_token(request(first.next_page_token.clone()), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(second.next_page_token.is_empty());
    let rows: Vec<&RuralBudgetRow> = first.rows.iter().chain(&second.rows).collect();
    let districts: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|r| {
            let name = r.name.as_ref().unwrap().ru.as_str();
            (r.territory_kato.as_str(), name, r.growth_factor_bp)
        })
        .collect();
    assert_eq!(
        districts,
        [
            ("613633000", "Агыбетский с.о.", 35_000),
            ("613635000", "Жамбылский с.о.", 50_000)
        ]
    );
    let subsidised = &rows[1].years[4];
    assert_eq!(
        (subsidised.own_revenue_tiyn, subsidised.transfers_tiyn),
        (2_000_000, 3_000_000)
    );
    assert!(
        subsidised.by_source.iter().any(|s| {
            s.source == RevenueSource::Subventions as i32 && s.amount_tiyn == 3_000_000
        })
    );

    // The rows add up to the totals, and the totals are the summary's.
    let summary = harness
        .client
        .get_revenue_summary(with_token(
            GetRevenueSummaryRequest {
                territory_kato: "610000000".into(),
                from_year: 2019,
                to_year: 2023,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.totals, summary.years);
    assert_eq!(first.growth_factor_bp, summary.growth_factor_bp);
    for (index, total) in first.totals.iter().enumerate() {
        let summed: i64 = rows.iter().map(|r| r.years[index].total_tiyn).sum();
        assert_eq!(summed, total.total_tiyn, "{}", total.fiscal_year);
    }

    let backwards = harness
        .client
        .get_rural_budget_report(with_token(
            GetRuralBudgetReportRequest {
                from_year: 2023,
                to_year: 2019,
                ..request(String::new())
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), Code::InvalidArgument);
    assert!(backwards.message().contains("to_year"), "{backwards:?}");
}

/// A territory exists under its code for a period (Abai region from 8 June
/// 2022): it says so, and revenue of a year it did not exist is refused.
async fn a_territory_exists_for_its_period(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.admin();
    let formed = aimaq_proto::common::v1::Date {
        year: 2022,
        month: 6,
        day: 8,
    };
    let dated = |kato: &str, kind: TerritoryKind, name: &str| TerritoryInput {
        valid_from: Some(formed),
        ..super::input(kato, kind, name)
    };
    for (id, input) in [
        (
            "abai",
            dated("100000000", TerritoryKind::Region, "область Абай"),
        ),
        (
            "abai-district",
            dated("103200000", TerritoryKind::District, "Абайский район"),
        ),
        (
            "abai-rural",
            dated(
                "103233000",
                TerritoryKind::RuralDistrict,
                "Каскабулакский с.о.",
            ),
        ),
    ] {
        harness.upsert(super::create(id, input)).await;
    }
    let region = harness
        .client
        .get_territory(with_token(
            GetTerritoryRequest {
                kato: "100000000".into(),
                include_ancestors: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .territory
        .unwrap();
    assert_eq!((region.valid_from, region.valid_to), (Some(formed), None));
    let revenue = |id: &str, year: i32| RecordRevenueRequest {
        request_id: id.into(),
        territory_kato: "103233000".into(),
        fiscal_year: year,
        source: RevenueSource::LandTax as i32,
        amount_tiyn: 1_000_000,
        note: String::new(),
        validate_only: false,
    };
    let before = harness
        .client
        .record_revenue(with_token(revenue("before", 2021), &token))
        .await
        .unwrap_err();
    assert_eq!(before.code(), Code::InvalidArgument);
    assert_eq!(
        before.get_details_bad_request().unwrap().field_violations[0].field,
        "fiscal_year"
    );
    harness
        .client
        .record_revenue(with_token(revenue("formed", 2022), &token))
        .await
        .unwrap();
    // Reports keep to the years it existed, naming the territory.
    for territory_kato in ["103233000", "100000000"] {
        let report = |from_year: i32| {
            let mut client = harness.client.clone();
            let request = GetRuralBudgetReportRequest {
                territory_kato: territory_kato.into(),
                from_year,
                to_year: 2022,
                ..Default::default()
            };
            let request = with_token(request, &token);
            async move { client.get_rural_budget_report(request).await }
        };
        let early = report(2021).await.unwrap_err();
        assert_eq!(
            early.get_details_bad_request().unwrap().field_violations[0].field,
            "territory_kato"
        );
        assert!(early.message().contains("2021"), "{early:?}");
        let since = report(2022).await.unwrap().into_inner();
        assert_eq!(since.rows.len(), 1);
    }
    let backwards = harness
        .client
        .upsert_territory(with_token(
            super::create(
                "backwards",
                TerritoryInput {
                    valid_to: Some(aimaq_proto::common::v1::Date {
                        year: 2020,
                        month: 1,
                        day: 1,
                    }),
                    ..dated("103600000", TerritoryKind::District, "Аягозский район")
                },
            ),
            &token,
        ))
        .await
        .unwrap_err();
    assert!(
        backwards.message().contains("territory.valid_to"),
        "{backwards:?}"
    );
}

on_both_backends!(
    a_territory_exists_for_its_period,
    the_rural_budget_report_adds_up_to_the_summary,
    akims_are_appointed_and_succeeded,
    revenue_growth_is_summarised,
    indicators_are_recorded_with_targets,
);
