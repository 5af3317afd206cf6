//! One trace across the gateway and the backends: a forwarded call and the calls
//! of an aggregated view carry the caller's trace on to the backend, as children
//! of the gateway's own span.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use aimaq_config::{LogFormat, TelemetryConfig, TlsConfig};
use aimaq_gateway::{BackendsConfig, GatewayConfig, RateConfig, Targets};
use aimaq_proto::gateway::v1::GetSettlementProfileRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{GetTerritoryRequest, GetTerritoryResponse, Territory};
use aimaq_testing::stub::GetTerritoryStub;
use aimaq_testing::{TestDatabase, TestPki, TestServer, TestTokens, with_token};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic::{Request, Response};

/// The `traceparent` of every call a governance stand-in received, whatever
/// its method (a settlement profile asks for a summary, which the stand-in
/// does not answer).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

/// A stand-in that notes each call's `traceparent` before answering it.
#[derive(Clone)]
struct Noting {
    seen: Recorder,
    stub: GetTerritoryStub,
}

impl NamedService for Noting {
    const NAME: &'static str = GetTerritoryStub::NAME;
}

impl tower::Service<http::Request<Body>> for Noting {
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = <GetTerritoryStub as tower::Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.stub.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let traceparent = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.seen.0.lock().unwrap().push(traceparent);
        self.stub.call(request)
    }
}

impl Recorder {
    /// A governance stand-in that answers `GetTerritory` and notes every call.
    fn governance(&self) -> Noting {
        let stub = GetTerritoryStub::new(move |request| {
            Ok(Response::new(GetTerritoryResponse {
                territory: Some(Territory {
                    kato: request.into_inner().kato,
                    ..Territory::default()
                }),
                ancestors: Vec::new(),
            }))
        });
        Noting {
            seen: self.clone(),
            stub,
        }
    }
}

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn traced<T>(message: T, token: &str) -> Request<T> {
    let mut request = with_token(message, token);
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01")
            .parse()
            .unwrap(),
    );
    request.set_timeout(Duration::from_secs(2));
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backends_continue_the_callers_trace() {
    // As every server binary does: spans with trace ids, W3C propagation.
    let _telemetry = aimaq_telemetry::init(
        "trace-test",
        &TelemetryConfig {
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            ..TelemetryConfig::default()
        },
        &TlsConfig::default(),
    )
    .unwrap();
    let recorder = Recorder::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let governance = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(recorder.governance())
            .serve_with_incoming(aimaq_tls::incoming(
                listener,
                Some(TestPki::get().server_tls()),
            )),
    );
    // Budget and grants are not there: their sections are unavailable.
    let nowhere = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();

    let tokens = TestTokens::new();
    let backends = BackendsConfig {
        governance_url: Targets::Fixed(vec![format!("https://{governance}")]),
        budget_url: Targets::Fixed(vec![format!("https://{nowhere}")]),
        grants_url: Targets::Fixed(vec![format!("https://{nowhere}")]),
        backend_connections: 1,
        backend_timeout: Duration::from_secs(1),
        view_max_age: Duration::ZERO,
        view_cache_entries: aimaq_gateway::VIEW_CACHE_ENTRIES,
        view_cache_bytes: aimaq_gateway::VIEW_CACHE_BYTES,
    };
    let gateway = TestServer::start(
        TestDatabase::sqlite().await,
        &tokens,
        move |config, listener, shutdown| {
            let rate = RateConfig::local("1000".parse().unwrap(), Vec::new());
            let gateway = GatewayConfig::like(config, backends, rate);
            aimaq_gateway::run(gateway, listener, shutdown)
        },
    )
    .await;
    let channel = gateway.channel().await;
    let token = tokens.admin();

    GovernanceServiceClient::new(channel.clone())
        .get_territory(traced(
            GetTerritoryRequest {
                kato: "613633100".into(),
                include_ancestors: false,
            },
            &token,
        ))
        .await
        .unwrap();
    GatewayServiceClient::new(channel)
        .get_settlement_profile(traced(
            GetSettlementProfileRequest {
                kato: "613633100".into(),
            },
            &token,
        ))
        .await
        .unwrap();

    let seen = recorder.0.lock().unwrap().clone();
    assert!(seen.len() >= 2, "{seen:?}");
    for traceparent in &seen {
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent:?}");
        assert_eq!(parts[1], CALLER_TRACE, "the caller's trace goes on");
        assert_ne!(parts[2], CALLER_SPAN, "the parent is the gateway's span");
    }
}
