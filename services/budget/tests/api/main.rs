// Tests fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The budget API through a real gRPC client against a real server on an
//! ephemeral port, on SQLite and on PostgreSQL.

mod allocations;
mod concurrency;
mod hostile;
mod programs;
mod project_pages;
mod projects;
mod reports;
mod summary;
mod targets;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_testing::territories::governance_with;
use aimaq_testing::{TestDatabase, TestServer, TestTokens, with_token};
use tonic::transport::Channel;

pub struct Harness {
    pub server: TestServer,
    pub governance: Option<TestServer>,
    pub tokens: TestTokens,
    pub client: BudgetServiceClient<Channel>,
}

/// The budget service, asking a governance service (on SQLite) that holds the
/// Turkestan region with some of its districts and their chains.
pub async fn start(database: TestDatabase) -> Harness {
    let tokens = TestTokens::new();
    let governance = governance_with(&tokens, aimaq_governance::run, &[]).await;
    let url = governance.url();
    let server = TestServer::start(database, &tokens, move |config, listener, shutdown| {
        aimaq_budget::run(config, url, listener, shutdown)
    })
    .await;
    let client = BudgetServiceClient::new(server.channel().await);
    Harness {
        server,
        governance: Some(governance),
        tokens,
        client,
    }
}

pub const PROGRAM: &str = "AUYL_EL_BESIGI";

pub fn tiyn(tenge: i64) -> i64 {
    tenge * 100
}

impl Harness {
    pub async fn programme(&mut self, envelope_tenge: i64) {
        let token = self.tokens.admin();
        self.client
            .create_program(with_token(
                CreateProgramRequest {
                    request_id: "program".into(),
                    program: Some(Program {
                        code: PROGRAM.into(),
                        title: Some(aimaq_proto::common::v1::LocalizedText {
                            ru: "Ауыл – Ел бесігі".into(),
                            ..Default::default()
                        }),
                        kind: ProgramKind::RuralInfrastructure as i32,
                        funding_source: FundingSource::NationalBudget as i32,
                        first_year: 2019,
                        last_year: 2027,
                        ..Program::default()
                    }),
                },
                &token,
            ))
            .await
            .unwrap();
        self.client
            .set_envelope(with_token(
                SetEnvelopeRequest {
                    request_id: "envelope".into(),
                    program_code: PROGRAM.into(),
                    fiscal_year: 2024,
                    amount_tiyn: tiyn(envelope_tenge),
                    expected_version: 0,
                },
                &token,
            ))
            .await
            .unwrap();
    }

    /// Tells governance of a territory formed on `formed` (year, month, day).
    pub async fn formed(
        &self,
        territory: (&str, aimaq_proto::governance::v1::TerritoryKind),
        name: &str,
        formed: (i32, i32, i32),
    ) {
        let governance = self.governance.as_ref().unwrap().channel().await;
        aimaq_testing::territories::formed(governance, &self.tokens, territory, name, formed).await;
    }

    pub async fn allocate(
        &mut self,
        id: &str,
        kato: &str,
        tenge: i64,
    ) -> Result<Allocation, tonic::Status> {
        let token = self.tokens.admin();
        self.client
            .allocate(with_token(
                AllocateRequest {
                    request_id: id.into(),
                    program_code: PROGRAM.into(),
                    fiscal_year: 2024,
                    territory_kato: kato.into(),
                    amount_tiyn: tiyn(tenge),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().allocation.unwrap())
    }

    pub async fn adjust(
        &mut self,
        id: &str,
        kato: &str,
        delta: i64,
        version: i64,
    ) -> Result<Allocation, tonic::Status> {
        let token = self.tokens.admin();
        self.client
            .adjust_allocation(with_token(
                AdjustAllocationRequest {
                    request_id: id.into(),
                    allocation: format!("allocations/{PROGRAM}/2024/{kato}"),
                    delta_tiyn: tiyn(delta),
                    expected_version: version,
                    reason: "revision".into(),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().allocation.unwrap())
    }

    pub async fn allocation(&mut self, kato: &str) -> Allocation {
        let token = self.tokens.admin();
        self.client
            .get_allocation(with_token(
                GetAllocationRequest {
                    allocation: format!("allocations/{PROGRAM}/2024/{kato}"),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .allocation
            .unwrap()
    }
}
