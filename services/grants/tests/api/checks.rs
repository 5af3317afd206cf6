//! `validate_only`: a request checked as it would be written, refused for
//! the same reasons, and never recorded.

use aimaq_proto::grants::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;

use super::applications::application;
use super::start;

async fn a_checked_application_is_answered_and_not_recorded(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.terms(10).await;
    let admin = harness.tokens.admin();
    let checked = SubmitApplicationRequest {
        validate_only: true,
        ..application("checked", 5, 0)
    };
    let answer = harness
        .client
        .submit_application(with_token(checked.clone(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.application, None);
    let listed = harness
        .client
        .list_applications(with_token(ListApplicationsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.applications.is_empty());

    // Refused for the same reasons as a write.
    let refused = SubmitApplicationRequest {
        iin: "000315500000".into(),
        ..checked
    };
    let status = harness
        .client
        .submit_application(with_token(refused, &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("iin"), "{status:?}");

    // The same application written for real afterwards is recorded once.
    harness.submit(application("checked", 5, 0)).await.unwrap();
}

on_both_backends!(a_checked_application_is_answered_and_not_recorded);
