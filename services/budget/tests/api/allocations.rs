//! The allocation tree: draws within headroom, missing parents, reductions,
//! versions, the governance check, and concurrent allocations.

use aimaq_proto::budget::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;
use tonic_types::StatusExt;

use super::{PROGRAM, start, tiyn};

async fn the_tree_holds_its_sums(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.programme(1000).await;

    let orphan = harness
        .allocate("orphan", "613600000", 10)
        .await
        .unwrap_err();
    assert_eq!(orphan.code(), Code::FailedPrecondition);
    let details = orphan.get_error_details();
    assert_eq!(
        details.precondition_failure().unwrap().violations[0].subject,
        format!("allocations/{PROGRAM}/2024/610000000")
    );

    let over = harness
        .allocate("region-over", "610000000", 1001)
        .await
        .unwrap_err();
    assert_eq!(over.code(), Code::FailedPrecondition);
    assert!(over.message().contains("1,000.00 KZT"), "{over:?}");
    let region = harness.allocate("region", "610000000", 600).await.unwrap();
    assert_eq!(region.parent, "");
    harness
        .allocate("district", "613600000", 400)
        .await
        .unwrap();
    harness.allocate("rural", "613633000", 300).await.unwrap();
    let village = harness.allocate("village", "613633100", 250).await.unwrap();
    assert_eq!(
        village.parent,
        format!("allocations/{PROGRAM}/2024/613633000")
    );

    let too_much = harness
        .allocate("district-2", "611000000", 201)
        .await
        .unwrap_err();
    assert_eq!(too_much.code(), Code::FailedPrecondition);
    assert!(
        too_much.message().contains("200.00 KZT free"),
        "{too_much:?}"
    );
    // In Russian, with the sums written as people here write them, and the
    // sums as numbers for programs.
    let mut request = with_token(
        AllocateRequest {
            request_id: "district-2-ru".into(),
            program_code: PROGRAM.into(),
            fiscal_year: 2024,
            territory_kato: "611000000".into(),
            amount_tiyn: tiyn(201),
        },
        &harness.tokens.admin(),
    );
    request
        .metadata_mut()
        .insert("accept-language", "ru".parse().unwrap());
    let in_russian = harness.client.allocate(request).await.unwrap_err();
    let details = in_russian.get_error_details();
    assert_eq!(
        details.localized_message().unwrap().message,
        format!(
            "Невозможно выполнить в текущем состоянии: allocations/{PROGRAM}/2024/610000000 \
             (всего 600,00 ₸; задействовано 400,00 ₸; запрошено 201,00 ₸; свободно 200,00 ₸)."
        )
    );
    let metadata = &details.error_info().unwrap().metadata;
    assert_eq!(metadata["asked_tiyn"], tiyn(201).to_string());
    assert_eq!(metadata["free_tiyn"], tiyn(200).to_string());

    let region = harness.allocation("610000000").await;
    assert_eq!(
        (region.committed_tiyn, region.headroom_tiyn),
        (tiyn(400), tiyn(200))
    );

    // Lowering below what is committed below is refused with the numbers. (The
    // district's version moved when the rural district drew on it.)
    let district = harness.allocation("613600000").await;
    assert_eq!(district.version, 2);
    let below = harness
        .adjust("cut", "613600000", -101, district.version)
        .await
        .unwrap_err();
    assert_eq!(below.code(), Code::FailedPrecondition);
    assert!(below.message().contains("300.00 KZT"), "{below:?}");
    let stale = harness
        .adjust("stale", "613600000", -50, 7)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let lowered = harness
        .adjust("cut-ok", "613600000", -100, district.version)
        .await
        .unwrap();
    assert_eq!(lowered.amount_tiyn, tiyn(300));
    assert_eq!(
        harness.allocation("610000000").await.committed_tiyn,
        tiyn(300)
    );

    // The envelope cannot go below what the regions hold.
    let token = harness.tokens.admin();
    let envelope = harness
        .client
        .set_envelope(with_token(
            SetEnvelopeRequest {
                request_id: "envelope-cut".into(),
                program_code: PROGRAM.into(),
                fiscal_year: 2024,
                amount_tiyn: tiyn(500),
                expected_version: 1,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(envelope.code(), Code::FailedPrecondition);
    assert!(envelope.message().contains("600.00 KZT"), "{envelope:?}");

    let unknown = harness
        .allocate("nowhere", "619999000", 1)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let listed = harness
        .client
        .list_allocations(with_token(
            ListAllocationsRequest {
                program_code: PROGRAM.into(),
                territory_kato: "613600000".into(),
                ..ListAllocationsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<&str> = listed
        .allocations
        .iter()
        .map(|a| a.territory_kato.as_str())
        .collect();
    assert_eq!(codes, ["613600000", "613633000", "613633100"]);
}

/// Eight districts ask 20 each of a region holding 100 at once: five get it.
async fn concurrent_allocations_never_exceed_the_parent(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.programme(1000).await;
    harness.allocate("region", "610000000", 100).await.unwrap();
    let districts = [
        "611000000",
        "611200000",
        "611400000",
        "611600000",
        "611800000",
        "612000000",
        "612200000",
        "612400000",
    ];
    let token = harness.tokens.admin();
    let calls: Vec<_> = districts
        .iter()
        .map(|kato| {
            let mut client = harness.client.clone();
            let request = with_token(
                AllocateRequest {
                    request_id: format!("race-{kato}"),
                    program_code: PROGRAM.into(),
                    fiscal_year: 2024,
                    territory_kato: (*kato).into(),
                    amount_tiyn: tiyn(20),
                },
                &token,
            );
            tokio::spawn(async move { client.allocate(request).await })
        })
        .collect();
    let mut granted = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => granted += 1,
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
        }
    }
    assert_eq!(granted, 5);
    let region = harness.allocation("610000000").await;
    assert_eq!(
        (region.committed_tiyn, region.headroom_tiyn),
        (tiyn(100), 0)
    );
}

/// Without governance, an allocation fails UNAVAILABLE instead of guessing.
async fn governance_unreachable_is_unavailable(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.programme(1000).await;
    drop(harness.governance.take());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = harness
        .allocate("region", "610000000", 10)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

/// Money of a year goes only to a territory that existed then: Abai region,
/// formed on 8 June 2022, takes 2022's money and not 2021's.
async fn money_goes_to_territories_of_its_year(database: TestDatabase) {
    use aimaq_proto::governance::v1::TerritoryKind;
    let mut harness = start(database).await;
    harness.programme(1000).await;
    let token = harness.tokens.admin();
    harness
        .formed(
            ("100000000", TerritoryKind::Region),
            "область Абай",
            (2022, 6, 8),
        )
        .await;
    for year in [2021, 2022] {
        harness
            .client
            .set_envelope(with_token(
                SetEnvelopeRequest {
                    request_id: format!("envelope-{year}"),
                    program_code: PROGRAM.into(),
                    fiscal_year: year,
                    amount_tiyn: tiyn(1000),
                    expected_version: 0,
                },
                &token,
            ))
            .await
            .unwrap();
    }
    let allocate = |year: i32| {
        let mut client = harness.client.clone();
        let request = with_token(
            AllocateRequest {
                request_id: format!("abai-{year}"),
                program_code: PROGRAM.into(),
                fiscal_year: year,
                territory_kato: "100000000".into(),
                amount_tiyn: tiyn(100),
            },
            &token,
        );
        async move { client.allocate(request).await }
    };
    let before = allocate(2021).await.unwrap_err();
    assert_eq!(before.code(), Code::InvalidArgument);
    assert_eq!(
        before.get_details_bad_request().unwrap().field_violations[0].field,
        "territory_kato"
    );
    assert!(before.message().contains("2021"), "{before:?}");
    allocate(2022).await.unwrap();
}

on_both_backends!(
    money_goes_to_territories_of_its_year,
    the_tree_holds_its_sums,
    concurrent_allocations_never_exceed_the_parent,
    governance_unreachable_is_unavailable,
);
