//! Three gateway replicas serving one caller at three times its quota: with
//! the limits in a shared Redis, the calls admitted stay within 10% of the
//! quota; with the store unreachable, each replica admits its share, and
//! its health says the store does not answer. Skips without Redis unless
//! `AIMAQ_REQUIRE_REDIS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use aimaq_auth::Scope;
use aimaq_e2e::system::System;
use aimaq_gateway::{AgencyRateLimit, RateConfig};
use aimaq_proto::governance::v1::GetTerritoryRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_testing::{TestServer, test_redis_url, with_token};
use tonic::Code;

const QUOTA: f64 = 20.0;
const BURST: f64 = 20.0;
const REPLICAS: u32 = 3;
const WINDOW: Duration = Duration::from_secs(4);

/// Calls admitted when one caller sends at three times its quota, in turn
/// to each gateway; and what the quota allowed over the time it took.
async fn admitted_at_three_times(gateways: &[TestServer], token: &str) -> (u64, f64) {
    let mut clients = Vec::new();
    for gateway in gateways {
        clients.push(GovernanceServiceClient::new(gateway.channel().await));
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / (3.0 * QUOTA)));
    let started = Instant::now();
    let (mut admitted, mut n) = (0u64, 0usize);
    while started.elapsed() < WINDOW {
        tick.tick().await;
        let asked = GetTerritoryRequest {
            kato: "999999999".into(),
            ..GetTerritoryRequest::default()
        };
        let replica = n % clients.len();
        let answer = clients[replica]
            .get_territory(with_token(asked, token))
            .await;
        n += 1;
        match answer {
            // Past the limit, the backend answers: no such territory.
            Err(status) if status.code() == Code::NotFound => admitted += 1,
            Err(status) if status.code() == Code::ResourceExhausted => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let allowed = BURST + QUOTA * started.elapsed().as_secs_f64();
    eprintln!("{n} calls, {admitted} admitted, {allowed:.0} allowed by the quota");
    (admitted, allowed)
}

/// The calls admitted are within 10% of what the quota allowed.
fn within_the_quota((admitted, allowed): (u64, f64)) {
    let ratio = admitted as f64 / allowed;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{admitted} admitted where the quota allowed {allowed:.0} ({ratio:.2})"
    );
}

/// A caller of its own (keys in the shared store are per caller) and the
/// replicas' limits for its agency.
fn quota(system: &System, store: String) -> (String, RateConfig) {
    let caller = format!("quota-{}", uuid::Uuid::new_v4().simple());
    let token = system.tokens.token(&caller, &[Scope::Admin], None);
    let agency = format!("{caller} agency={QUOTA}/{BURST}");
    let mut rate = RateConfig::local(
        "1000/1000".parse().unwrap(),
        vec![agency.parse::<AgencyRateLimit>().unwrap()],
    );
    rate.rate_limit_url = Some(store);
    rate.gateway_replicas = REPLICAS;
    (token, rate)
}

async fn store_health(gateway: &TestServer) -> Option<bool> {
    aimaq_server::health(&gateway.url(), &gateway.client, "aimaq.rate-limit-store").await
}

async fn replicas(system: &System, rate: &RateConfig) -> Vec<TestServer> {
    let mut gateways = Vec::new();
    for _ in 0..REPLICAS {
        gateways.push(system.gateway(system.targets(), rate.clone(), None).await);
    }
    gateways
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_hold_one_quota_in_the_shared_store() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    let system = System::start().await;
    let (token, rate) = quota(&system, url);
    let gateways = replicas(&system, &rate).await;
    within_the_quota(admitted_at_three_times(&gateways, &token).await);
    for gateway in &gateways {
        let health = store_health(gateway).await;
        assert_eq!(health, Some(true), "the store answers");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_store_each_replica_admits_its_share_and_says_so() {
    let system = System::start().await;
    // Nothing listens there: every admission falls back at once.
    let (token, rate) = quota(&system, "redis://127.0.0.1:1".into());
    let gateways = replicas(&system, &rate).await;
    within_the_quota(admitted_at_three_times(&gateways, &token).await);
    let deadline = Instant::now() + Duration::from_secs(10);
    for gateway in &gateways {
        loop {
            if store_health(gateway).await == Some(false) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "health does not say the store is down"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The gateway itself still serves.
        assert!(aimaq_server::is_serving(&gateway.url(), &gateway.client, "").await);
    }
}
