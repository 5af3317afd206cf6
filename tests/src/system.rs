//! Governance, budget and grants servers on ephemeral ports (SQLite, mutual
//! TLS), and gateways in front of them.

use std::net::SocketAddr;
use std::time::Duration;

use aimaq_config::{LimitsConfig, ServerConfig};
use aimaq_gateway::{BackendsConfig, GatewayConfig, RateConfig, Targets};
use aimaq_testing::territories::governance_with;
use aimaq_testing::{TestDatabase, TestServer, TestTokens};
use tokio::net::TcpListener;

/// The three backends, grants on an address it can be restarted on.
pub struct System {
    pub tokens: TestTokens,
    pub governance: TestServer,
    pub budget: TestServer,
    pub grants: Option<TestServer>,
    pub grants_address: SocketAddr,
}

pub async fn start_grants(
    address: SocketAddr,
    tokens: &TestTokens,
    governance_url: String,
) -> TestServer {
    TestServer::start_at(
        address,
        TestDatabase::sqlite().await,
        tokens,
        move |config, listener, shutdown| {
            aimaq_grants::run(config, governance_url, listener, shutdown)
        },
    )
    .await
}

impl System {
    pub async fn start() -> System {
        let tokens = TestTokens::new();
        let governance = governance_with(&tokens, aimaq_governance::run, &[]).await;
        let url = governance.url();
        let budget = TestServer::start(
            TestDatabase::sqlite().await,
            &tokens,
            move |config, listener, shutdown| aimaq_budget::run(config, url, listener, shutdown),
        )
        .await;
        let grants = start_grants(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            &tokens,
            governance.url(),
        )
        .await;
        System {
            grants_address: grants.address,
            tokens,
            governance,
            budget,
            grants: Some(grants),
        }
    }

    /// Grants again on its address, after a test stopped it.
    pub async fn restart_grants(&mut self) {
        let governance = self.governance.url();
        self.grants = Some(start_grants(self.grants_address, &self.tokens, governance).await);
    }

    pub fn targets(&self) -> BackendsConfig {
        let fixed = |server: &TestServer| Targets::Fixed(vec![server.url()]);
        BackendsConfig {
            governance_url: fixed(&self.governance),
            budget_url: fixed(&self.budget),
            grants_url: Targets::Fixed(vec![format!("https://{}", self.grants_address)]),
            backend_connections: 2,
            backend_timeout: Duration::from_secs(5),
            // Every view read fresh: these tests watch backends change.
            view_max_age: Duration::ZERO,
            view_cache_entries: aimaq_gateway::VIEW_CACHE_ENTRIES,
            view_cache_bytes: aimaq_gateway::VIEW_CACHE_BYTES,
        }
    }

    pub async fn gateway(
        &self,
        backends: BackendsConfig,
        rate: RateConfig,
        max_message_bytes: Option<usize>,
    ) -> TestServer {
        start_gateway(&self.tokens, backends, rate, max_message_bytes).await
    }
}

/// The gateway in front of `backends`, verifying the test tokens.
pub async fn start_gateway(
    tokens: &TestTokens,
    backends: BackendsConfig,
    rate: RateConfig,
    max_message_bytes: Option<usize>,
) -> TestServer {
    start_gateway_with(tokens, backends, rate, move |limits| {
        if let Some(bytes) = max_message_bytes {
            limits.max_message_bytes = bytes;
        }
    })
    .await
}

/// The gateway in front of `backends`, with its limits as `adjust` sets them.
pub async fn start_gateway_with(
    tokens: &TestTokens,
    backends: BackendsConfig,
    rate: RateConfig,
    adjust: impl FnOnce(&mut LimitsConfig),
) -> TestServer {
    TestServer::start(
        TestDatabase::sqlite().await,
        tokens,
        move |config, listener, shutdown| {
            let mut limits = config.limits;
            adjust(&mut limits);
            let gateway = GatewayConfig::like(ServerConfig { limits, ..config }, backends, rate);
            aimaq_gateway::run(gateway, listener, shutdown)
        },
    )
    .await
}

pub fn generous() -> RateConfig {
    RateConfig::local("10000/10000".parse().unwrap(), Vec::new())
}

/// A listener that accepts connections and never answers: a hung backend.
pub async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (address, task)
}

/// A system with a gateway in front, the admin's token, and every scenario's
/// data written through the gateway.
pub async fn with_every_scenario() -> (System, TestServer, String) {
    let system = System::start().await;
    let gateway = system.gateway(system.targets(), generous(), None).await;
    let token = system.tokens.admin();
    let channel = gateway.channel().await;
    crate::scenario::budget_scenario(channel.clone(), &token).await;
    crate::scenario::grants_scenario(channel.clone(), &token).await;
    crate::scenario::governance_scenario(channel, &token).await;
    (system, gateway, token)
}
