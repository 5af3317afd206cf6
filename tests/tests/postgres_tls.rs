//! PostgreSQL over TLS: a service whose database URL says
//! `sslmode=verify-full` works end to end against a cluster that takes only TLS
//! connections (`.ci/postgres-tls`); the server's certificate is verified, so
//! another CA is refused, and a plaintext connection is refused by the server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_storage::Database;
use aimaq_testing::{TestDatabase, TestServer, TestTokens, with_token};
use sea_orm::{ConnectionTrait, Statement};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_runs_on_postgres_over_verified_tls() {
    let Some(database) = TestDatabase::postgres_tls().await else {
        return;
    };
    assert!(
        database.url.contains("sslmode=verify-full"),
        "{}",
        database.url
    );
    let url = database.url.clone();

    // The connection is encrypted, as PostgreSQL itself reports.
    let connected = Database::connect(&url).await.unwrap();
    let ssl = connected
        .connection()
        .query_one_raw(Statement::from_string(
            connected.backend(),
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(ssl.try_get::<bool>("", "ssl").unwrap());
    connected.close().await;

    // A certificate from a CA the URL does not trust: refused.
    let other_ca = url.replace("/ca.crt", "/other-ca.crt");
    let refused = Database::connect(&other_ca).await;
    assert!(refused.is_err(), "a server the CA did not sign was trusted");
    // Without TLS: the server refuses.
    let plain = url.replace("sslmode=verify-full", "sslmode=disable");
    assert!(
        Database::connect(&plain).await.is_err(),
        "plaintext was accepted"
    );

    // A whole service on it: a write and the read that follows.
    let tokens = TestTokens::new();
    let server = TestServer::start(database, &tokens, aimaq_governance::run).await;
    let mut governance = GovernanceServiceClient::new(server.channel().await);
    let token = tokens.admin();
    governance
        .upsert_territory(with_token(
            UpsertTerritoryRequest {
                request_id: "tls".into(),
                expected_version: 0,
                territory: Some(TerritoryInput {
                    kato: "610000000".into(),
                    kind: TerritoryKind::Region as i32,
                    name: Some(aimaq_proto::common::v1::LocalizedText {
                        ru: "Туркестанская область".into(),
                        ..Default::default()
                    }),
                    ..TerritoryInput::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap();
    let read = governance
        .get_territory(with_token(
            GetTerritoryRequest {
                kato: "610000000".into(),
                include_ancestors: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.territory.unwrap().kato, "610000000");
}
