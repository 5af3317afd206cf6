//! The whole system as the launcher starts it: every server healthy, reflective,
//! guarded by tokens, and measured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use aimaq_proto::gateway::v1::GetNationalDashboardRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_stack::{Stack, StackOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;
use tonic::{Code, Request};

async fn start(dir: &tempfile::TempDir) -> Stack {
    Stack::start(&StackOptions::ephemeral(dir.path()))
        .await
        .unwrap()
}

async fn channel(stack: &Stack, service: &str) -> Channel {
    stack.channel(service).await.unwrap()
}

fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The services a server lists through one version of the reflection protocol
/// (`v1` or `v1alpha`: the same messages in two packages).
macro_rules! listed_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        match answers.message().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(list)) => list
                .service
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<String>>(),
            other => panic!("unexpected reflection answer {other:?}"),
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_is_healthy_and_reflective() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(&dir).await;
    for endpoint in &stack.endpoints {
        let channel = channel(&stack, endpoint.service).await;
        let admin = stack
            .tls
            .outbound(aimaq_stack::AGENCIES[0].subject)
            .unwrap();
        for service in [endpoint.grpc_service, ""] {
            assert!(
                aimaq_server::is_serving(&endpoint.url(), &admin, service).await,
                "{} {service:?}",
                endpoint.service
            );
        }
        for listed in [
            listed_services!(v1, channel.clone()),
            listed_services!(v1alpha, channel.clone()),
        ] {
            assert!(
                listed.iter().any(|s| s == endpoint.grpc_service),
                "{listed:?}"
            );
            assert!(
                listed.iter().any(|s| s == "grpc.health.v1.Health"),
                "{listed:?}"
            );
        }
    }
    stack.stop().await.unwrap();
}

/// Each backend witnesses the other two's audit logs: it cosigns their
/// checkpoints into its file and reports each witnessed log SERVING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backends_witness_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(&dir).await;
    let admin = stack
        .tls
        .outbound(aimaq_stack::AGENCIES[0].subject)
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for witness in ["governance", "budget", "grants"] {
        let file = dir.path().join(format!("witnessed-by-{witness}.jsonl"));
        let endpoint = stack
            .endpoints
            .iter()
            .find(|e| e.service == witness)
            .unwrap();
        for log in ["governance", "budget", "grants"]
            .into_iter()
            .filter(|l| *l != witness)
        {
            let origin = format!("aimaq.local/{log}");
            while !aimaq_witness::read_witnessed(&file)
                .unwrap()
                .contains_key(&origin)
            {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{witness} never cosigned {log}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let name = format!("aimaq.witness/{origin}");
            assert!(
                aimaq_server::is_serving(&endpoint.url(), &admin, &name).await,
                "{name}"
            );
        }
    }
    for log in ["governance", "budget", "grants"] {
        each_log_serves_both_cosignatures(&stack, dir.path(), log, deadline).await;
    }
    stack.stop().await.unwrap();
}

/// An auditor holding only the public keys checks that the other two
/// backends cosigned a checkpoint that `log`'s current one extends.
async fn each_log_serves_both_cosignatures(
    stack: &Stack,
    data_dir: &std::path::Path,
    log: &str,
    deadline: tokio::time::Instant,
) {
    let keys = data_dir.join("log-keys");
    let read = |name: String| std::fs::read_to_string(keys.join(name)).unwrap();
    let witnesses = ["governance", "budget", "grants"]
        .into_iter()
        .filter(|w| *w != log)
        .map(|w| {
            let signer = aimaq_tlog::NoteSigner::parse(read(format!("{w}-witness.key")).trim());
            aimaq_tlog::NoteVerifier::parse(&signer.unwrap().verifier_key()).unwrap()
        })
        .collect();
    let options = aimaq_verify::Options {
        log_key: aimaq_tlog::NoteVerifier::parse(read(format!("{log}.pub")).trim()).unwrap(),
        witnesses,
        saved: None,
        witnessed: None,
        min_cosigners: 2,
        records: None,
        events: false,
    };
    let token = std::fs::read_to_string(data_dir.join("witness-token")).unwrap();
    let grpc_log = aimaq_verify::GrpcLog {
        channel: channel(stack, log).await,
        service: match log {
            "governance" => aimaq_verify::Service::Governance,
            "budget" => aimaq_verify::Service::Budget,
            _ => aimaq_verify::Service::Grants,
        },
        authorization: Some(format!("Bearer {}", token.trim()).parse().unwrap()),
        timeout: Duration::from_secs(5),
    };
    loop {
        match aimaq_verify::verify(&grpc_log, &options).await {
            Ok(report) => {
                assert_eq!(report.cosigned_by.len(), 2, "{report:?}");
                return;
            }
            Err(aimaq_verify::SourceError::Finding(aimaq_verify::Finding::TooFewCosigners {
                ..
            })) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("{log}: {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_checks_tokens_itself() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(&dir).await;
    let gateway = stack
        .endpoints
        .iter()
        .find(|e| e.service == "gateway")
        .unwrap();
    let mut client = GatewayServiceClient::new(channel(&stack, gateway.service).await);
    let refused = client
        .get_national_dashboard(Request::new(GetNationalDashboardRequest { year: 2026 }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let garbage = client
        .get_national_dashboard(authorized(
            GetNationalDashboardRequest { year: 2026 },
            "x.y.z",
        ))
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), Code::Unauthenticated);
    let accepted = client
        .get_national_dashboard(authorized(
            GetNationalDashboardRequest { year: 2026 },
            &stack.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!accepted.indicators.is_empty());
    stack.stop().await.unwrap();
}

async fn scrape(address: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_metrics_are_exported_per_method_and_code() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics = free.local_addr().unwrap();
    drop(free);
    aimaq_telemetry::install_metrics(metrics).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let stack = start(&dir).await;
    let gateway = stack
        .endpoints
        .iter()
        .find(|e| e.service == "gateway")
        .unwrap();
    let mut client = GatewayServiceClient::new(channel(&stack, gateway.service).await);
    for _ in 0..3 {
        let _ = client
            .get_national_dashboard(Request::new(GetNationalDashboardRequest { year: 2026 }))
            .await;
    }
    // A request is counted as its answer goes out, which can be after the
    // client has it: wait for the third.
    let unauthenticated = |text: &str| {
        text.lines()
            .find(|line| {
                line.starts_with("rpc_server_requests_total")
                    && line.contains("GetNationalDashboard")
                    && line.contains("code=\"Unauthenticated\"")
            })
            .map(str::to_owned)
    };
    let mut text = String::new();
    for _ in 0..50 {
        text = scrape(metrics).await;
        if unauthenticated(&text).is_some_and(|line| line.ends_with(" 3")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counted =
        unauthenticated(&text).unwrap_or_else(|| panic!("no request counter in:\n{text}"));
    assert!(counted.ends_with(" 3"), "{counted}");
    assert!(
        text.contains("rpc_server_duration_seconds_bucket"),
        "{text}"
    );
    stack.stop().await.unwrap();
}
