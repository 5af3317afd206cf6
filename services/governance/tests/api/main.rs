// Tests fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The governance API through a real gRPC client against a real server on an
//! ephemeral port, on SQLite and on PostgreSQL.

mod bundle;
mod classifier;
mod election_bounds;
mod elections;
mod hostile;
mod lifecycle;
mod local_budget;
mod platform;
mod summary;
mod territories;

use aimaq_auth::Scope;
use aimaq_proto::common::v1::{AuditVerification, LocalizedText};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    TerritoryInput, TerritoryKind, UpsertTerritoryRequest, UpsertTerritoryResponse,
    VerifyAuditLogRequest,
};
use aimaq_testing::{TestDatabase, TestServer, TestTokens, with_token};
use tonic::transport::Channel;

pub struct Harness {
    pub server: TestServer,
    pub tokens: TestTokens,
    pub client: GovernanceServiceClient<Channel>,
}

pub async fn start(database: TestDatabase) -> Harness {
    let tokens = TestTokens::new();
    let server = TestServer::start(database, &tokens, aimaq_governance::run).await;
    let client = GovernanceServiceClient::new(server.channel().await);
    Harness {
        server,
        tokens,
        client,
    }
}

pub fn input(kato: &str, kind: TerritoryKind, name: &str) -> TerritoryInput {
    TerritoryInput {
        kato: kato.into(),
        kind: kind as i32,
        name: Some(LocalizedText {
            ru: name.into(),
            ..LocalizedText::default()
        }),
        rural: matches!(kind, TerritoryKind::Village | TerritoryKind::RuralDistrict),
        population: 1000,
        growth_points: None,
        valid_from: None,
        valid_to: None,
    }
}

pub fn create(request_id: &str, territory: TerritoryInput) -> UpsertTerritoryRequest {
    UpsertTerritoryRequest {
        request_id: request_id.into(),
        territory: Some(territory),
        expected_version: 0,
    }
}

impl Harness {
    pub fn admin(&self) -> String {
        self.tokens.admin()
    }

    pub fn writer(&self, kato_prefix: Option<&str>) -> String {
        self.tokens.token(
            "territory-writer",
            &[Scope::GovernanceRead, Scope::GovernanceWrite],
            kato_prefix,
        )
    }

    /// The service's own check of its audit log, asked by an admin.
    pub async fn verify_audit_log(&mut self) -> AuditVerification {
        let token = self.admin();
        self.client
            .verify_audit_log(with_token(VerifyAuditLogRequest {}, &token))
            .await
            .unwrap()
            .into_inner()
            .verification
            .unwrap()
    }

    pub async fn upsert(&mut self, request: UpsertTerritoryRequest) -> UpsertTerritoryResponse {
        let token = self.admin();
        self.client
            .upsert_territory(with_token(request, &token))
            .await
            .expect("upsert")
            .into_inner()
    }

    /// Turkestan region → Baidibek district → Agybet rural district → Agybet village.
    pub async fn seed_chain(&mut self) {
        for (id, kato, kind, name) in [
            (
                "seed-1",
                "610000000",
                TerritoryKind::Region,
                "Туркестанская область",
            ),
            (
                "seed-2",
                "613600000",
                TerritoryKind::District,
                "Байдибекский район",
            ),
            (
                "seed-3",
                "613633000",
                TerritoryKind::RuralDistrict,
                "Агыбетский с.о.",
            ),
            ("seed-4", "613633100", TerritoryKind::Village, "с.Агыбет"),
        ] {
            self.upsert(create(id, input(kato, kind, name))).await;
        }
    }
}
