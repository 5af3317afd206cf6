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
//! village and the gateway's health check in the same run. Every server runs
//! in this process (on a runtime of its own), so the memory reported is their
//! sum.
//!
//!     cargo bench -p aimaq-gateway --bench national
//!
//! `AIMAQ_BENCH_SCALE=10` loads a tenth of the projects and applications (a
//! quick look). Prints Markdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod load;

use load::{
    DECISION_YEARS, Nation, load_applications, load_projects, load_statuses, load_territories,
    scale, spread,
};

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimaq_bench::{Load, Measurement};
use aimaq_gateway::{BackendsConfig, GatewayConfig, RateConfig, Targets};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::gateway::v1::GetSettlementProfileRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::{Engine, TestDatabase, TestServer, TestTokens, with_token};
use aimaq_types::Kato;
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
    governance: TestServer,
    budget: TestServer,
    grants: TestServer,
    fresh: TestServer,
    cached: TestServer,
}

async fn another(engine: Engine) -> TestDatabase {
    match engine {
        Engine::Sqlite => TestDatabase::sqlite().await,
        Engine::Postgres => TestDatabase::postgres().await.unwrap(),
    }
}

async fn gateway(on: &Handle, tokens: &TestTokens, urls: [String; 3], age: Duration) -> TestServer {
    let fixed = |url: &String| Targets::Fixed(vec![url.clone()]);
    let backends = BackendsConfig {
        governance_url: fixed(&urls[0]),
        budget_url: fixed(&urls[1]),
        grants_url: fixed(&urls[2]),
        backend_connections: 2,
        backend_timeout: Duration::from_secs(5),
        view_max_age: age,
        view_cache_entries: aimaq_gateway::VIEW_CACHE_ENTRIES,
        view_cache_bytes: aimaq_gateway::VIEW_CACHE_BYTES,
    };
    let rate = RateConfig {
        rate_limit: "1000000/1000000".parse().unwrap(),
        agency_rate_limits: Vec::new(),
    };
    let database = TestDatabase::sqlite().await;
    TestServer::start_on(
        on.clone(),
        database,
        tokens,
        move |config, listener, stop| {
            aimaq_gateway::run(GatewayConfig::like(config, backends, rate), listener, stop)
        },
    )
    .await
}

async fn start(database: TestDatabase, on: &Handle, tokens: &TestTokens) -> Servers {
    let engine = database.engine;
    let governance =
        TestServer::start_on(on.clone(), database, tokens, aimaq_governance::run).await;
    let url = governance.url();
    let budget = TestServer::start_on(on.clone(), another(engine).await, tokens, {
        let url = url.clone();
        move |config, listener, stop| aimaq_budget::run(config, url, listener, stop)
    })
    .await;
    let grants = TestServer::start_on(on.clone(), another(engine).await, tokens, {
        let url = url.clone();
        move |config, listener, stop| aimaq_grants::run(config, url, listener, stop)
    })
    .await;
    let urls = [url, budget.url(), grants.url()];
    let fresh = gateway(on, tokens, urls.clone(), Duration::ZERO).await;
    let cached = gateway(on, tokens, urls, Duration::from_secs(1)).await;
    Servers {
        governance,
        budget,
        grants,
        fresh,
        cached,
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

async fn health(load: Load, server: &TestServer) -> Measurement {
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
    server: &TestServer,
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

/// Peak resident memory of this process (every server), in MiB.
fn peak_memory() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn run(database: TestDatabase, label: &'static str, on: Handle) {
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let nation = Nation::read();
    let servers = start(database, &on, &tokens).await;
    let budget = BudgetServiceClient::new(servers.budget.channel().await);
    let grants = GrantsServiceClient::new(servers.grants.channel().await);
    let mut loaded = Vec::new();
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
        "\nCache off at 64 callers: {:.2} of the cached throughput. Peak resident memory of the process (all five servers and the load): {:.0} MiB.",
        fresh_many.per_second / cached_many.per_second,
        peak_memory()
    );
}

fn main() {
    println!(
        "## National scale: reads of many territories (`cargo bench -p aimaq-gateway --bench national`)"
    );
    aimaq_bench::on_both_backends(run);
}
