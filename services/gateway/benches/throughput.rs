//! What the gateway costs, against two baselines measured in the same run with
//! the load generator on the same machine:
//!
//! - a bare tonic echo server (no auth, no layers, no database): the ceiling for
//!   any RPC here;
//! - a bare forwarding hop (a tonic `Channel` wrapped as a service, in front of
//!   that echo server): the floor for what any gateway hop costs.
//!
//! Measured: latency at 1 caller and throughput at 64 callers of governance's
//! `GetTerritory` called directly and through the gateway, of echo directly and
//! through the bare hop, and of `GetSettlementProfile`; and the resident memory
//! of each process under that load. Every server runs in a process of its own
//! (`servers`), as in production; the load generator is the parent process.
//!
//! Every hop, the baselines' included, is mutual TLS with the test CA; with
//! `AIMAQ_BENCH_PLAINTEXT=1` every hop is plaintext instead, which shows what
//! TLS adds:
//!
//!     cargo bench -p aimaq-gateway --bench throughput
//!     AIMAQ_BENCH_PLAINTEXT=1 cargo bench -p aimaq-gateway --bench throughput
//!
//! Prints Markdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aimaq_bench::{Load, Measurement, Samples};
use aimaq_proto::gateway::v1::GetSettlementProfileRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{GetTerritoryRequest, GetTerritoryResponse, Territory};
use aimaq_testing::TestPki;
use aimaq_testing::stub::GetTerritoryStub;
use aimaq_testing::{TestTokens, with_token};
use aimaq_tls::ServerTls;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Channel, Server};
use tonic::{Response, Status};
use tower::{Service, ServiceExt};

#[path = "servers/aimaq.rs"]
mod aimaq;
mod servers;
use servers::{ServerProcess, connect, plaintext};

// The allocator of the server binaries, so the servers here run as they do there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VILLAGE: &str = "613633100";
const CONNECTIONS: usize = 4;
/// Calls measured on each path at one caller (after as many again to warm up).
const LATENCY_CALLS: usize = 10_000;
/// One turn of a workload at 64 callers; the workloads take turns for
/// [`TURNS`] rounds, so that each meets the same drift of the machine.
const TURN: Load = Load {
    callers: 64,
    warm_up: Duration::from_millis(500),
    window: Duration::from_millis(1500),
};
const TURNS: usize = 6;

/// A workload's call, by caller: whether it succeeded.
type Call = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Answers `GetTerritory` with the code asked, and nothing else.
fn echo() -> GetTerritoryStub {
    GetTerritoryStub::new(|request| {
        Ok(Response::new(GetTerritoryResponse {
            territory: Some(Territory {
                kato: request.into_inner().kato,
                ..Territory::default()
            }),
            ancestors: Vec::new(),
        }))
    })
}

/// The bare hop: a channel behind the governance API's name.
#[derive(Clone)]
struct Hop(Channel);

impl NamedService for Hop {
    const NAME: &'static str = "aimaq.governance.v1.GovernanceService";
}

impl Service<http::Request<Body>> for Hop {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let mut channel = self.0.clone();
        Box::pin(async move {
            Ok(match channel.ready().await {
                Ok(ready) => match ready.call(request).await {
                    Ok(response) => response,
                    Err(error) => Status::unavailable(error.to_string()).into_http(),
                },
                Err(error) => Status::unavailable(error.to_string()).into_http(),
            })
        })
    }
}

/// A child process's bare server: the echo, or a hop to the echo at the
/// target address, bare or in the server assembly.
async fn serve_bare_role(role: String, listener: TcpListener, stop: servers::Stop) {
    let target = || std::env::var(servers::TARGET).unwrap().parse().unwrap();
    match role.as_str() {
        "echo" => serve_bare(listener, echo(), stop).await,
        "hop" => {
            let channel = connect(target(), 1).await.remove(0);
            serve_bare(listener, Hop(channel), stop).await;
        }
        "assembled hop" => {
            let channel = connect(target(), 1).await.remove(0);
            aimaq_server::GrpcServer::new("hop", aimaq_config::LimitsConfig::default())
                .tls(server_tls())
                .add_service(Hop(channel))
                .serve(listener, stop)
                .await
                .unwrap();
        }
        other => panic!("no server role {other:?}"),
    }
}

/// Serves `service` bare (no layers) on `listener` until `stop` completes.
async fn serve_bare<S>(listener: TcpListener, service: S, stop: impl Future<Output = ()>)
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let incoming = aimaq_tls::incoming(listener, server_tls());
    Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, stop)
        .await
        .unwrap();
}

/// The servers' TLS: the test CA's, with client certificates required.
fn server_tls() -> Option<Arc<ServerTls>> {
    if plaintext() {
        return None;
    }
    let pki = TestPki::get();
    let tls = ServerTls::load(
        pki.server.cert.clone(),
        pki.server.key.clone(),
        Some(pki.ca.clone()),
    );
    Some(Arc::new(tls.unwrap()))
}

/// `GetTerritory` on the village over `channels`.
fn territory_reads(channels: Vec<Channel>, token: String) -> Call {
    Arc::new(move |caller| {
        let mut client = GovernanceServiceClient::new(channels[caller % channels.len()].clone());
        let message = GetTerritoryRequest {
            kato: VILLAGE.into(),
            include_ancestors: false,
        };
        let request = with_token(message, &token);
        Box::pin(async move { client.get_territory(request).await.is_ok() })
    })
}

/// `GetSettlementProfile` of the village, complete in every section.
fn profiles(channels: Vec<Channel>, token: String) -> Call {
    Arc::new(move |caller| {
        let mut client = GatewayServiceClient::new(channels[caller % channels.len()].clone());
        let request = with_token(
            GetSettlementProfileRequest {
                kato: VILLAGE.into(),
            },
            &token,
        );
        Box::pin(async move {
            client
                .get_settlement_profile(request)
                .await
                .is_ok_and(|answer| {
                    let answer = answer.into_inner();
                    [
                        answer.governance.and_then(|s| s.status),
                        answer.budget.and_then(|s| s.status),
                        answer.grants.and_then(|s| s.status),
                    ]
                    .iter()
                    .all(|s| s.as_ref().is_some_and(|s| s.state == 1))
                })
        })
    })
}

/// `GetTerritory` on each path in turn, one call at a time: the latency of each.
async fn interleaved<const N: usize>(
    paths: [Channel; N],
    token: &str,
    calls: usize,
) -> [Measurement; N] {
    let mut clients = paths.map(GovernanceServiceClient::new);
    let mut samples: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(calls));
    for round in 0..2 * calls {
        for (client, samples) in clients.iter_mut().zip(samples.iter_mut()) {
            let message = GetTerritoryRequest {
                kato: VILLAGE.into(),
                include_ancestors: false,
            };
            let request = with_token(message, token);
            let began = Instant::now();
            client.get_territory(request).await.unwrap();
            if round >= calls {
                samples.push(began.elapsed());
            }
        }
    }
    samples.map(|mut samples| {
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

fn latency_row(name: &str, measurement: &Measurement) -> String {
    format!(
        "| {name} | {:.0} µs | {:.0} µs |",
        measurement.p50.as_secs_f64() * 1e6,
        measurement.p99.as_secs_f64() * 1e6
    )
}

fn main() {
    if servers::served_as_child(serve_bare_role) {
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
    let to = |address: SocketAddr| [(servers::TARGET, address.to_string())];
    let echo = ServerProcess::start("echo", "echo", &[], &tokens).await;
    let hop = ServerProcess::start("hop", "hop", &to(echo.address), &tokens).await;
    // The same hop inside the server assembly every Aimaq server uses (telemetry,
    // deadlines, load shedding): what the assembly alone adds to a hop.
    let assembled_hop =
        ServerProcess::start("assembled hop", "assembled hop", &to(echo.address), &tokens).await;
    let aimaq::Aimaq {
        governance,
        budget,
        grants,
        gateway,
    } = aimaq::Aimaq::start(&tokens).await;

    println!(
        "## Gateway ({}; every server and the load generator in a process of its own; every hop {})\n",
        aimaq::machine(),
        if plaintext() {
            "plaintext"
        } else {
            "mutual TLS"
        }
    );

    // Latency at one caller: the paths take turns call by call, so that each
    // meets the same state of the machine. Every path sends the same request,
    // bearer token included (the echo ignores it), so that each hop forwards the
    // same bytes.
    let paths = [
        governance.channel().await,
        gateway.channel().await,
        echo.channel().await,
        hop.channel().await,
        assembled_hop.channel().await,
    ];
    let [direct_one, gateway_one, echo_one, hop_one, assembled_one] =
        interleaved(paths, &token, LATENCY_CALLS).await;
    let gateway_adds = gateway_one.p50.as_secs_f64() - direct_one.p50.as_secs_f64();
    let hop_adds = hop_one.p50.as_secs_f64() - echo_one.p50.as_secs_f64();
    println!(
        "### Latency at 1 caller (`GetTerritory`; {LATENCY_CALLS} calls a path, taking turns)\n"
    );
    println!("| path | p50 | p99 |");
    println!("|---|---|---|");
    println!("{}", latency_row("governance directly", &direct_one));
    println!(
        "{}",
        latency_row("governance through the gateway", &gateway_one)
    );
    println!("{}", latency_row("bare echo", &echo_one));
    println!(
        "{}",
        latency_row("bare echo through the bare hop", &hop_one)
    );
    println!(
        "{}",
        latency_row(
            "bare echo through the bare hop in the server assembly",
            &assembled_one
        )
    );
    let assembled_adds = assembled_one.p50.as_secs_f64() - echo_one.p50.as_secs_f64();
    println!(
        "\nThe gateway adds {:.0} µs to the median; the bare hop adds {:.0} µs: ratio {:.2} (target ≤ 1.25). The bare hop in the server assembly adds {:.0} µs: the gateway over it {:.2}.\n",
        gateway_adds * 1e6,
        hop_adds * 1e6,
        gateway_adds / hop_adds,
        assembled_adds * 1e6,
        gateway_adds / assembled_adds
    );

    // Throughput at 64 callers, the workloads taking turns.
    let workloads = [
        territory_reads(connect(echo.address, CONNECTIONS).await, token.clone()),
        territory_reads(connect(hop.address, CONNECTIONS).await, token.clone()),
        territory_reads(
            connect(governance.address, CONNECTIONS).await,
            token.clone(),
        ),
        territory_reads(connect(gateway.address, CONNECTIONS).await, token.clone()),
        profiles(connect(gateway.address, CONNECTIONS).await, token.clone()),
    ];
    let mut samples: [Samples; 5] = Default::default();
    for _ in 0..TURNS {
        for (workload, samples) in workloads.iter().zip(samples.iter_mut()) {
            samples.add(TURN.sample(workload.clone()).await);
        }
    }
    let [echo_many, hop_many, direct_many, gateway_many, profile_many] =
        samples.map(Samples::measurement);
    println!(
        "### Throughput at {} callers ({CONNECTIONS} connections; {TURNS} turns of {} s each)\n",
        TURN.callers,
        TURN.window.as_secs_f64()
    );
    println!("| workload | calls | calls/s | ratio to bare echo | p50 | p99 | failures |");
    println!("|---|---|---|---|---|---|---|");
    let base = echo_many.per_second;
    println!("{}", echo_many.row("bare echo", base));
    println!("{}", hop_many.row("bare echo through the bare hop", base));
    println!("{}", direct_many.row("`GetTerritory` directly", base));
    println!(
        "{}",
        gateway_many.row("`GetTerritory` through the gateway", base)
    );
    println!(
        "{}",
        profile_many.row(
            "`GetSettlementProfile`, one village, from the 1 s view cache (3 backend calls a miss)",
            base,
        )
    );
    println!(
        "\nForwarded throughput over the bare hop's: {:.2} (target ≥ 0.80). `GetSettlementProfile` over the bare echo's: {:.2} (target ≥ 0.30).",
        gateway_many.per_second / hop_many.per_second,
        profile_many.per_second / base
    );
    println!("\n### Memory under the throughput runs\n");
    println!("| process | resident now | its own now (heap, stacks) | resident at its peak |");
    println!("|---|---|---|---|");
    let servers = [
        &gateway,
        &governance,
        &budget,
        &grants,
        &echo,
        &hop,
        &assembled_hop,
    ];
    for server in servers {
        let (now, peak) = server.memory();
        let own = servers::anonymous(server.pid());
        println!(
            "| {} | {now:.0} MiB | {own:.0} MiB | {peak:.0} MiB |",
            server.name
        );
    }
    let (now, peak) = servers::memory("self");
    println!("| load generator | {now:.0} MiB | | {peak:.0} MiB |");
    let highest = servers
        .iter()
        .map(|server| server.memory().1)
        .fold(0.0, f64::max);
    println!("\nThe largest peak of a server: {highest:.0} MiB (target: each process < 100 MiB).");
}
