// Tests fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The grants API through a real gRPC client against a real server on an
//! ephemeral port, on SQLite and on PostgreSQL.

mod terms;

use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_testing::{TestDatabase, TestServer, TestTokens};
use tonic::transport::Channel;

pub struct Harness {
    pub server: TestServer,
    pub tokens: TestTokens,
    pub client: GrantsServiceClient<Channel>,
}

pub async fn start(database: TestDatabase) -> Harness {
    let tokens = TestTokens::new();
    let server = TestServer::start(database, &tokens, aimaq_grants::run).await;
    let client = GrantsServiceClient::new(server.channel().await);
    Harness {
        server,
        tokens,
        client,
    }
}
