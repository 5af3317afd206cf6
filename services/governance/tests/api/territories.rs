//! GetTerritory and UpsertTerritory.

use aimaq_proto::governance::v1::{
    GetTerritoryRequest, GetTerritoryResponse, TerritoryKind, UpsertTerritoryRequest,
};
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;
use tonic_types::StatusExt;

use super::{Harness, create, input, start};

async fn with_ancestors(harness: &mut Harness, kato: &str) -> GetTerritoryResponse {
    let token = harness.admin();
    let request = GetTerritoryRequest {
        kato: kato.into(),
        include_ancestors: true,
    };
    harness
        .client
        .get_territory(with_token(request, &token))
        .await
        .unwrap()
        .into_inner()
}

async fn territories_are_registered_with_their_parents(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let token = harness.admin();
    let answer = with_ancestors(&mut harness, "613633100").await;
    let village = answer.territory.unwrap();
    assert_eq!(village.parent_kato, "613633000");
    assert_eq!(village.level, 4);
    assert_eq!(village.version, 1);
    let chain: Vec<&str> = answer.ancestors.iter().map(|t| t.kato.as_str()).collect();
    assert_eq!(chain, ["613633000", "613600000", "610000000"]);

    // The chain is remembered, and forgotten when a territory changes: the
    // rural district renamed shows at once in its village's ancestors.
    let mut renamed = input("613633000", TerritoryKind::RuralDistrict, "Агыбет а.о.");
    renamed.population = 1000;
    harness
        .client
        .upsert_territory(with_token(
            UpsertTerritoryRequest {
                request_id: "rename".into(),
                territory: Some(renamed),
                expected_version: 1,
            },
            &token,
        ))
        .await
        .unwrap();
    let again = with_ancestors(&mut harness, "613633100").await;
    let name = again.ancestors[0].name.as_ref().unwrap();
    assert_eq!(name.ru, "Агыбет а.о.");

    let missing = harness
        .client
        .get_territory(with_token(
            GetTerritoryRequest {
                kato: "613633900".into(),
                include_ancestors: false,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(missing.get_error_details().resource_info().is_some());
}

async fn bad_input_names_every_field(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.admin();
    let mut territory = input("61363310", TerritoryKind::Unspecified, "x");
    territory.kind = 0;
    let status = harness
        .client
        .upsert_territory(with_token(create("bad-1", territory), &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["territory.kato", "territory.kind"]);

    let status = harness
        .client
        .upsert_territory(with_token(
            create("bad-2", input("613633100", TerritoryKind::Region, "")),
            &token,
        ))
        .await
        .unwrap_err();
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["territory.kind", "territory.name.ru"]);

    let status = harness
        .client
        .get_territory(with_token(
            GetTerritoryRequest {
                kato: "abc".into(),
                include_ancestors: false,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "kato"
    );
}

async fn parents_must_exist_and_versions_must_match(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.admin();
    let orphan = harness
        .client
        .upsert_territory(with_token(
            create(
                "orphan",
                input("613633100", TerritoryKind::Village, "с.Агыбет"),
            ),
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(orphan.code(), Code::FailedPrecondition);
    let details = orphan.get_error_details();
    let violation = &details.precondition_failure().unwrap().violations[0];
    assert_eq!(violation.subject, "territories/613633100");
    assert!(violation.description.contains("613633000"));

    harness.seed_chain().await;
    let again = harness
        .client
        .upsert_territory(with_token(
            create(
                "again",
                input("613633100", TerritoryKind::Village, "с.Агыбет"),
            ),
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    let mut renamed = input("613633100", TerritoryKind::Village, "с.Агыбет");
    renamed.population = 2450;
    let update = |id: &str, version: i64| UpsertTerritoryRequest {
        request_id: id.into(),
        territory: Some(renamed.clone()),
        expected_version: version,
    };
    let read = |harness: &mut super::Harness| {
        let mut client = harness.client.clone();
        let token = token.clone();
        async move {
            client
                .get_territory(with_token(
                    GetTerritoryRequest {
                        kato: "613633100".into(),
                        include_ancestors: false,
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .territory
                .unwrap()
        }
    };
    assert_eq!(read(&mut harness).await.version, 1);
    let stale = harness
        .client
        .upsert_territory(with_token(update("stale", 7), &token))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    assert!(stale.message().contains("version 1"), "{stale:?}");
    let updated = harness.upsert(update("fresh", 1)).await;
    assert!(!updated.created);
    let territory = updated.territory.unwrap();
    assert_eq!((territory.version, territory.population), (2, 2450));
    assert_eq!(territory.parent_kato, "613633000");
    // A read right after the write sees it, though the first read was remembered.
    let fresh = read(&mut harness).await;
    assert_eq!((fresh.version, fresh.population), (2, 2450));
}

async fn a_new_code_adopts_the_descendants_below_it(database: TestDatabase) {
    let mut harness = start(database).await;
    for (id, kato, kind) in [
        ("a-1", "610000000", TerritoryKind::Region),
        ("a-2", "613600000", TerritoryKind::District),
        ("a-3", "613633000", TerritoryKind::RuralDistrict),
        ("a-4", "613633110", TerritoryKind::Village),
    ] {
        harness.upsert(create(id, input(kato, kind, "x"))).await;
    }
    harness
        .upsert(create(
            "a-5",
            input("613633100", TerritoryKind::Village, "с.Агыбет"),
        ))
        .await;
    let token = harness.admin();
    let child = harness
        .client
        .get_territory(with_token(
            GetTerritoryRequest {
                kato: "613633110".into(),
                include_ancestors: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .territory
        .unwrap();
    assert_eq!(child.parent_kato, "613633100");
    assert_eq!(child.version, 2);
}

on_both_backends!(
    territories_are_registered_with_their_parents,
    bad_input_names_every_field,
    parents_must_exist_and_versions_must_match,
    a_new_code_adopts_the_descendants_below_it,
);
