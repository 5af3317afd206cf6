//! The national classifier through ImportTerritories, then listed.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use aimaq_governance::classifier;
use aimaq_proto::governance::v1::{
    ListTerritoriesRequest, TerritoryInput, TerritoryKind, TerritoryScope,
};
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use aimaq_types::Kato;
use tonic::Code;

use super::{input, start};

fn classifier_rows() -> Vec<TerritoryInput> {
    classifier::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kato-2022.csv"),
    )
    .unwrap()
}

async fn the_classifier_is_imported_once_and_listed(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.admin();
    let rows = classifier_rows();
    let started = Instant::now();
    let first = classifier::import(&mut harness.client, &token, "kato-2022", rows.clone())
        .await
        .unwrap();
    eprintln!(
        "imported {} territories in {:?}",
        first.created,
        started.elapsed()
    );
    assert_eq!(
        (first.created, first.updated, first.rejected),
        (16_264, 0, 0)
    );

    let replay = classifier::import(&mut harness.client, &token, "kato-2022", rows.clone())
        .await
        .unwrap();
    assert_eq!(replay, first, "a retried import returns the first answer");
    let again = classifier::import(&mut harness.client, &token, "kato-2022-again", rows.clone())
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, 16_264)
    );

    // The children of Baidibek district, page by page.
    let codes: HashSet<Kato> = rows.iter().map(|r| Kato::parse(&r.kato).unwrap()).collect();
    let district = Kato::parse("613600000").unwrap();
    let mut expected: Vec<String> = codes
        .iter()
        .filter(|code| code.parent_in(|k| codes.contains(&k)) == Some(district))
        .map(|code| code.to_string())
        .collect();
    expected.sort();
    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = harness
            .client
            .list_territories(with_token(
                ListTerritoriesRequest {
                    parent_kato: district.to_string(),
                    page_size: 7,
                    page_token: page_token.clone(),
                    ..ListTerritoriesRequest::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size as usize, expected.len());
        assert!(page.territories.len() <= 7);
        listed.extend(page.territories.into_iter().map(|t| t.kato));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(listed, expected);

    // The whole Turkestan region, and only its rural districts.
    let subtree = |kinds: Vec<i32>| ListTerritoriesRequest {
        parent_kato: "610000000".into(),
        scope: TerritoryScope::Subtree as i32,
        kinds,
        page_size: 1,
        ..ListTerritoriesRequest::default()
    };
    let all = harness
        .client
        .list_territories(with_token(subtree(vec![]), &token))
        .await
        .unwrap()
        .into_inner();
    let in_region = codes
        .iter()
        .filter(|c| c.has_prefix("61") && c.to_string() != "610000000")
        .count();
    assert_eq!(all.total_size as usize, in_region);
    let rural_districts = harness
        .client
        .list_territories(with_token(
            subtree(vec![TerritoryKind::RuralDistrict as i32]),
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let expected_rural = rows
        .iter()
        .filter(|r| r.kato.starts_with("61") && r.kind == TerritoryKind::RuralDistrict as i32)
        .count();
    assert_eq!(rural_districts.total_size as usize, expected_rural);

    // Top level: the 17 regions and 3 cities.
    let top = harness
        .client
        .list_territories(with_token(
            ListTerritoriesRequest {
                page_size: 100,
                ..ListTerritoriesRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(top.territories.len(), 20);

    let bad = harness
        .client
        .list_territories(with_token(
            ListTerritoriesRequest {
                page_token: "not-a-token".into(),
                ..ListTerritoriesRequest::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("page_token"));
}

async fn bad_rows_are_rejected_with_reasons(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.admin();
    let rows = vec![
        input("610000000", TerritoryKind::Region, "Туркестанская область"),
        input("613600000", TerritoryKind::Village, "not a village level"),
        input("623600000", TerritoryKind::District, "orphan"),
        input("61360000x", TerritoryKind::District, "bad code"),
    ];
    let answer = classifier::import(&mut harness.client, &token, "bad-rows", rows)
        .await
        .unwrap();
    assert_eq!((answer.created, answer.rejected), (1, 3));
    let reasons: Vec<(&str, &str)> = answer
        .rejections
        .iter()
        .map(|r| (r.kato.as_str(), r.reason.as_str()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(k, r)| *k == "613600000" && r.contains("kind")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(k, r)| *k == "623600000" && r.contains("620000000")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(k, r)| *k == "61360000x" && r.contains("9 digits")),
        "{reasons:?}"
    );

    let outside = harness.writer(Some("71"));
    let refused = classifier::import(
        &mut harness.client,
        &outside,
        "outside",
        vec![input("610000000", TerritoryKind::Region, "x")],
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("KATO prefix 71"), "{refused}");
}

on_both_backends!(
    the_classifier_is_imported_once_and_listed,
    bad_rows_are_rejected_with_reasons,
);
