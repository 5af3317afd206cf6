//! Arbitrary and malformed requests at every RPC: no INTERNAL, no panic.

use aimaq_testing::hostile::assert_no_faults;
use aimaq_testing::{TestDatabase, on_both_backends};

async fn no_request_is_answered_with_a_fault(database: TestDatabase) {
    let harness = crate::start(database).await;
    let channel = harness.server.channel().await;
    let service = "aimaq.grants.v1.GrantsService";
    assert_no_faults(&channel, service, &harness.tokens.admin()).await;
}

on_both_backends!(no_request_is_answered_with_a_fault);
