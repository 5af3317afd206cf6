// Tests fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The grants API through a real gRPC client against a real server on an
//! ephemeral port, on SQLite and on PostgreSQL.

mod applications;
mod checks;
mod hostile;
mod statistics;
mod terms;

use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_testing::territories::governance_with;
use aimaq_testing::{TestDatabase, TestServer, TestTokens};
use tonic::transport::Channel;

pub struct Harness {
    pub server: TestServer,
    pub governance: Option<TestServer>,
    pub tokens: TestTokens,
    pub client: GrantsServiceClient<Channel>,
}

/// The grants service, asking a governance service (on SQLite) that holds the
/// Turkestan region with two rural villages.
pub async fn start(database: TestDatabase) -> Harness {
    let tokens = TestTokens::new();
    let governance = governance_with(&tokens, aimaq_governance::run, &[]).await;
    let url = governance.url();
    let server = TestServer::start(database, &tokens, move |config, listener, shutdown| {
        aimaq_grants::run(config, url, listener, shutdown)
    })
    .await;
    let client = GrantsServiceClient::new(server.channel().await);
    Harness {
        server,
        governance: Some(governance),
        tokens,
        client,
    }
}
