//! A backend started with `--nats-url` publishes its change feed to JetStream:
//! a territory written through its API arrives on its subject, with its
//! message id, as the feed's event carrying the territory; over mutual TLS
//! too, to a NATS server that verifies the backend's certificate, and with a
//! credentials file, to a NATS server in operator mode. Skips without NATS
//! unless `AIMAQ_REQUIRE_NATS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod nats;

use std::path::PathBuf;
use std::time::Duration;

use aimaq_proto::common::v1::{ChangeEvent, LocalizedText};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    Territory, TerritoryInput, TerritoryKind, UpsertTerritoryRequest,
};
use aimaq_testing::{TestDatabase, TestPki, TestServer, TestTokens, test_nats_url, with_token};
use async_nats::jetstream;
use nats::SpawnedNats;
use prost::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_reaches_jetstream_on_its_subject() {
    let Some(url) = test_nats_url().await else {
        return;
    };
    let context = jetstream::new(async_nats::connect(url.as_str()).await.expect("NATS"));
    a_write_reaches(&url, None, context).await;
}

/// The backend connects with `tls://`: the NATS server's certificate checked
/// against the backend's CA, the backend's own presented and verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_reaches_jetstream_over_mutual_tls() {
    let Some(nats) = SpawnedNats::with_mutual_tls() else {
        return;
    };
    let pki = TestPki::get();
    let client = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(pki.ca.clone())
        .add_client_certificate(pki.client.cert.clone(), pki.client.key.clone())
        .connect(nats.url.as_str())
        .await
        .expect("NATS over mutual TLS");
    // Without a certificate the server refuses.
    let anonymous = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(pki.ca.clone())
        .connection_timeout(Duration::from_secs(2))
        .connect(nats.url.as_str())
        .await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate is refused"
    );
    a_write_reaches(&nats.url, None, jetstream::new(client)).await;
}

/// The backend connects with `--nats-credentials` to a server in operator
/// mode, which refuses a client without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_reaches_jetstream_with_credentials() {
    let Some((nats, creds)) = SpawnedNats::with_credentials() else {
        return;
    };
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .max_reconnects(1)
        .retry_on_initial_connect()
        .connect(nats.url.as_str())
        .await;
    let refused = match anonymous {
        Err(_) => true,
        Ok(client) => jetstream::new(client).query_account().await.is_err(),
    };
    assert!(refused, "a client without credentials is refused");
    let client = async_nats::ConnectOptions::with_credentials_file(&creds)
        .await
        .expect("the credentials read")
        .connect(nats.url.as_str())
        .await
        .expect("NATS with credentials");
    a_write_reaches(&nats.url, Some(creds), jetstream::new(client)).await;
}

/// The caller's trace, which the change's message carries on.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Spans with trace ids and W3C propagation, as every server binary has.
fn traced() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let config = aimaq_config::TelemetryConfig {
            log_format: aimaq_config::LogFormat::Text,
            // The servers' call spans are at info: the trace lives in them.
            log_filter: "warn,aimaq_telemetry=info".into(),
            ..aimaq_config::TelemetryConfig::default()
        };
        let guard = aimaq_telemetry::init("jetstream-test", &config, &Default::default());
        // Kept for the whole process.
        std::mem::forget(guard.expect("telemetry"));
    });
}

/// A governance server publishing to `url` under a prefix of its own: its
/// write arrives in its stream, as `context` reads it, carrying the
/// caller's trace.
async fn a_write_reaches(url: &str, credentials: Option<PathBuf>, context: jetstream::Context) {
    traced();
    let url = url.to_owned();
    let prefix = format!("e2e{}", uuid::Uuid::new_v4().simple());
    let tokens = TestTokens::new();
    let relayed = {
        let (url, prefix) = (url.clone(), prefix.clone());
        move |mut config: aimaq_config::ServerConfig, listener, shutdown| {
            config.relay.nats_url = Some(url);
            config.relay.nats_prefix = prefix;
            config.relay.nats_credentials = credentials;
            aimaq_governance::run(config, listener, shutdown)
        }
    };
    let server = TestServer::start(TestDatabase::sqlite().await, &tokens, relayed).await;
    let mut client = GovernanceServiceClient::new(server.channel().await);
    let asked = asked_region("relayed-region", "710000000");
    let mut request = with_token(asked, &tokens.admin());
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().expect("a header value"));
    let written = client
        .upsert_territory(request)
        .await
        .expect("the territory is written")
        .into_inner()
        .territory
        .expect("the territory answered");

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
    // A fat event: the territory as written, no call back needed.
    let carried = event
        .resource
        .as_ref()
        .expect("the event carries its resource");
    assert_eq!(
        carried.type_url,
        "type.googleapis.com/aimaq.governance.v1.Territory"
    );
    assert_eq!(carried.to_msg::<Territory>().ok(), Some(written));
    // The event and its message carry the trace of the request that made it.
    assert!(
        event.trace_parent.contains(TRACE_ID),
        "{}",
        event.trace_parent
    );
    let traceparent = message.headers.get("traceparent").map(|v| v.as_str());
    assert_eq!(traceparent, Some(event.trace_parent.as_str()));

    // Another region's territory: a durable consumer of territory events keeps
    // one region's by the territory each event carries.
    let mut other = asked_region("relayed-other", "610000000");
    other.territory.as_mut().unwrap().name.as_mut().unwrap().ru = "Туркестанская".into();
    client
        .upsert_territory(with_token(other, &tokens.admin()))
        .await
        .expect("the other territory is written");
    assert_eq!(
        regional_territories(&context, &stream_name, &prefix, "71").await,
        ["710000000"]
    );
    drop(server);
    context
        .delete_stream(&stream_name)
        .await
        .expect("the test's stream is removed");
}

fn asked_region(request_id: &str, kato: &str) -> UpsertTerritoryRequest {
    UpsertTerritoryRequest {
        request_id: request_id.into(),
        territory: Some(TerritoryInput {
            kato: kato.into(),
            kind: TerritoryKind::Region as i32,
            name: Some(LocalizedText {
                ru: "Астана".into(),
                ..LocalizedText::default()
            }),
            ..TerritoryInput::default()
        }),
        expected_version: 0,
    }
}

/// What a durable pull consumer of the stream's territory events keeps of
/// one region: the territories whose KATO starts with `region`, read from
/// the events themselves; every event is acknowledged.
async fn regional_territories(
    context: &jetstream::Context,
    stream_name: &str,
    prefix: &str,
    region: &str,
) -> Vec<String> {
    let stream = context.get_stream(stream_name).await.expect("the stream");
    let consumer = stream
        .get_or_create_consumer(
            "regional",
            jetstream::consumer::pull::Config {
                durable_name: Some("regional".into()),
                filter_subject: format!("{prefix}.governance.territory.>"),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .expect("a durable consumer");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut seen = 0;
    let mut kept = Vec::new();
    while seen < 2 {
        assert!(tokio::time::Instant::now() < deadline, "{seen} of 2 events");
        let mut batch = consumer
            .fetch()
            .max_messages(2)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .expect("a batch");
        while let Some(message) = futures::StreamExt::next(&mut batch).await {
            let message = message.expect("a message");
            let event = ChangeEvent::decode(message.payload.clone()).expect("a ChangeEvent");
            let territory = event.resource.and_then(|r| r.to_msg::<Territory>().ok());
            let territory = territory.expect("each event carries its territory");
            if territory.kato.starts_with(region) {
                kept.push(territory.kato);
            }
            message.ack().await.expect("acknowledged");
            seen += 1;
        }
    }
    kept
}
