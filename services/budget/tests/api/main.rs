// Tests fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The budget API through a real gRPC client against a real server on an
//! ephemeral port, on SQLite and on PostgreSQL.

mod programs;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_testing::{TestDatabase, TestServer, TestTokens};
use tonic::transport::Channel;

pub struct Harness {
    pub server: TestServer,
    pub tokens: TestTokens,
    pub client: BudgetServiceClient<Channel>,
}

pub async fn start(database: TestDatabase) -> Harness {
    let tokens = TestTokens::new();
    let server = TestServer::start(database, &tokens, aimaq_budget::run).await;
    let client = BudgetServiceClient::new(server.channel().await);
    Harness {
        server,
        tokens,
        client,
    }
}
