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
//! (this binary run again with `AIMAQ_BENCH_ROLE` set), as in production; the
//! load generator is the parent process.
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
use aimaq_gateway::{BackendsConfig, GatewayConfig, RateConfig, Targets};
use aimaq_proto::gateway::v1::GetSettlementProfileRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{GetTerritoryRequest, GetTerritoryResponse, Territory};
use aimaq_testing::TestPki;
use aimaq_testing::stub::GetTerritoryStub;
use aimaq_testing::{TestDatabase, TestTokens, with_token};
use aimaq_tls::{Outbound, ServerTls, Target};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Channel, Server};
use tonic::{Response, Status};
use tower::{Service, ServiceExt};

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

/// Whether this run is plaintext on every hop (`AIMAQ_BENCH_PLAINTEXT=1`).
fn plaintext() -> bool {
    std::env::var("AIMAQ_BENCH_PLAINTEXT").is_ok_and(|v| v == "1")
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

/// How clients (the load generator, the bare hop) reach the servers.
fn outbound() -> Outbound {
    if plaintext() {
        Outbound {
            tls: None,
            allow_plaintext: true,
        }
    } else {
        TestPki::get().client()
    }
}

fn url(address: SocketAddr) -> String {
    let scheme = if plaintext() { "http" } else { "https" };
    format!("{scheme}://{address}")
}

/// `count` channels to `address`, each over a connection of its own.
async fn connect(address: SocketAddr, count: usize) -> Vec<Channel> {
    let target = Target::parse(&url(address), &outbound()).unwrap();
    (0..count).map(|_| target.channel()).collect()
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

/// Resident memory of process `pid` (`self` for this one), now and at its peak, in
/// MiB, from `/proc/<pid>/status`.
fn memory(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The server a child process runs (this bench binary run again with it set).
const ROLE: &str = "AIMAQ_BENCH_ROLE";
/// What the child's server talks to: an address, or the backends' URLs.
const TARGET: &str = "AIMAQ_BENCH_TARGET";
/// The tokens' public key (PEM) for the Aimaq servers.
const PUBLIC_KEY: &str = "AIMAQ_BENCH_PUBLIC_KEY";

/// A server of the benchmark in a process of its own, as it runs in production:
/// its own scheduler, allocator and memory. It stops when its standard input
/// closes.
struct ServerProcess {
    name: &'static str,
    child: std::process::Child,
    address: SocketAddr,
}

impl ServerProcess {
    async fn start(name: &'static str, target: Option<String>, tokens: &TestTokens) -> Self {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .env(ROLE, name)
            .env(PUBLIC_KEY, &tokens.keys.public_pem)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        if let Some(target) = target {
            command.env(TARGET, target);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let address = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
            line.trim().parse::<SocketAddr>().unwrap()
        })
        .await
        .unwrap();
        let server = ServerProcess {
            name,
            child,
            address,
        };
        // The bare servers listen before the address is printed and have no
        // health service; the Aimaq ones may still be migrating.
        let bare = matches!(name, "echo" | "hop");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !bare && !aimaq_server::is_serving(&server.url(), &outbound(), "").await {
            assert!(Instant::now() < deadline, "{name} did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    fn url(&self) -> String {
        url(self.address)
    }

    fn memory(&self) -> (f64, f64) {
        memory(&self.child.id().to_string())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A closed standard input drains the server; it is killed if it lingers.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Completes when standard input closes: the parent has finished or gone.
async fn parent_gone() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut buffer = [0u8; 64];
        while std::io::Read::read(&mut std::io::stdin(), &mut buffer).is_ok_and(|n| n > 0) {}
    })
    .await;
}

/// A child process: serves its role on an ephemeral port, printing the address.
fn serve(role: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        aimaq_testing::init_logs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        let target = || std::env::var(TARGET).unwrap();
        // An Aimaq server's settings: a SQLite database and the tokens' public key.
        let key_dir = tempfile::tempdir().unwrap();
        let public_pem = std::env::var(PUBLIC_KEY).unwrap();
        let kid = aimaq_auth::key_id_of_pem(&public_pem).unwrap();
        std::fs::write(key_dir.path().join(format!("{kid}.pem")), public_pem).unwrap();
        let database = TestDatabase::sqlite().await;
        let mut config = aimaq_testing::test_config(&database.url, key_dir.path());
        if plaintext() {
            config.tls = aimaq_config::TlsConfig {
                plaintext: true,
                ..aimaq_config::TlsConfig::default()
            };
        }
        let stop = parent_gone();
        match role {
            "echo" => serve_bare(listener, echo(), stop).await,
            "hop" => {
                let channel = connect(target().parse().unwrap(), 1).await.remove(0);
                serve_bare(listener, Hop(channel), stop).await;
            }
            "assembled hop" => {
                let channel = connect(target().parse().unwrap(), 1).await.remove(0);
                aimaq_server::GrpcServer::new("hop", aimaq_config::LimitsConfig::default())
                    .tls(server_tls())
                    .add_service(Hop(channel))
                    .serve(listener, stop)
                    .await
                    .unwrap();
            }
            "governance" => aimaq_governance::run(config, listener, stop).await.unwrap(),
            "budget" => aimaq_budget::run(config, target(), listener, stop)
                .await
                .unwrap(),
            "grants" => aimaq_grants::run(config, target(), listener, stop)
                .await
                .unwrap(),
            "gateway" => {
                let urls: Vec<Targets> = target().split(' ').map(|u| u.parse().unwrap()).collect();
                let backends = BackendsConfig {
                    governance_url: urls[0].clone(),
                    budget_url: urls[1].clone(),
                    grants_url: urls[2].clone(),
                    backend_connections: 2,
                    backend_timeout: Duration::from_secs(5),
                    view_max_age: Duration::from_secs(1),
                    view_cache_entries: aimaq_gateway::VIEW_CACHE_ENTRIES,
                    view_cache_bytes: aimaq_gateway::VIEW_CACHE_BYTES,
                };
                let rate = RateConfig {
                    rate_limit: "1000000/1000000".parse().unwrap(),
                    agency_rate_limits: Vec::new(),
                };
                let gateway = GatewayConfig::like(config, backends, rate);
                aimaq_gateway::run(gateway, listener, stop).await.unwrap();
            }
            other => panic!("no server role {other:?}"),
        }
    });
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
    if let Ok(role) = std::env::var(ROLE) {
        return serve(&role);
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
    let echo = ServerProcess::start("echo", None, &tokens).await;
    let hop = ServerProcess::start("hop", Some(echo.address.to_string()), &tokens).await;
    // The same hop inside the server assembly every Aimaq server uses (telemetry,
    // deadlines, load shedding): what the assembly alone adds to a hop.
    let assembled_hop =
        ServerProcess::start("assembled hop", Some(echo.address.to_string()), &tokens).await;
    let governance = ServerProcess::start("governance", None, &tokens).await;
    aimaq_testing::territories::seed(connect(governance.address, 1).await.remove(0), &tokens, &[])
        .await;
    let budget = ServerProcess::start("budget", Some(governance.url()), &tokens).await;
    let grants = ServerProcess::start("grants", Some(governance.url()), &tokens).await;
    let gateway = ServerProcess::start(
        "gateway",
        Some(format!(
            "{} {} {}",
            governance.url(),
            budget.url(),
            grants.url()
        )),
        &tokens,
    )
    .await;

    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    println!(
        "## Gateway ({} CPUs, {machine}; every server and the load generator in a process of its own; every hop {})\n",
        std::thread::available_parallelism().map_or(0, usize::from),
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
        connect(governance.address, 1).await.remove(0),
        connect(gateway.address, 1).await.remove(0),
        connect(echo.address, 1).await.remove(0),
        connect(hop.address, 1).await.remove(0),
        connect(assembled_hop.address, 1).await.remove(0),
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
        profile_many.row("`GetSettlementProfile` (3 backends, 7 to 9 calls)", base)
    );
    println!(
        "\nForwarded throughput over the bare hop's: {:.2} (target ≥ 0.80). `GetSettlementProfile` over the bare echo's: {:.2} (target ≥ 0.30).",
        gateway_many.per_second / hop_many.per_second,
        profile_many.per_second / base
    );
    println!("\n### Memory after the throughput runs\n");
    println!("| process | resident now | resident at its peak |");
    println!("|---|---|---|");
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
        println!("| {} | {now:.0} MiB | {peak:.0} MiB |", server.name);
    }
    let (now, peak) = memory("self");
    println!("| load generator | {now:.0} MiB | {peak:.0} MiB |");
    let highest = servers
        .iter()
        .map(|server| server.memory().1)
        .fold(0.0, f64::max);
    println!("\nThe largest peak of a server: {highest:.0} MiB (target: each process < 100 MiB).");
}
