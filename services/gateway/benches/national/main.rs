//! Reads at national scale, as a regional portal makes them: many different
//! territories, not the same one again and again.
//!
//! Loaded through the services' own RPCs, on each backend: the 16,264
//! territories of the classifier; a status of each of the seven standards for
//! every settlement; 100,000 projects over 2019–2026; 150,000 decided
//! applications over 2009–2026 (about one in ten refused); two years of
//! revenue for every rural district.
//!
//! Measured, one caller, each call for another territory of the level (a
//! rotation over up to 1,000 of them): `GetSufficiency`, `GetStatistics` and
//! `ListProjects` for a village, a district, a region and the country. Then
//! the gateway's `GetSettlementProfile` with its view cache off over 1,000
//! different villages, at 1 and 64 callers, beside the cached profile of one
//! village and the gateway's health check in the same run. Then each call the
//! profile makes, straight to its backend, for the same villages: where an
//! uncached profile's time goes. Every server runs in a process of its own, as
//! in production; the peak memory of each is reported for the loading and for
//! the reads.
//!
//!     cargo bench -p aimaq-gateway --bench national
//!
//! `AIMAQ_BENCH_SCALE=10` loads a tenth of the projects and applications (a
//! quick look). Prints Markdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calls;
mod load;
#[path = "../servers/mod.rs"]
mod servers;

use load::{
    DECISION_YEARS, Nation, load_applications, load_projects, load_statuses, load_territories,
    scale, spread,
};

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimaq_bench::{Load, Measurement};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::gateway::v1::GetSettlementProfileRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::{Engine, TestDatabase, TestTokens, with_token};
use aimaq_types::Kato;
use servers::ServerProcess;
use tokio::runtime::Handle;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ONE: Load = Load {
    callers: 1,
    warm_up: Duration::from_millis(500),
    window: Duration::from_secs(3),
};
const MANY: Load = Load {
    callers: 64,
    warm_up: Duration::from_secs(1),
    window: Duration::from_secs(5),
};
/// Territories a read rotates over.
const ROTATION: usize = 1_000;

/// The three backends and two gateways in front of them: one reading every
/// view fresh, one keeping answers for a second (the default).
struct Servers {
    // The processes stop before their databases are dropped.
    governance: ServerProcess,
    budget: ServerProcess,
    grants: ServerProcess,
    fresh: ServerProcess,
    cached: ServerProcess,
    _databases: [TestDatabase; 3],
}

impl Servers {
    fn each(&self) -> [&ServerProcess; 5] {
        [
            &self.governance,
            &self.budget,
            &self.grants,
            &self.fresh,
            &self.cached,
        ]
    }
}

async fn another(engine: Engine) -> TestDatabase {
    match engine {
        Engine::Sqlite => TestDatabase::sqlite().await,
        Engine::Postgres => TestDatabase::postgres().await.unwrap(),
    }
}

async fn start(database: TestDatabase, tokens: &TestTokens) -> Servers {
    let engine = database.engine;
    let databases = [database, another(engine).await, another(engine).await];
    let on = |database: &TestDatabase, target: Option<String>| {
        let mut settings = vec![(servers::DATABASE, database.url.clone())];
        settings.extend(target.map(|url| (servers::TARGET, url)));
        settings
    };
    let governance =
        ServerProcess::start("governance", "governance", &on(&databases[0], None), tokens).await;
    let url = governance.url();
    let budget = ServerProcess::start(
        "budget",
        "budget",
        &on(&databases[1], Some(url.clone())),
        tokens,
    )
    .await;
    let grants = ServerProcess::start(
        "grants",
        "grants",
        &on(&databases[2], Some(url.clone())),
        tokens,
    )
    .await;
    let backends = format!("{url} {} {}", budget.url(), grants.url());
    let gateway = |age_ms: &str| {
        [
            (servers::TARGET, backends.clone()),
            (servers::VIEW_AGE_MS, age_ms.to_owned()),
        ]
    };
    let fresh = ServerProcess::start("gateway, cache off", "gateway", &gateway("0"), tokens).await;
    let cached = ServerProcess::start("gateway, cached", "gateway", &gateway("1000"), tokens).await;
    Servers {
        governance,
        budget,
        grants,
        fresh,
        cached,
        _databases: databases,
    }
}

/// The codes a read at each level rotates over: villages, districts, regions,
/// the country.
fn levels(nation: &Nation) -> [(&'static str, Vec<String>); 4] {
    let villages = (0..ROTATION)
        .map(|n| {
            nation.settlements[spread(n) % nation.settlements.len()]
                .0
                .to_string()
        })
        .collect();
    let all = |codes: &[Kato]| codes.iter().map(Kato::to_string).collect();
    [
        ("village", villages),
        ("district", all(&nation.districts)),
        ("region", all(&nation.regions)),
        ("country", vec![String::new()]),
    ]
}

/// `load` of `call`, each call with the next of `keys`.
async fn rotating<F, Fut>(load: Load, keys: Vec<String>, call: F) -> Measurement
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    load.measure(move |_| {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        call(keys[n % keys.len()].clone())
    })
    .await
}

fn row(name: &str, m: &Measurement, baseline: f64) -> String {
    m.row(name, baseline)
}

async fn backend_reads(
    servers: &Servers,
    token: &str,
    nation: &Nation,
    baseline: f64,
) -> Vec<String> {
    let budget = BudgetServiceClient::new(servers.budget.channel().await);
    let grants = GrantsServiceClient::new(servers.grants.channel().await);
    let mut rows = Vec::new();
    for (level, keys) in levels(nation) {
        let (client, bearer) = (budget.clone(), token.to_owned());
        let sufficiency = rotating(ONE, keys.clone(), move |kato| {
            let mut client = client.clone();
            let request = with_token(
                GetSufficiencyRequest {
                    territory_kato: kato,
                },
                &bearer,
            );
            async move { client.get_sufficiency(request).await.is_ok() }
        })
        .await;
        rows.push(row(
            &format!("GetSufficiency, a {level}"),
            &sufficiency,
            baseline,
        ));
        let (client, bearer) = (grants.clone(), token.to_owned());
        let statistics = rotating(ONE, keys.clone(), move |kato| {
            let mut client = client.clone();
            let request = GetStatisticsRequest {
                from_year: *DECISION_YEARS.start(),
                to_year: *DECISION_YEARS.end(),
                territory_kato: kato,
                group_by: vec![StatisticsDimension::Year as i32],
            };
            let request = with_token(request, &bearer);
            async move { client.get_statistics(request).await.is_ok() }
        })
        .await;
        rows.push(row(
            &format!("GetStatistics 2009–2026 by year, a {level}"),
            &statistics,
            baseline,
        ));
        let (client, bearer) = (budget.clone(), token.to_owned());
        let projects = rotating(ONE, keys, move |kato| {
            let mut client = client.clone();
            let request = ListProjectsRequest {
                territory_kato: kato,
                page_size: 50,
                ..ListProjectsRequest::default()
            };
            let request = with_token(request, &bearer);
            async move { client.list_projects(request).await.is_ok() }
        })
        .await;
        rows.push(row(
            &format!("ListProjects (50), a {level}"),
            &projects,
            baseline,
        ));
    }
    rows
}

async fn health(load: Load, server: &ServerProcess) -> Measurement {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let client = HealthClient::new(server.channel().await);
    load.measure(move |_| {
        let mut client = client.clone();
        async move { client.check(HealthCheckRequest::default()).await.is_ok() }
    })
    .await
}

async fn profiles(
    load: Load,
    server: &ServerProcess,
    token: &str,
    villages: Vec<String>,
) -> Measurement {
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(server.channel().await);
    }
    let token = token.to_owned();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    load.measure(move |caller| {
        let mut client = GatewayServiceClient::new(channels[caller % channels.len()].clone());
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request = GetSettlementProfileRequest {
            kato: villages[n % villages.len()].clone(),
        };
        let request = with_token(request, &token);
        async move { client.get_settlement_profile(request).await.is_ok() }
    })
    .await
}

async fn run(database: TestDatabase, label: &'static str, _: Handle) {
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let nation = Nation::read();
    let servers = start(database, &tokens).await;
    let budget = BudgetServiceClient::new(servers.budget.channel().await);
    let grants = GrantsServiceClient::new(servers.grants.channel().await);
    let mut loaded = Vec::new();
    let pids = servers.each().map(ServerProcess::pid);
    let loading = Sampler::start(pids);
    let started = Instant::now();
    load_territories(&servers, &token, &nation).await;
    loaded.push(("territories and revenues", started.elapsed()));
    let started = Instant::now();
    load_statuses(&budget, &token, &nation).await;
    loaded.push(("standards statuses", started.elapsed()));
    let started = Instant::now();
    load_projects(&budget, &token, &nation).await;
    loaded.push(("projects", started.elapsed()));
    let started = Instant::now();
    load_applications(&grants, &token, &nation).await;
    loaded.push(("applications", started.elapsed()));

    println!("\n### {label}\n");
    println!(
        "Loaded {} territories, {} settlements × 7 statuses, {} projects, {} applications:",
        nation.rows.len(),
        nation.settlements.len(),
        100_000 / scale(),
        150_000 / scale()
    );
    for (what, took) in &loaded {
        println!("- {what}: {:.1} s", took.as_secs_f64());
    }
    let loading_peaks = servers.each().map(|server| server.memory().1);
    let loading_own = loading.peaks();
    for server in servers.each() {
        server.forget_peak();
    }
    let reading = Sampler::start(pids);
    let baseline = health(ONE, &servers.fresh).await;
    println!("\n| workload | calls | calls/s | ratio to baseline | p50 | p99 | failures |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "{}",
        row(
            "gateway health check, 1 caller (baseline)",
            &baseline,
            baseline.per_second
        )
    );
    for line in backend_reads(&servers, &token, &nation, baseline.per_second).await {
        println!("{line}");
    }
    let villages = levels(&nation)[0].1.clone();
    let one_village = vec![villages[0].clone()];
    let many_health = health(MANY, &servers.fresh).await;
    let cached_one = profiles(ONE, &servers.cached, &token, one_village.clone()).await;
    let cached_many = profiles(MANY, &servers.cached, &token, one_village).await;
    let fresh_one = profiles(ONE, &servers.fresh, &token, villages.clone()).await;
    let fresh_many = profiles(MANY, &servers.fresh, &token, villages).await;
    let b = baseline.per_second;
    let m = many_health.per_second;
    println!(
        "{}",
        row(
            "GetSettlementProfile cached (one village), 1 caller",
            &cached_one,
            b
        )
    );
    println!(
        "{}",
        row(
            "GetSettlementProfile, cache off, 1,000 villages, 1 caller",
            &fresh_one,
            b
        )
    );
    println!(
        "{}",
        row(
            "gateway health check, 64 callers (baseline)",
            &many_health,
            m
        )
    );
    println!(
        "{}",
        row(
            "GetSettlementProfile cached (one village), 64 callers",
            &cached_many,
            m
        )
    );
    println!(
        "{}",
        row(
            "GetSettlementProfile, cache off, 1,000 villages, 64 callers",
            &fresh_many,
            m
        )
    );
    println!(
        "\nCache off at 64 callers: {:.2} of the cached throughput.",
        fresh_many.per_second / cached_many.per_second,
    );
    println!("\nThe profile's calls one by one, straight to the backends, 1 caller:\n");
    println!("| workload | calls | calls/s | ratio to baseline | p50 | p99 | failures |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for line in calls::profile_calls(&servers, &token, &nation, b).await {
        println!("{line}");
    }
    let reading_own = reading.peaks();
    println!(
        "\nPeak resident memory of each server (its own process): all of it, and its own \
         (heap and stacks, sampled every 50 ms; not the pages of the benchmark's program, \
         which holds all four services):\n"
    );
    println!("| server | loading | its own | the reads above | its own |");
    println!("|---|---:|---:|---:|---:|");
    for (n, server) in servers.each().iter().enumerate() {
        println!(
            "| {} | {:.0} MiB | {:.0} MiB | {:.0} MiB | {:.0} MiB |",
            server.name,
            loading_peaks[n],
            loading_own[n],
            server.memory().1,
            reading_own[n]
        );
    }
}

/// The largest anonymous memory of each process, sampled every 50 ms on a
/// thread of its own until asked.
struct Sampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<[f64; 5]>,
}

impl Sampler {
    fn start(pids: [u32; 5]) -> Sampler {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peaks = [0.0_f64; 5];
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                for (peak, pid) in peaks.iter_mut().zip(pids) {
                    *peak = peak.max(servers::anonymous(pid));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            peaks
        });
        Sampler { stop, thread }
    }

    fn peaks(self) -> [f64; 5] {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn main() {
    let unknown = |role: String, _, _| async move { panic!("no server role {role:?}") };
    if servers::served_as_child(unknown) {
        return;
    }
    println!(
        "## National scale: reads of many territories (`cargo bench -p aimaq-gateway --bench national`)"
    );
    aimaq_bench::on_both_backends(run);
}
