//! A certified election's results bundle: served, then checked and
//! recounted by the standalone verifier as an observer would, offline; any
//! change to what it holds is found.

use aimaq_proto::governance::v1::{
    ElectionResultsBundle, GetElectionResultsBundleRequest, GetElectionResultsBundleResponse,
    TerritoryKind,
};
use aimaq_storage::paging::Page;
use aimaq_testing::{test_log_verifier_key, with_token};
use aimaq_tlog::NoteVerifier;
use aimaq_verify::results::join_pages;
use aimaq_verify::{Finding, verify_bundle};
use tonic::Code;
use tonic_types::StatusExt;

use crate::elections::ElectionUnderTest;
use crate::{Harness, create, input};

async fn page(
    harness: &mut Harness,
    election: &str,
    page_size: i32,
    page_token: &str,
) -> Result<GetElectionResultsBundleResponse, tonic::Status> {
    let request = GetElectionResultsBundleRequest {
        election: election.to_owned(),
        page_size,
        page_token: page_token.to_owned(),
    };
    let token = harness.admin();
    let answer = harness
        .client
        .get_election_results_bundle(with_token(request, &token))
        .await?;
    Ok(answer.into_inner())
}

/// The whole bundle, in one page.
async fn bundle(
    harness: &mut Harness,
    election: &str,
) -> Result<ElectionResultsBundle, tonic::Status> {
    let answer = page(harness, election, 0, "").await?;
    assert_eq!(answer.next_page_token, "", "one page holds it");
    Ok(answer.bundle.unwrap())
}

/// A page token whose cursor is `key`, as the service makes them.
fn token_of(key: &str) -> String {
    let page = Page {
        size: 1,
        after: None,
    };
    page.finish(vec![(), ()], |_| key.to_owned()).1
}

/// Asked a station at a time, the same election's bundle comes in pages:
/// joined, they are the whole bundle, every page proved against the first
/// page's checkpoint though the log grew between them.
pub(crate) async fn the_bundle_comes_in_pages(harness: &mut Harness, election: &ElectionUnderTest) {
    let key = NoteVerifier::parse(&test_log_verifier_key()).unwrap();
    let whole = bundle(harness, &election.name).await.unwrap();
    let first = page(harness, &election.name, 1, "").await.unwrap();
    assert_ne!(first.next_page_token, "");
    let first_page = first.bundle.unwrap();
    assert_eq!(first_page.evidence.len(), 2, "the results and station 1");
    let size = first_page.checkpoint.as_ref().unwrap().tree_size;

    let village = input("613633200", TerritoryKind::Village, "Жаңа ауыл");
    harness.upsert(create("bundle-pages-growth", village)).await;
    let second = page(harness, &election.name, 1, &first.next_page_token)
        .await
        .unwrap();
    assert_eq!(second.next_page_token, "", "station 2 is the last");
    let second_page = second.bundle.unwrap();
    assert_eq!(second_page.checkpoint, None);
    assert_eq!(second_page.evidence.len(), 1);

    let joined = join_pages(vec![first_page.clone(), second_page.clone()]).unwrap();
    assert_eq!(joined.evidence.len(), whole.evidence.len());
    let recount = verify_bundle(&joined, &key).unwrap();
    assert_eq!(recount.tree_size, size);
    let mut recounted_whole = verify_bundle(&whole, &key).unwrap();
    recounted_whole.tree_size = size;
    assert_eq!(recount, recounted_whole);

    // A later page passed off with a checkpoint of its own is refused.
    let mut posing = second_page.clone();
    posing.checkpoint = whole.checkpoint.clone();
    assert!(matches!(
        join_pages(vec![first_page, posing]),
        Err(Finding::Malformed(_))
    ));

    // Tokens not of this bundle: another election's, a log larger than the
    // log, or no token at all.
    let id = election.name.trim_start_matches("elections/");
    for forged in [
        token_of(&format!("999:{size}:1")),
        token_of(&format!("{id}:{}:1", size + 1_000_000)),
        "not-a-token".to_owned(),
    ] {
        let refused = page(harness, &election.name, 1, &forged).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        let violations = refused.get_details_bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "page_token", "{refused:?}");
    }
}

/// Not certified yet: there is no bundle to give.
pub(crate) async fn no_bundle_before_certification(
    harness: &mut Harness,
    election: &ElectionUnderTest,
) {
    let early = bundle(harness, &election.name).await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
}

/// The election certified with stations 1 and 2 reporting (station 2
/// corrected once) and station 3 closed, won by the second candidate.
pub(crate) async fn the_bundle_recounts_to_the_certified_result(
    harness: &mut Harness,
    election: &ElectionUnderTest,
) {
    let served = bundle(harness, &election.name).await.unwrap();
    let key = NoteVerifier::parse(&test_log_verifier_key()).unwrap();
    let recount = verify_bundle(&served, &key).unwrap();
    assert_eq!(recount.stations_counted, 2);
    assert!(recount.outcome.starts_with("winner:"), "{recount:?}");
    let protocols = &served.evidence[2];
    assert_eq!(protocols.rows.len(), 2, "both versions of station 2");

    // One more "against all" in a counted protocol.
    let mut moved = served.clone();
    let row = moved.evidence[1].rows.last_mut().unwrap();
    let against = row
        .columns
        .iter_mut()
        .find(|c| c.name == "against_all")
        .unwrap();
    against.value = (against.value.parse::<i64>().unwrap() + 1).to_string();
    assert!(
        matches!(
            verify_bundle(&moved, &key),
            Err(Finding::StateDiffers { .. })
        ),
        "{:?}",
        verify_bundle(&moved, &key)
    );

    // A station's evidence left out.
    let mut short = served.clone();
    short.evidence.pop();
    assert!(matches!(
        verify_bundle(&short, &key),
        Err(Finding::Malformed(_))
    ));

    // The certification's row swapped for another outcome.
    let mut outcome = served.clone();
    let row = &mut outcome.evidence[0].rows[0];
    let column = row
        .columns
        .iter_mut()
        .find(|c| c.name == "outcome")
        .unwrap();
    column.value = "'repeat'".into();
    assert!(matches!(
        verify_bundle(&outcome, &key),
        Err(Finding::StateDiffers { .. })
    ));

    // A record from another log, or a proof bent: not in the log.
    let mut bent = served.clone();
    let proof = bent.evidence[1].proof.as_mut().unwrap();
    proof.hashes[0][0] ^= 1;
    assert!(matches!(
        verify_bundle(&bent, &key),
        Err(Finding::NotIncluded { .. })
    ));

    // Another key: the checkpoint is not governance's.
    let other =
        aimaq_tlog::NoteSigner::generate(aimaq_testing::TEST_LOG_ORIGIN, aimaq_tlog::KeyRole::Log)
            .unwrap();
    let impostor = NoteVerifier::parse(&other.verifier_key()).unwrap();
    assert!(matches!(
        verify_bundle(&served, &impostor),
        Err(Finding::BadSignature { .. })
    ));
}
