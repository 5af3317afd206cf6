//! The benchmarks' servers, each in a process of its own as in production (its
//! own scheduler, allocator and memory): the benchmark binary run again with
//! [`ROLE`] set. A child prints its address, serves, and stops when its
//! standard input closes.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use aimaq_gateway::{BackendsConfig, GatewayConfig, RateConfig, Targets};
use aimaq_testing::{TestDatabase, TestPki, TestTokens};
use aimaq_tls::{Outbound, Target};
use tokio::net::TcpListener;
use tonic::transport::Channel;

/// The server a child process runs.
const ROLE: &str = "AIMAQ_BENCH_ROLE";
/// What the child's server talks to: an address, or the backends' URLs
/// separated by spaces.
pub const TARGET: &str = "AIMAQ_BENCH_TARGET";
/// The tokens' public key (PEM) for the Aimaq servers.
const PUBLIC_KEY: &str = "AIMAQ_BENCH_PUBLIC_KEY";
/// The database of an Aimaq server; a fresh SQLite file when unset.
pub const DATABASE: &str = "AIMAQ_BENCH_DATABASE";
/// How long a gateway keeps a view, in milliseconds; a second when unset.
pub const VIEW_AGE_MS: &str = "AIMAQ_BENCH_VIEW_AGE_MS";
/// Long-lived streams a server allows, in all and to one caller; its
/// defaults when unset.
pub const MAX_STREAMS: &str = "AIMAQ_BENCH_MAX_STREAMS";
/// Where an Aimaq server serves its Prometheus metrics; none when unset.
pub const METRICS: &str = "AIMAQ_BENCH_METRICS";

/// A completion that stops a child's server.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Whether this run is plaintext on every hop (`AIMAQ_BENCH_PLAINTEXT=1`).
pub fn plaintext() -> bool {
    std::env::var("AIMAQ_BENCH_PLAINTEXT").is_ok_and(|v| v == "1")
}

/// How clients (the load generator, a hop) reach the servers.
pub fn outbound() -> Outbound {
    if plaintext() {
        Outbound {
            tls: None,
            allow_plaintext: true,
        }
    } else {
        TestPki::get().client()
    }
}

pub fn url(address: SocketAddr) -> String {
    let scheme = if plaintext() { "http" } else { "https" };
    format!("{scheme}://{address}")
}

/// `count` channels to `address`, each over a connection of its own.
pub async fn connect(address: SocketAddr, count: usize) -> Vec<Channel> {
    let target = Target::parse(&url(address), &outbound()).unwrap();
    (0..count).map(|_| target.channel()).collect()
}

/// Resident memory of process `pid` (`self` for this one), now and at its peak, in
/// MiB, from `/proc/<pid>/status`.
pub fn memory(pid: &str) -> (f64, f64) {
    let field = status_of(pid);
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resident memory of process `pid` of its own (heap, stacks: not the pages
/// of the program's file, which every process of this binary maps), in MiB.
pub fn anonymous(pid: u32) -> f64 {
    status_of(&pid.to_string())("RssAnon:")
}

/// The figures of `/proc/<pid>/status`, by name, in MiB.
fn status_of(pid: &str) -> impl Fn(&str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    move |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }
}

/// A server of the benchmark in a child process.
pub struct ServerProcess {
    pub name: &'static str,
    child: std::process::Child,
    pub address: SocketAddr,
}

impl ServerProcess {
    /// Starts `role` with `settings` (pairs of the variables above and their
    /// values) and waits until it serves.
    pub async fn start(
        name: &'static str,
        role: &str,
        settings: &[(&str, String)],
        tokens: &TestTokens,
    ) -> Self {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .env(ROLE, role)
            .env(PUBLIC_KEY, &tokens.keys.public_pem)
            .envs(settings.iter().map(|(k, v)| (k, v)));
        let (child, address) = aimaq_testing::child::spawn_server(command).await;
        let server = ServerProcess {
            name,
            child,
            address,
        };
        // The bare servers listen before the address is printed and have no
        // health service; the Aimaq ones may still be migrating.
        let aimaq = matches!(role, "governance" | "budget" | "grants" | "gateway");
        let deadline = Instant::now() + Duration::from_secs(30);
        while aimaq && !aimaq_server::is_serving(&server.url(), &outbound(), "").await {
            assert!(Instant::now() < deadline, "{name} did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    pub fn url(&self) -> String {
        url(self.address)
    }

    pub async fn channel(&self) -> Channel {
        connect(self.address, 1).await.remove(0)
    }

    /// Resident memory now and at its peak, in MiB.
    pub fn memory(&self) -> (f64, f64) {
        memory(&self.child.id().to_string())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the peak over from what is resident now (`5` written to the
    /// process's `clear_refs`), so that the next peak is of what follows.
    pub fn forget_peak(&self) {
        let path = format!("/proc/{}/clear_refs", self.child.id());
        if let Err(error) = std::fs::write(&path, "5") {
            eprintln!("{path}: {error}: the peak includes what came before");
        }
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

/// In a child process (its role set): serves the role on an ephemeral port,
/// printing the address, and says so. An Aimaq server's role is served here,
/// any other by `bare`.
pub fn served_as_child<F, Fut>(bare: F) -> bool
where
    F: FnOnce(String, TcpListener, Stop) -> Fut,
    Fut: Future<Output = ()>,
{
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        aimaq_testing::init_logs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        let stop: Stop = Box::pin(aimaq_testing::child::parent_gone());
        match role.as_str() {
            "governance" | "budget" | "grants" | "gateway" => {
                serve_aimaq(&role, listener, stop).await;
            }
            _ => bare(role, listener, stop).await,
        }
    });
    true
}

async fn serve_aimaq(role: &str, listener: TcpListener, stop: Stop) {
    let target = || std::env::var(TARGET).unwrap();
    // The tokens' public key, as a key directory.
    let key_dir = tempfile::tempdir().unwrap();
    let public_pem = std::env::var(PUBLIC_KEY).unwrap();
    let kid = aimaq_auth::key_id_of_pem(&public_pem).unwrap();
    std::fs::write(key_dir.path().join(format!("{kid}.pem")), public_pem).unwrap();
    let fresh = match std::env::var(DATABASE) {
        Ok(_) => None,
        Err(_) => Some(TestDatabase::sqlite().await),
    };
    let database_url = match &fresh {
        Some(database) => database.url.clone(),
        None => std::env::var(DATABASE).unwrap(),
    };
    let mut config = aimaq_testing::test_config(&database_url, key_dir.path());
    if let Ok(streams) = std::env::var(MAX_STREAMS) {
        config.limits.max_streams = streams.parse().unwrap();
        config.limits.max_streams_per_caller = config.limits.max_streams;
    }
    if let Ok(address) = std::env::var(METRICS) {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(address.parse::<SocketAddr>().unwrap())
            .install()
            .unwrap();
    }
    if plaintext() {
        config.tls = aimaq_config::TlsConfig {
            plaintext: true,
            ..aimaq_config::TlsConfig::default()
        };
    }
    match role {
        "governance" => aimaq_governance::run(config, listener, stop).await.unwrap(),
        "budget" => aimaq_budget::run(config, target(), listener, stop)
            .await
            .unwrap(),
        "grants" => aimaq_grants::run(config, target(), listener, stop)
            .await
            .unwrap(),
        _ => {
            let urls: Vec<Targets> = target().split(' ').map(|u| u.parse().unwrap()).collect();
            let view_max_age = std::env::var(VIEW_AGE_MS)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map_or(Duration::from_secs(1), Duration::from_millis);
            let backends = BackendsConfig {
                governance_url: urls[0].clone(),
                budget_url: urls[1].clone(),
                grants_url: urls[2].clone(),
                backend_connections: 2,
                backend_timeout: Duration::from_secs(5),
                view_max_age,
                view_cache_entries: aimaq_gateway::VIEW_CACHE_ENTRIES,
                view_cache_bytes: aimaq_gateway::VIEW_CACHE_BYTES,
            };
            let rate = RateConfig::local("1000000/1000000".parse().unwrap(), Vec::new());
            let gateway = GatewayConfig::like(config, backends, rate);
            aimaq_gateway::run(gateway, listener, stop).await.unwrap();
        }
    }
}
