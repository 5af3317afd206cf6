//! GetSettlementSummary: each part is what the RPC of its own answers.

use aimaq_auth::Scope;
use aimaq_proto::common::v1::Date;
use aimaq_proto::governance::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;
use tonic_types::StatusExt;

use super::{Harness, start};

const VILLAGE: &str = "613633100";
const RURAL_DISTRICT: &str = "613633000";

/// An appointed akim of the village, two years of its rural district's
/// revenue, and an election of each, the village's counted at its one station.
async fn seed(harness: &mut Harness) -> (String, String) {
    harness.seed_chain().await;
    let token = harness.admin();
    harness
        .client
        .appoint_akim(with_token(
            AppointAkimRequest {
                request_id: "akim".into(),
                territory_kato: VILLAGE.into(),
                iin: "900101300007".into(),
                full_name: "Akim".into(),
                mandate: AkimMandate::Appointed as i32,
                term_start: Some(Date {
                    year: 2021,
                    month: 1,
                    day: 10,
                }),
                ..AppointAkimRequest::default()
            },
            &token,
        ))
        .await
        .unwrap();
    for (year, amount) in [(2022, 6_000_000), (2023, 9_000_000)] {
        harness.land_tax(RURAL_DISTRICT, year, amount).await;
    }
    let rural = (RURAL_DISTRICT, ElectionOffice::RuralAkim);
    let of_district = harness
        .election_at(rural, "district", WinnerRule::Plurality, &[900], 2)
        .await;
    let village = (VILLAGE, ElectionOffice::RuralAkim);
    let of_village = harness
        .election_at(village, "village", WinnerRule::Plurality, &[400], 2)
        .await;
    harness
        .protocol(&of_village, "p-1", 1, (300, &[200, 80], 10, 10))
        .await
        .unwrap();
    (of_village.name, of_district.name)
}

fn summary_of(kato: &str, years: (i32, i32)) -> GetSettlementSummaryRequest {
    GetSettlementSummaryRequest {
        kato: kato.into(),
        revenue_from_year: years.0,
        revenue_to_year: years.1,
    }
}

impl Harness {
    /// Land tax of a rural district in a year.
    async fn land_tax(&mut self, kato: &str, year: i32, amount_tiyn: i64) {
        let token = self.admin();
        let revenue = RecordRevenueRequest {
            request_id: format!("land-tax-{kato}-{year}"),
            territory_kato: kato.into(),
            fiscal_year: year,
            source: RevenueSource::LandTax as i32,
            amount_tiyn,
            note: String::new(),
            validate_only: false,
        };
        self.client
            .record_revenue(with_token(revenue, &token))
            .await
            .unwrap();
    }

    async fn summary(
        &mut self,
        request: GetSettlementSummaryRequest,
    ) -> Result<GetSettlementSummaryResponse, tonic::Status> {
        let token = self.admin();
        self.client
            .get_settlement_summary(with_token(request, &token))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The summary of `kato` as the five RPCs of its parts answer.
    async fn summary_by_parts(
        &mut self,
        kato: &str,
        election: &str,
        years: (i32, i32),
    ) -> GetSettlementSummaryResponse {
        let token = self.admin();
        let client = &mut self.client;
        let territory = client
            .get_territory(with_token(
                GetTerritoryRequest {
                    kato: kato.into(),
                    include_ancestors: true,
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        let akim = client
            .get_akim(with_token(
                GetAkimRequest {
                    territory_kato: kato.into(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        let name = || election.to_owned();
        let latest_election = client
            .get_election(with_token(GetElectionRequest { name: name() }, &token))
            .await
            .unwrap()
            .into_inner()
            .election;
        let latest_results = client
            .get_election_results(with_token(
                GetElectionResultsRequest { election: name() },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .results;
        let revenue = client
            .get_revenue_summary(with_token(
                GetRevenueSummaryRequest {
                    territory_kato: RURAL_DISTRICT.into(),
                    from_year: years.0,
                    to_year: years.1,
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        GetSettlementSummaryResponse {
            territory: territory.territory,
            ancestors: territory.ancestors,
            current_akim: akim.current,
            latest_election,
            latest_results,
            revenue: Some(revenue),
        }
    }
}

async fn a_summary_is_what_each_part_answers(database: TestDatabase) {
    let mut harness = start(database).await;
    let (of_village, of_district) = seed(&mut harness).await;
    let years = (2021, 2023);

    let village = harness.summary(summary_of(VILLAGE, years)).await.unwrap();
    let by_parts = harness.summary_by_parts(VILLAGE, &of_village, years).await;
    assert_eq!(village, by_parts);
    assert_eq!(village.ancestors.len(), 3);
    assert_eq!(village.current_akim.unwrap().iin, "900101300007");
    let results = village.latest_results.unwrap();
    assert_eq!(results.candidates.iter().map(|c| c.votes).sum::<i64>(), 280);
    assert_eq!(village.revenue.unwrap().years.len(), 3);

    // The rural district's own election, not the one of a village below it;
    // it has no akim.
    let district = harness
        .summary(summary_of(RURAL_DISTRICT, years))
        .await
        .unwrap();
    let mut by_parts = harness
        .summary_by_parts(RURAL_DISTRICT, &of_district, years)
        .await;
    assert!(by_parts.current_akim.is_none());
    by_parts.current_akim = None;
    assert_eq!(district, by_parts);

    // No years, no revenue.
    let without = harness.summary(summary_of(VILLAGE, (0, 0))).await.unwrap();
    assert!(without.revenue.is_none());
    assert!(without.latest_election.is_some());
}

async fn a_summary_is_refused_what_it_cannot_describe(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let field = |status: &tonic::Status| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field
            .clone()
    };
    for kato in ["613600000", "610000000", "61363", ""] {
        let refused = harness.summary(summary_of(kato, (0, 0))).await.unwrap_err();
        assert_eq!(field(&refused), "kato", "{kato}");
    }
    let backwards = harness
        .summary(summary_of(VILLAGE, (2023, 2019)))
        .await
        .unwrap_err();
    assert_eq!(field(&backwards), "revenue_to_year");
    let unknown = harness
        .summary(summary_of("613633900", (0, 0)))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let outsider = harness.tokens.token("budget", &[Scope::BudgetRead], None);
    let denied = harness
        .client
        .get_settlement_summary(with_token(summary_of(VILLAGE, (0, 0)), &outsider))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

/// A rural district formed in 2022: its revenue is summarised over the asked
/// years it existed in, where `GetRevenueSummary` over all of them refuses.
async fn revenue_covers_the_years_the_rural_district_existed(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.admin();
    let formed = Date {
        year: 2022,
        month: 6,
        day: 8,
    };
    for (kato, kind, name) in [
        ("100000000", TerritoryKind::Region, "область Абай"),
        ("103200000", TerritoryKind::District, "Абайский район"),
        (
            "103233000",
            TerritoryKind::RuralDistrict,
            "Каскабулакский с.о.",
        ),
        ("103233100", TerritoryKind::Village, "с.Каскабулак"),
    ] {
        let dated = TerritoryInput {
            valid_from: Some(formed),
            ..super::input(kato, kind, name)
        };
        harness.upsert(super::create(kato, dated)).await;
    }
    harness.land_tax("103233000", 2023, 5_000_000).await;

    let summary = harness
        .summary(summary_of("103233100", (2019, 2024)))
        .await
        .unwrap();
    let revenue = summary.revenue.unwrap();
    let years: Vec<i32> = revenue.years.iter().map(|y| y.fiscal_year).collect();
    assert_eq!(years, [2022, 2023, 2024]);
    let asked = |from_year| GetRevenueSummaryRequest {
        territory_kato: "103233000".into(),
        from_year,
        to_year: 2024,
    };
    let existed = harness
        .client
        .get_revenue_summary(with_token(asked(2022), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revenue, existed);
    let refused = harness
        .client
        .get_revenue_summary(with_token(asked(2019), &token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);

    // Before it was formed: no revenue, and no refusal.
    let before = harness
        .summary(summary_of("103233100", (2019, 2021)))
        .await
        .unwrap();
    assert!(before.revenue.is_none());
}

on_both_backends!(a_summary_is_what_each_part_answers);
on_both_backends!(revenue_covers_the_years_the_rural_district_existed);
on_both_backends!(a_summary_is_refused_what_it_cannot_describe);
