//! A backend started with `--nats-url` publishes its change feed to JetStream:
//! a territory written through its API arrives on its subject, with its
//! message id, as the feed's event. Skips without NATS unless
//! `AIMAQ_REQUIRE_NATS=1`.

use std::time::Duration;

use aimaq_proto::common::v1::{ChangeEvent, LocalizedText};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{TerritoryInput, TerritoryKind, UpsertTerritoryRequest};
use aimaq_testing::{TestDatabase, TestServer, TestTokens, test_nats_url, with_token};
use async_nats::jetstream;
use prost::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_reaches_jetstream_on_its_subject() {
    let Some(url) = test_nats_url().await else {
        return;
    };
    let prefix = format!("e2e{}", uuid::Uuid::new_v4().simple());
    let tokens = TestTokens::new();
    let relayed = {
        let (url, prefix) = (url.clone(), prefix.clone());
        move |mut config: aimaq_config::ServerConfig, listener, shutdown| {
            config.relay.nats_url = Some(url);
            config.relay.nats_prefix = prefix;
            aimaq_governance::run(config, listener, shutdown)
        }
    };
    let server = TestServer::start(TestDatabase::sqlite().await, &tokens, relayed).await;
    let mut client = GovernanceServiceClient::new(server.channel().await);
    let asked = UpsertTerritoryRequest {
        request_id: "relayed-region".into(),
        territory: Some(TerritoryInput {
            kato: "710000000".into(),
            kind: TerritoryKind::Region as i32,
            name: Some(LocalizedText {
                ru: "Астана".into(),
                ..LocalizedText::default()
            }),
            ..TerritoryInput::default()
        }),
        expected_version: 0,
    };
    client
        .upsert_territory(with_token(asked, &tokens.admin()))
        .await
        .expect("the territory is written");

    let context = jetstream::new(async_nats::connect(url.as_str()).await.expect("NATS"));
    let stream_name = format!("{prefix}_GOVERNANCE").to_uppercase();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let message = loop {
        if let Ok(stream) = context.get_stream(&stream_name).await
            && let Ok(message) = stream.get_raw_message(1).await
        {
            break message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing reached {stream_name}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        message.subject.as_str(),
        format!("{prefix}.governance.territory.created")
    );
    let id = message.headers.get(async_nats::header::NATS_MESSAGE_ID);
    assert_eq!(id.map(|v| v.as_str()), Some("governance/1"));
    let event = ChangeEvent::decode(message.payload).expect("a ChangeEvent");
    assert_eq!(event.resource_name, "territories/710000000");
    assert_eq!(event.request_id, "relayed-region");
    assert!(!event.state_digest.is_empty());
    drop(server);
    context
        .delete_stream(&stream_name)
        .await
        .expect("the test's stream is removed");
}
