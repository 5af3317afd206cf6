//! The all-in-one launcher: governance, budget, grants and the gateway in one
//! process, each with its own SQLite file under a data directory, verifying tokens
//! signed by a development key pair generated there on first start.

mod demo;
mod logkeys;
mod options;
mod tls;
mod tokens;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aimaq_auth::DevKeys;
use aimaq_config::{AuthConfig, DatabaseUrl, LimitsConfig, MigrateMode, ServerConfig};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use options::StackOptions;
pub use tls::{AGENCIES, DemoAgency, StackTls};
pub use tokens::{development_token, development_tokens};

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("development keys: {0}")]
    Keys(#[from] aimaq_auth::KeyError),
    #[error("{service}: cannot listen on {address}: {source}")]
    Listen {
        service: &'static str,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("{service} stopped: {message}")]
    Service {
        service: &'static str,
        message: String,
    },
    #[error("{0} did not report SERVING within 60 s")]
    NotReady(&'static str),
    #[error("demo data: {0}")]
    Demo(String),
    #[error("development certificates: {0}")]
    Tls(String),
}

const PLAINTEXT_WARNING: &str = "\n!!! PLAINTEXT: TLS IS OFF (--plaintext). Tokens, IINs and money cross the \
     network in the clear, and no caller is authenticated by certificate. For local \
     experiments only. !!!\n\n";

/// One running server of the stack.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub service: &'static str,
    pub grpc_service: &'static str,
    pub address: SocketAddr,
    /// `https`, or `http` with `--plaintext`.
    pub scheme: &'static str,
}

impl Endpoint {
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }
}

/// The running system.
pub struct Stack {
    pub endpoints: Vec<Endpoint>,
    pub admin_token: String,
    /// A token of each demo agency but the administrator, by subject.
    pub agency_tokens: Vec<(&'static str, String)>,
    pub tls: StackTls,
    /// What the demo data holds, a line each.
    pub demo: Vec<String>,
    /// Each backend's audit-log public key (`<origin>+<id>+<key>`).
    pub log_keys: Vec<(&'static str, String)>,
    data_dir: PathBuf,
    stop: watch::Sender<bool>,
    tasks: ServerTasks,
}

fn database_url(data_dir: &Path, service: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{service}.sqlite")).display()
    )
}

async fn bind(service: &'static str, address: SocketAddr) -> Result<TcpListener, StackError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StackError::Listen {
            service,
            address,
            source,
        })
}

/// What a server's task ends with: its name, and why it stopped early.
type ServerTasks = JoinSet<(&'static str, Result<(), String>)>;

/// The settings the four servers share, and where their tasks go.
struct Launch<'a> {
    options: &'a StackOptions,
    tls: &'a StackTls,
    auth: AuthConfig,
    limits: LimitsConfig,
    stop: &'a watch::Sender<bool>,
    tasks: &'a mut ServerTasks,
}

impl Launch<'_> {
    /// Completes once the stack is told to stop.
    fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.stop.subscribe();
        async move {
            let _ = receiver.wait_for(|stopped| *stopped).await;
        }
    }

    /// Binds `port` on the stack's host (0: any free port).
    async fn listen(
        &self,
        service: &'static str,
        port: u16,
    ) -> Result<(TcpListener, SocketAddr), StackError> {
        let wanted = SocketAddr::new(self.options.host, port);
        let listener = bind(service, wanted).await?;
        let address = listener.local_addr().map_err(|source| StackError::Listen {
            service,
            address: wanted,
            source,
        })?;
        Ok((listener, address))
    }

    fn server_config(&self, service: &str, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen,
            database_url: DatabaseUrl::new(database_url(&self.options.data_dir, service)),
            migrate: MigrateMode::Auto,
            auth: self.auth.clone(),
            tls: self.tls.server(service),
            limits: self.limits.clone(),
            telemetry: self.options.telemetry(),
            log: aimaq_config::LogKeyConfig {
                log_signing_key: Some(logkeys::log_key_path(&self.options.data_dir, service)),
                log_cosigner: Vec::new(),
            },
            witness: aimaq_config::WitnessConfig::default(),
            relay: aimaq_config::RelayConfig::default(),
        }
    }

    /// Starts governance, then budget and grants (which ask it about territories).
    async fn backends(&mut self) -> Result<Vec<Endpoint>, StackError> {
        // Every address first: each backend witnesses the other two's logs.
        let mut bound = Vec::new();
        for (service, grpc_service, port) in [
            (
                "governance",
                "aimaq.governance.v1.GovernanceService",
                self.options.governance_port,
            ),
            (
                "budget",
                "aimaq.budget.v1.BudgetService",
                self.options.budget_port,
            ),
            (
                "grants",
                "aimaq.grants.v1.GrantsService",
                self.options.grants_port,
            ),
        ] {
            let (listener, address) = self.listen(service, port).await?;
            let endpoint = Endpoint {
                service,
                grpc_service,
                address,
                scheme: self.tls.scheme(),
            };
            bound.push((listener, endpoint));
        }
        let endpoints: Vec<Endpoint> = bound.iter().map(|(_, e)| e.clone()).collect();
        let governance_url = endpoints[0].url();
        for (listener, endpoint) in bound {
            let service = endpoint.service;
            let mut config = ServerConfig {
                witness: logkeys::witness_config(&self.options.data_dir, service, &endpoints)?,
                ..self.server_config(service, endpoint.address)
            };
            config.log.log_cosigner = logkeys::cosigners(&self.options.data_dir, service)?;
            let shutdown = self.stopped();
            let governance_url = governance_url.clone();
            self.tasks.spawn(async move {
                let result = match service {
                    "governance" => aimaq_governance::run(config, listener, shutdown).await,
                    "budget" => aimaq_budget::run(config, governance_url, listener, shutdown).await,
                    _ => aimaq_grants::run(config, governance_url, listener, shutdown).await,
                };
                (service, result.map_err(|e| e.to_string()))
            });
        }
        Ok(endpoints)
    }

    /// Starts the gateway in front of `backends`.
    async fn gateway(&mut self, backends: &[Endpoint]) -> Result<Endpoint, StackError> {
        let (listener, address) = self.listen("gateway", self.options.gateway_port).await?;
        let backend_url = |service: &str| {
            backends
                .iter()
                .find(|e| e.service == service)
                .map(|e| aimaq_gateway::Targets::Fixed(vec![e.url()]))
                .ok_or(StackError::NotReady("gateway"))
        };
        let gateway = aimaq_gateway::GatewayConfig {
            listen: address,
            backends: aimaq_gateway::BackendsConfig {
                governance_url: backend_url("governance")?,
                budget_url: backend_url("budget")?,
                grants_url: backend_url("grants")?,
                backend_connections: 2,
                backend_timeout: Duration::from_secs(5),
                view_max_age: Duration::from_secs(1),
                view_cache_entries: aimaq_gateway::VIEW_CACHE_ENTRIES,
                view_cache_bytes: aimaq_gateway::VIEW_CACHE_BYTES,
            },
            rate: self.options.rate.clone(),
            browsers: aimaq_gateway::BrowserConfig::default(),
            auth: self.auth.clone(),
            tls: self.tls.server("gateway"),
            limits: self.limits.clone(),
            telemetry: self.options.telemetry(),
        };
        let shutdown = self.stopped();
        self.tasks.spawn(async move {
            let result = aimaq_gateway::run(gateway, listener, shutdown).await;
            ("gateway", result.map_err(|e| e.to_string()))
        });
        Ok(Endpoint {
            service: "gateway",
            grpc_service: "aimaq.gateway.v1.GatewayService",
            address,
            scheme: self.tls.scheme(),
        })
    }
}

impl Stack {
    /// Starts the four servers and returns once each reports SERVING.
    pub async fn start(options: &StackOptions) -> Result<Stack, StackError> {
        let data_dir = &options.data_dir;
        let tls = StackTls::prepare(data_dir, &options.host.to_string(), options.plaintext)?;
        let mut tokens = development_tokens(options, &tls)?.into_iter();
        let admin_token = tokens.next().map(|(_, token)| token).unwrap_or_default();
        let log_keys = logkeys::log_keys(data_dir)?;
        logkeys::write_witness_token(options)?;
        let (stop, _) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut launch = Launch {
            options,
            tls: &tls,
            auth: AuthConfig {
                // Budget and grants pass callers' certificates on to governance,
                // the gateway to all three.
                trusted_forwarders: vec!["gateway".into(), "budget".into(), "grants".into()],
                ..AuthConfig::new(DevKeys::key_set_path(data_dir))
            },
            limits: LimitsConfig {
                shutdown_grace: Duration::from_secs(5),
                ..LimitsConfig::default()
            },
            stop: &stop,
            tasks: &mut tasks,
        };
        let mut endpoints = launch.backends().await?;
        let gateway = launch.gateway(&endpoints).await?;
        endpoints.insert(0, gateway);
        let mut stack = Stack {
            endpoints,
            admin_token,
            agency_tokens: tokens.collect(),
            tls,
            demo: Vec::new(),
            log_keys,
            data_dir: data_dir.clone(),
            stop,
            tasks,
        };
        stack.wait_until_serving().await?;
        stack.demo = stack.seed(options).await?;
        Ok(stack)
    }

    async fn wait_until_serving(&mut self) -> Result<(), StackError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let admin = self.tls.outbound(AGENCIES[0].subject)?;
        for endpoint in self.endpoints.clone() {
            loop {
                if aimaq_server::is_serving(&endpoint.url(), &admin, endpoint.grpc_service).await {
                    break;
                }
                // A server that failed to start ends its task: report why.
                if let Some(Ok((service, result))) = self.tasks.try_join_next() {
                    return Err(StackError::Service {
                        service,
                        message: result.err().unwrap_or_else(|| "exited".into()),
                    });
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(StackError::NotReady(endpoint.service));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        Ok(())
    }

    fn endpoint(&self, service: &str) -> Result<&Endpoint, StackError> {
        self.endpoints
            .iter()
            .find(|e| e.service == service)
            .ok_or_else(|| StackError::Demo(format!("no {service} endpoint")))
    }

    /// A channel to one server, as the administrator (who loads the demo data).
    pub async fn channel(&self, service: &str) -> Result<tonic::transport::Channel, StackError> {
        let admin = self.tls.outbound(AGENCIES[0].subject)?;
        aimaq_tls::Target::parse(&self.endpoint(service)?.url(), &admin)
            .map(|target| target.channel())
            .map_err(StackError::Demo)
    }

    /// Loads the demo data through the services' own APIs. Every request has a
    /// fixed id, so a restart on the same data directory changes nothing.
    async fn seed(&self, options: &StackOptions) -> Result<Vec<String>, StackError> {
        let mut lines = Vec::new();
        if options.classifier.exists() {
            let mut rows = aimaq_governance::classifier::read(&options.classifier)
                .map_err(|e| StackError::Demo(e.to_string()))?;
            let named = demo::name_in_other_languages(&mut rows).map_err(StackError::Demo)?;
            let dated = demo::date_formed_territories(&mut rows).map_err(StackError::Demo)?;
            let mut client = GovernanceServiceClient::new(self.channel("governance").await?);
            let answer = aimaq_governance::classifier::import(
                &mut client,
                &self.admin_token,
                "demo-kato-2022",
                rows.clone(),
            )
            .await
            .map_err(|e| StackError::Demo(e.to_string()))?;
            lines.push(format!(
                "territories: {} from {} ({} rejected); {named} named in Kazakh and English; {dated} dated from their forming in 2022",
                answer.created + answer.updated + answer.unchanged,
                options.classifier.display(),
                answer.rejected
            ));
            lines.extend(
                demo::governance(client, &self.admin_token, &rows)
                    .await
                    .map_err(|status| StackError::Demo(status.message().to_owned()))?,
            );
            lines.extend(
                demo::budget(
                    BudgetServiceClient::new(self.channel("budget").await?),
                    &self.admin_token,
                    &rows,
                )
                .await
                .map_err(|status| StackError::Demo(status.message().to_owned()))?,
            );
            lines.extend(
                demo::grants(
                    GrantsServiceClient::new(self.channel("grants").await?),
                    &self.admin_token,
                    &rows,
                )
                .await
                .map_err(|status| StackError::Demo(status.message().to_owned()))?,
            );
        } else {
            tracing::warn!(path = %options.classifier.display(), "classifier file not found; no territories loaded");
            lines.push(format!(
                "territories: none ({} not found)",
                options.classifier.display()
            ));
        }
        Ok(lines)
    }

    /// What a developer needs to call the system.
    pub fn banner(&self) -> String {
        let mut text = String::new();
        if self.tls.is_plaintext() {
            text.push_str(PLAINTEXT_WARNING);
        }
        text.push_str(&format!(
            "Aimaq is running (data in {}):\n",
            self.data_dir.display()
        ));
        for endpoint in &self.endpoints {
            text.push_str(&format!(
                "  {:<11} {:<30} {}\n",
                endpoint.service,
                endpoint.url(),
                endpoint.grpc_service
            ));
        }
        text.push_str("  The gateway also serves the three backend APIs: one address is enough.\n");
        text.push_str("\nAudit log keys (checkpoints verify with these; files in log-keys/):\n");
        for (service, key) in &self.log_keys {
            text.push_str(&format!("  {service:<11} {key}\n"));
        }
        if !self.demo.is_empty() {
            text.push_str("\nDemo data:\n");
            for line in &self.demo {
                text.push_str(&format!("  {line}\n"));
            }
        }
        let gateway = self
            .endpoints
            .first()
            .map(|e| e.address.to_string())
            .unwrap_or_default();
        let tokens = std::iter::once((AGENCIES[0].subject, &self.admin_token)).chain(
            self.agency_tokens
                .iter()
                .map(|(subject, token)| (*subject, token)),
        );
        for (subject, token) in tokens {
            let bound = if self.tls.is_plaintext() {
                ""
            } else {
                ", bound to its certificate"
            };
            text.push_str(&format!("\nToken of {subject}{bound}:\n{token}\n"));
            text.push_str(&format!(
                "  grpcurl {} -H \"authorization: Bearer $TOKEN\" {gateway} list\n",
                self.tls.grpcurl_flags(subject)
            ));
        }
        if self.tls.is_plaintext() {
            text.push_str(PLAINTEXT_WARNING);
        }
        text.push_str("\nPress Ctrl-C to stop.");
        text
    }

    /// Stops every server (each drains its calls) and reports the first failure.
    pub async fn stop(mut self) -> Result<(), StackError> {
        self.stop.send_replace(true);
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let (service, message) = match joined {
                Ok((_, Ok(()))) => continue,
                Ok((service, Err(message))) => (service, message),
                Err(error) => ("stack", error.to_string()),
            };
            first_error.get_or_insert(StackError::Service { service, message });
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stack_starts_serves_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let options = StackOptions::ephemeral(dir.path());
        let stack = Stack::start(&options).await.unwrap();
        assert_eq!(stack.endpoints.len(), 4);
        let admin = stack.tls.outbound(AGENCIES[0].subject).unwrap();
        for endpoint in &stack.endpoints {
            assert!(endpoint.url().starts_with("https://"), "{endpoint:?}");
            assert!(
                aimaq_server::is_serving(&endpoint.url(), &admin, endpoint.grpc_service).await,
                "{endpoint:?}"
            );
        }
        let banner = stack.banner();
        assert!(banner.contains(&stack.admin_token));
        assert!(banner.contains("grpcurl -cacert"), "{banner}");
        assert!(!banner.contains("PLAINTEXT"));
        assert!(dir.path().join("governance.sqlite").exists());
        assert!(dir.path().join("tls/ca.pem").exists());
        let keys = DevKeys::load_or_generate(dir.path()).unwrap();
        stack.stop().await.unwrap();

        // A second start reuses the key pair and the databases.
        let again = Stack::start(&options).await.unwrap();
        assert_eq!(DevKeys::load_or_generate(dir.path()).unwrap().kid, keys.kid);
        again.stop().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plaintext_says_so_loudly() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = StackOptions::ephemeral(dir.path());
        options.plaintext = true;
        options.classifier = dir.path().join("none.csv");
        let stack = Stack::start(&options).await.unwrap();
        assert!(
            stack
                .endpoints
                .iter()
                .all(|e| e.url().starts_with("http://"))
        );
        let banner = stack.banner();
        assert!(banner.contains("PLAINTEXT: TLS IS OFF"), "{banner}");
        assert!(banner.contains("grpcurl -plaintext"), "{banner}");
        assert!(!dir.path().join("tls").exists());
        stack.stop().await.unwrap();
    }
}
