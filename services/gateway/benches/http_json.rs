//! What the HTTP/JSON surface costs against gRPC, through the same gateway in
//! the same run: governance's `GetTerritory` of one village as
//! `GET /v1/territories/{kato}` (proto3 JSON, parsed by the caller) and as the
//! gRPC call (protobuf, decoded by the caller), each over HTTP/2 connections
//! with mutual TLS. Latency at 1 caller (the two taking turns call by call),
//! throughput at 64 callers (taking turns by window), and the servers' memory.
//!
//!     cargo bench -p aimaq-gateway --bench http_json
//!
//! Prints Markdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimaq_bench::{Load, Measurement, Samples};
use aimaq_proto::governance::v1::GetTerritoryRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_testing::{TestTokens, with_token};
use http_body_util::BodyExt;
use tonic::transport::Channel;
use tower::{Service, ServiceExt};

#[path = "servers/aimaq.rs"]
mod aimaq;
mod servers;
use servers::connect;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VILLAGE: &str = "613633100";
const CONNECTIONS: usize = 4;
const LATENCY_CALLS: usize = 10_000;
const TURN: Load = Load {
    callers: 64,
    warm_up: Duration::from_millis(500),
    window: Duration::from_millis(1500),
};
const TURNS: usize = 6;

type Call = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// `GetTerritory` of the village over gRPC: whether it answered.
async fn over_grpc(channel: Channel, token: &str) -> bool {
    let request = with_token(
        GetTerritoryRequest {
            kato: VILLAGE.into(),
            include_ancestors: false,
        },
        token,
    );
    GovernanceServiceClient::new(channel)
        .get_territory(request)
        .await
        .is_ok_and(|answer| answer.into_inner().territory.is_some())
}

/// The same over HTTP/JSON: whether it answered 200 with the territory.
async fn over_json(mut channel: Channel, token: &str) -> bool {
    let request = http::Request::get(format!("/v1/territories/{VILLAGE}"))
        .header("authorization", format!("Bearer {token}"))
        .body(tonic::body::Body::empty())
        .unwrap();
    let Ok(answer) = channel.ready().await.unwrap().call(request).await else {
        return false;
    };
    if answer.status() != http::StatusCode::OK {
        return false;
    }
    let Ok(body) = answer.into_body().collect().await else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&body.to_bytes())
        .is_ok_and(|json| json["territory"]["kato"] == VILLAGE)
}

fn workload(channels: Vec<Channel>, token: String, json: bool) -> Call {
    Arc::new(move |caller| {
        let channel = channels[caller % channels.len()].clone();
        let token = token.clone();
        Box::pin(async move {
            if json {
                over_json(channel, &token).await
            } else {
                over_grpc(channel, &token).await
            }
        })
    })
}

/// Both ways in turn, one call at a time: the latency of each.
async fn interleaved(channel: Channel, token: &str) -> [Measurement; 2] {
    let mut samples = [Vec::new(), Vec::new()];
    for round in 0..2 * LATENCY_CALLS {
        for (json, samples) in [false, true].into_iter().zip(samples.iter_mut()) {
            let began = Instant::now();
            let answered = if json {
                over_json(channel.clone(), token).await
            } else {
                over_grpc(channel.clone(), token).await
            };
            assert!(answered, "a call failed");
            if round >= LATENCY_CALLS {
                samples.push(began.elapsed());
            }
        }
    }
    samples.map(|mut samples: Vec<Duration>| {
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64) * q) as usize];
        Measurement {
            calls: samples.len() as u64,
            failures: 0,
            per_second: 0.0,
            p50: at(0.5),
            p99: at(0.99),
        }
    })
}

fn main() {
    if servers::served_as_child(|role, _, _| async move { panic!("no server role {role:?}") }) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let system = aimaq::Aimaq::start(&tokens).await;
    let gateway = &system.gateway;
    println!(
        "## HTTP/JSON against gRPC through the gateway ({}; every server and the load generator in a process of its own; mutual TLS, HTTP/2)\n",
        aimaq::machine()
    );

    let [grpc_one, json_one] = interleaved(gateway.channel().await, &token).await;
    println!(
        "### Latency at 1 caller (`GetTerritory`; {LATENCY_CALLS} calls each, taking turns)\n"
    );
    println!("| way | p50 | p99 |");
    println!("|---|---|---|");
    for (name, measured) in [("gRPC", &grpc_one), ("HTTP/JSON", &json_one)] {
        println!(
            "| {name} | {:.0} µs | {:.0} µs |",
            measured.p50.as_secs_f64() * 1e6,
            measured.p99.as_secs_f64() * 1e6
        );
    }
    println!(
        "\nHTTP/JSON's median over gRPC's: {:.2} (target ≤ 1.3).\n",
        json_one.p50.as_secs_f64() / grpc_one.p50.as_secs_f64()
    );

    let workloads = [
        workload(
            connect(gateway.address, CONNECTIONS).await,
            token.clone(),
            false,
        ),
        workload(
            connect(gateway.address, CONNECTIONS).await,
            token.clone(),
            true,
        ),
    ];
    let mut samples: [Samples; 2] = Default::default();
    for _ in 0..TURNS {
        for (workload, samples) in workloads.iter().zip(samples.iter_mut()) {
            samples.add(TURN.sample(workload.clone()).await);
        }
    }
    let [grpc_many, json_many] = samples.map(Samples::measurement);
    println!(
        "### Throughput at {} callers ({CONNECTIONS} connections; {TURNS} turns of {} s each)\n",
        TURN.callers,
        TURN.window.as_secs_f64()
    );
    println!("| way | calls | calls/s | ratio to gRPC | p50 | p99 | failures |");
    println!("|---|---|---|---|---|---|---|");
    let base = grpc_many.per_second;
    println!("{}", grpc_many.row("gRPC", base));
    println!("{}", json_many.row("HTTP/JSON", base));
    println!(
        "\nHTTP/JSON's throughput over gRPC's: {:.2} (target ≥ 0.70); its median at 64 callers over gRPC's: {:.2}.\n",
        json_many.per_second / base,
        json_many.p50.as_secs_f64() / grpc_many.p50.as_secs_f64()
    );
    println!("### Memory after the runs, HTTP/JSON on at the gateway\n");
    println!("| process | resident now | its own now (heap, stacks) | resident at its peak |");
    println!("|---|---|---|---|");
    for server in [gateway, &system.governance, &system.budget, &system.grants] {
        let (now, peak) = server.memory();
        let own = servers::anonymous(server.pid());
        println!(
            "| {} | {now:.0} MiB | {own:.0} MiB | {peak:.0} MiB |",
            server.name
        );
    }
}
