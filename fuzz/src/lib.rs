//! The servers the fuzz targets fire at: one service (with what it needs)
//! running in this process on SQLite and mutual TLS, as the tests run it. An
//! input's first byte picks the RPC and the rest is its request body, sent as
//! it is; the body goes through the server's decoding, its bounds, the API's
//! validation and, when valid, the operation. INTERNAL, UNKNOWN or a panic
//! anywhere in the process fails the input.

pub use libfuzzer_sys;

use aimaq_testing::hostile::{self, Rpc};
use aimaq_testing::territories::governance_with;
use aimaq_testing::{TestDatabase, TestServer, TestTokens};
use bytes::Bytes;
use tokio::runtime::Runtime;
use tonic::transport::Channel;

/// A running service and how to call it.
pub struct Target {
    runtime: Runtime,
    channel: Channel,
    token: String,
    rpcs: Vec<Rpc>,
    /// Kept running for as long as the target lives.
    _servers: Vec<TestServer>,
    _system: Option<aimaq_e2e::system::System>,
}

/// Which service a target fires at.
#[derive(Clone, Copy)]
pub enum Service {
    Governance,
    Budget,
    Grants,
    Gateway,
}

impl Target {
    pub fn start(service: Service) -> Target {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        hostile::watch_panics();
        let started = runtime.block_on(start(service));
        let called = started.servers.last().expect("a target starts a server");
        let channel = runtime.block_on(called.channel());
        Target {
            channel,
            token: started.tokens.admin(),
            rpcs: hostile::rpcs(started.service),
            _servers: started.servers,
            _system: started.system,
            runtime,
        }
    }

    /// Sends `data` as described in the module's comment; panics on a finding.
    pub fn fire(&self, data: &[u8]) {
        let Some((selector, body)) = data.split_first() else {
            return;
        };
        let rpc = &self.rpcs[usize::from(*selector) % self.rpcs.len()];
        let panics = hostile::panics();
        let outcome = self.runtime.block_on(hostile::call(
            &self.channel,
            rpc,
            vec![Bytes::copy_from_slice(body)],
            &self.token,
        ));
        assert_eq!(hostile::panics(), panics, "{} panicked", rpc.path);
        assert!(
            !outcome.is_fault(),
            "{}: {:?} {}",
            rpc.path,
            outcome.code,
            outcome.message
        );
    }
}

/// The servers of a target, the last the one fired at.
struct Started {
    servers: Vec<TestServer>,
    system: Option<aimaq_e2e::system::System>,
    tokens: TestTokens,
    service: &'static str,
}

async fn start(service: Service) -> Started {
    use aimaq_e2e::system::{System, generous};
    let tokens = TestTokens::new();
    let alone = |servers, tokens, service| Started {
        servers,
        system: None,
        tokens,
        service,
    };
    match service {
        Service::Governance => {
            let governance = governance_with(&tokens, aimaq_governance::run, &[]).await;
            alone(
                vec![governance],
                tokens,
                "aimaq.governance.v1.GovernanceService",
            )
        }
        Service::Budget => {
            let servers = beside_governance(&tokens, aimaq_budget::run).await;
            alone(servers, tokens, "aimaq.budget.v1.BudgetService")
        }
        Service::Grants => {
            let servers = beside_governance(&tokens, aimaq_grants::run).await;
            alone(servers, tokens, "aimaq.grants.v1.GrantsService")
        }
        Service::Gateway => {
            let system = System::start().await;
            let gateway = system.gateway(system.targets(), generous(), None).await;
            Started {
                servers: vec![gateway],
                tokens: system.tokens.clone(),
                system: Some(system),
                service: "aimaq.gateway.v1.GatewayService",
            }
        }
    }
}

/// Governance, and a service (budget or grants) that asks it about territories.
async fn beside_governance<F, Fut, E>(tokens: &TestTokens, run: F) -> Vec<TestServer>
where
    F: FnOnce(
            aimaq_config::ServerConfig,
            String,
            tokio::net::TcpListener,
            aimaq_testing::ShutdownSignal,
        ) -> Fut
        + Send
        + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let governance = governance_with(tokens, aimaq_governance::run, &[]).await;
    let url = governance.url();
    let service = TestServer::start(TestDatabase::sqlite().await, tokens, move |c, l, s| {
        run(c, url, l, s)
    })
    .await;
    vec![governance, service]
}

/// The body of a fuzz target firing at `service`.
#[macro_export]
macro_rules! fuzz_service {
    ($service:ident) => {
        static TARGET: std::sync::OnceLock<$crate::Target> = std::sync::OnceLock::new();

        $crate::libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            TARGET
                .get_or_init(|| $crate::Target::start($crate::Service::$service))
                .fire(data);
        });
    };
}
