//! One replica of a backend in a process of its own: this test binary run again
//! with `AIMAQ_REPLICA` set. It prints its address, serves, and drains when
//! its standard input closes; the test can also kill it with SIGKILL.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::common::v1::{AuditVerification, ChangeEvent};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::{budget, governance, grants};
use aimaq_testing::{TestPki, with_token};
use tonic::transport::Channel;

/// Set in a replica's environment: what it serves with, as JSON.
const ROLE: &str = "AIMAQ_REPLICA";

/// What every replica shares.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// `governance`, `budget` or `grants`.
    pub service: String,
    pub database: String,
    pub governance: String,
    pub keys: PathBuf,
    /// The log's signing key, the same for every replica as in production.
    pub log_key: PathBuf,
    pub nats: String,
    pub prefix: String,
}

pub struct Replica {
    child: Option<Child>,
    pub address: std::net::SocketAddr,
    pub database: String,
    service: String,
}

impl Replica {
    pub async fn start(settings: &Settings) -> Replica {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.env(ROLE, serde_json::to_string(settings).unwrap());
        let (child, address) = aimaq_testing::child::spawn_server(command).await;
        let replica = Replica {
            child: Some(child),
            address,
            database: settings.database.clone(),
            service: settings.service.clone(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !aimaq_server::is_serving(&replica.url(), &TestPki::get().client(), "").await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "a replica did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        replica
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    pub async fn channel(&self) -> Channel {
        aimaq_tls::Target::parse(&self.url(), &TestPki::get().client())
            .unwrap()
            .channel()
    }

    pub fn alive(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no drain, no last sequencing pass, the relay's lease held.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// The change feed from the start until it has been quiet for a second.
    pub async fn feed(&self, token: &str) -> Vec<ChangeEvent> {
        let channel = self.channel().await;
        let mut events = Vec::new();
        macro_rules! read {
            ($client:expr, $package:ident) => {{
                let asked = $package::v1::WatchChangesRequest {
                    after_sequence: 0,
                    resource_types: Vec::new(),
                };
                let mut stream = $client
                    .watch_changes(with_token(asked, token))
                    .await
                    .unwrap()
                    .into_inner();
                while let Ok(message) =
                    tokio::time::timeout(Duration::from_secs(1), stream.message()).await
                {
                    let Some(message) = message.unwrap() else {
                        break;
                    };
                    events.push(message.event.unwrap());
                }
            }};
        }
        match self.service.as_str() {
            "governance" => read!(GovernanceServiceClient::new(channel), governance),
            "budget" => read!(BudgetServiceClient::new(channel), budget),
            _ => read!(GrantsServiceClient::new(channel), grants),
        }
        events
    }

    pub async fn verify(&self, token: &str) -> AuditVerification {
        let channel = self.channel().await;
        macro_rules! verify {
            ($client:expr, $package:ident) => {
                $client
                    .verify_audit_log(with_token($package::v1::VerifyAuditLogRequest {}, token))
                    .await
                    .unwrap()
                    .into_inner()
                    .verification
            };
        }
        let verification = match self.service.as_str() {
            "governance" => verify!(GovernanceServiceClient::new(channel), governance),
            "budget" => verify!(BudgetServiceClient::new(channel), budget),
            _ => verify!(GrantsServiceClient::new(channel), grants),
        };
        verification.unwrap()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A closed standard input drains it; killed if it lingers.
            drop(child.stdin.take());
            for _ in 0..200 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// In a replica's process: serves budget as `AIMAQ_REPLICA` says and says
/// so; false in the test's own process.
pub fn serves() -> bool {
    let Ok(settings) = std::env::var(ROLE) else {
        return false;
    };
    let settings: Settings = serde_json::from_str(&settings).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        aimaq_testing::init_logs();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        let mut config = aimaq_testing::test_config(&settings.database, &settings.keys);
        config.log.log_signing_key = Some(settings.log_key);
        config.relay.nats_url = Some(settings.nats);
        config.relay.nats_prefix = settings.prefix;
        config.relay.relay_lease = Duration::from_secs(2);
        let stop = Box::pin(async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut buffer = [0u8; 64];
                while std::io::Read::read(&mut std::io::stdin(), &mut buffer).is_ok_and(|n| n > 0) {
                }
            })
            .await;
        });
        match settings.service.as_str() {
            "governance" => aimaq_governance::run(config, listener, stop).await.unwrap(),
            "budget" => aimaq_budget::run(config, settings.governance, listener, stop)
                .await
                .unwrap(),
            _ => aimaq_grants::run(config, settings.governance, listener, stop)
                .await
                .unwrap(),
        }
    });
    true
}
