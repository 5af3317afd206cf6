//! Arbitrary and malformed requests at every RPC: no INTERNAL, no panic.

use aimaq_proto::governance::v1::*;
use aimaq_testing::hostile::{assert_no_faults, violated_fields};
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use aimaq_types::bounds::MAX_AMOUNT_TIYN;

use crate::{create, input};

async fn no_request_is_answered_with_a_fault(database: TestDatabase) {
    let harness = crate::start(database).await;
    let channel = harness.server.channel().await;
    aimaq_testing::territories::seed(channel.clone(), &harness.tokens, &[]).await;
    let service = "aimaq.governance.v1.GovernanceService";
    assert_no_faults(&channel, service, &harness.tokens.admin()).await;
}

on_both_backends!(no_request_is_answered_with_a_fault);

fn revenue(id: &str, year: i32, amount_tiyn: i64) -> RecordRevenueRequest {
    RecordRevenueRequest {
        request_id: id.into(),
        territory_kato: "613633000".into(),
        fiscal_year: year,
        source: RevenueSource::LandTax as i32,
        amount_tiyn,
        note: String::new(),
        validate_only: false,
    }
}

fn summary(year: i32) -> GetRevenueSummaryRequest {
    GetRevenueSummaryRequest {
        territory_kato: String::new(),
        from_year: year,
        to_year: year,
    }
}

/// The values observed to be stored, to answer INTERNAL or to panic before they
/// were bounded: each is refused naming its field, and nothing is stored.
async fn hostile_values_are_refused_by_field(database: TestDatabase) {
    let mut harness = crate::start(database).await;
    harness.seed_chain().await;
    let admin = harness.admin();
    for (n, (year, amount, field)) in [
        (2024, i64::MAX, "amount_tiyn"),
        (2024, i64::MIN, "amount_tiyn"),
        (2024, MAX_AMOUNT_TIYN + 1, "amount_tiyn"),
        (-1, 100, "fiscal_year"),
        (262_142, 100, "fiscal_year"),
    ]
    .into_iter()
    .enumerate()
    {
        let refused = harness
            .client
            .record_revenue(with_token(revenue(&format!("r{n}"), year, amount), &admin))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field], "{year} {amount}");
    }
    let national = harness
        .client
        .get_revenue_summary(with_token(summary(2024), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(national.years[0].total_tiyn, 0, "nothing was stored");

    // Names and codes with NUL or control characters.
    for (n, (name, kato, field)) in [
        ("a\0b", "613633200", "territory.name.ru"),
        ("bell\u{7}", "613633200", "territory.name.ru"),
        ("Агыбет", "61363320\0", "territory.kato"),
        ("\u{1b}[2J", "613633200", "territory.name.ru"),
    ]
    .into_iter()
    .enumerate()
    {
        let refused = harness
            .client
            .upsert_territory(with_token(
                create(&format!("t{n}"), input(kato, TerritoryKind::Village, name)),
                &admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field], "{name:?} {kato:?}");
    }

    // Filters with far more values than there are kinds.
    let refused = harness
        .client
        .list_territories(with_token(
            ListTerritoriesRequest {
                kinds: vec![TerritoryKind::Village as i32; 100_000],
                ..ListTerritoriesRequest::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["kinds"]);
    let listed = harness
        .client
        .list_territories(with_token(
            ListTerritoriesRequest {
                scope: TerritoryScope::Subtree as i32,
                ..ListTerritoriesRequest::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.territories.len(), 4, "only the seeded chain");

    // A 2 MiB value is not quoted back whole.
    let refused = harness
        .client
        .get_territory(with_token(
            GetTerritoryRequest {
                kato: "6".repeat(2 << 20),
                include_ancestors: false,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().len() < 4096,
        "{}",
        refused.message().len()
    );
}

/// A body that is not protobuf is the caller's mistake.
async fn malformed_bodies_are_invalid_arguments(database: TestDatabase) {
    let harness = crate::start(database).await;
    let channel = harness.server.channel().await;
    let rpc = aimaq_testing::hostile::rpcs("aimaq.governance.v1.GovernanceService")
        .into_iter()
        .find(|rpc| rpc.path.ends_with("/UpsertTerritory"))
        .unwrap();
    for body in [&[0x0a, 0x05, b'a'][..], &[0x08, 0x80, 0x80], &[0xff; 8]] {
        let outcome = aimaq_testing::hostile::call(
            &channel,
            &rpc,
            vec![bytes::Bytes::copy_from_slice(body)],
            &harness.admin(),
        )
        .await;
        assert_eq!(outcome.code, tonic::Code::InvalidArgument, "{outcome:?}");
    }
}

/// Rows written before amounts were bounded (or by hand in the database) cannot
/// break the national summary for everyone: it answers FAILED_PRECONDITION
/// naming the year, never INTERNAL.
async fn planted_revenue_gives_a_clear_error(database: TestDatabase) {
    use sea_orm::ConnectionTrait;
    let mut harness = crate::start(database).await;
    harness.seed_chain().await;
    let admin = harness.admin();
    harness
        .client
        .record_revenue(with_token(revenue("fine", 2023, 100), &admin))
        .await
        .unwrap();
    let db = sea_orm::Database::connect(&harness.server.database.url)
        .await
        .unwrap();
    for (n, amount) in [i64::MAX, i64::MAX].into_iter().enumerate() {
        db.execute_unprepared(&format!(
            "INSERT INTO revenues (territory_kato, fiscal_year, source, amount_tiyn, note, recorded_at_micros) \
             VALUES ('613633000', 2024, '{}', {amount}, 'planted', {n})",
            ["land_tax", "property_tax"][n]
        ))
        .await
        .unwrap();
    }
    db.close().await.unwrap();
    let refused = harness
        .client
        .get_revenue_summary(with_token(summary(2024), &admin))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(refused.message().contains("2024"), "{refused:?}");
    // Other years still answer.
    let earlier = harness
        .client
        .get_revenue_summary(with_token(summary(2023), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(earlier.years[0].total_tiyn, 100);
}

on_both_backends!(
    hostile_values_are_refused_by_field,
    malformed_bodies_are_invalid_arguments,
    planted_revenue_gives_a_clear_error
);
