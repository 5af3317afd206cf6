//! A certified election's results bundle: served, then checked and
//! recounted by the standalone verifier as an observer would, offline; any
//! change to what it holds is found.

use aimaq_proto::governance::v1::{ElectionResultsBundle, GetElectionResultsBundleRequest};
use aimaq_testing::{test_log_verifier_key, with_token};
use aimaq_tlog::NoteVerifier;
use aimaq_verify::{Finding, verify_bundle};
use tonic::Code;

use crate::Harness;
use crate::elections::ElectionUnderTest;

async fn bundle(
    harness: &mut Harness,
    election: &str,
) -> Result<ElectionResultsBundle, tonic::Status> {
    let request = GetElectionResultsBundleRequest {
        election: election.to_owned(),
    };
    let token = harness.admin();
    let answer = harness
        .client
        .get_election_results_bundle(with_token(request, &token))
        .await?;
    Ok(answer.into_inner().bundle.unwrap())
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
