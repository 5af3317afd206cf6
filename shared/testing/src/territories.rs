//! A governance server holding a few territories, for the services that check
//! territories with it (budget, grants).

use std::future::Future;

use aimaq_config::ServerConfig;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{TerritoryInput, TerritoryKind, UpsertTerritoryRequest};
use tokio::net::TcpListener;
use tonic::transport::Channel;

use crate::{ShutdownSignal, TestDatabase, TestServer, TestTokens, with_token};

/// Turkestan region's chain down to two villages of the Sairam district, and
/// eight more of its districts.
pub const TERRITORIES: [(&str, TerritoryKind); 13] = [
    ("610000000", TerritoryKind::Region),
    ("613600000", TerritoryKind::District),
    ("613633000", TerritoryKind::RuralDistrict),
    ("613633100", TerritoryKind::Village),
    ("613633200", TerritoryKind::Village),
    ("611000000", TerritoryKind::District),
    ("611200000", TerritoryKind::District),
    ("611400000", TerritoryKind::District),
    ("611600000", TerritoryKind::District),
    ("611800000", TerritoryKind::District),
    ("612000000", TerritoryKind::District),
    ("612200000", TerritoryKind::District),
    ("612400000", TerritoryKind::District),
];

/// Starts governance (`run` is `aimaq_governance::run`) on SQLite with
/// [`TERRITORIES`] plus `more`; villages are rural.
pub async fn governance_with<F, Fut, E>(
    tokens: &TestTokens,
    run: F,
    more: &[(&str, TerritoryKind)],
) -> TestServer
where
    F: FnOnce(ServerConfig, TcpListener, ShutdownSignal) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let governance = TestServer::start(TestDatabase::sqlite().await, tokens, run).await;
    seed(governance.channel().await, tokens, more).await;
    governance
}

/// Writes [`TERRITORIES`] plus `more` to the governance server behind `channel`;
/// villages are rural.
pub async fn seed(channel: Channel, tokens: &TestTokens, more: &[(&str, TerritoryKind)]) {
    let mut registry = GovernanceServiceClient::new(channel);
    let admin = tokens.admin();
    for (n, (kato, kind)) in TERRITORIES.iter().chain(more).enumerate() {
        registry
            .upsert_territory(with_token(
                UpsertTerritoryRequest {
                    request_id: format!("seed-{n}"),
                    territory: Some(TerritoryInput {
                        kato: (*kato).into(),
                        kind: *kind as i32,
                        name: Some(LocalizedText {
                            ru: (*kato).into(),
                            ..LocalizedText::default()
                        }),
                        rural: *kind == TerritoryKind::Village,
                        ..TerritoryInput::default()
                    }),
                    expected_version: 0,
                },
                &admin,
            ))
            .await
            .expect("seed a territory");
    }
}

/// Writes to the governance server behind `channel` a territory formed on
/// `(year, month, day)`, named `name` in Russian; a village is rural.
pub async fn formed(
    channel: Channel,
    tokens: &TestTokens,
    (kato, kind): (&str, TerritoryKind),
    name: &str,
    (year, month, day): (i32, i32, i32),
) {
    let input = TerritoryInput {
        kato: kato.into(),
        kind: kind as i32,
        name: Some(LocalizedText {
            ru: name.into(),
            ..LocalizedText::default()
        }),
        rural: kind == TerritoryKind::Village,
        valid_from: Some(aimaq_proto::common::v1::Date { year, month, day }),
        ..TerritoryInput::default()
    };
    GovernanceServiceClient::new(channel)
        .upsert_territory(with_token(
            UpsertTerritoryRequest {
                request_id: format!("formed-{kato}"),
                territory: Some(input),
                expected_version: 0,
            },
            &tokens.admin(),
        ))
        .await
        .expect("a formed territory");
}
