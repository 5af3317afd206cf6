//! The start-up every backend service shares: connect its database, migrate it,
//! open its record keeping, load the token key, and serve its API behind token
//! verification. A service's `run` is this plus its own API value.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use aimaq_auth::Authenticator;
use aimaq_config::{MigrateMode, ServerConfig};
use aimaq_records::{LogKeys, Records, ResourceStates};
use aimaq_server::GrpcServer;
use aimaq_storage::Database;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;

/// The relay's table, for each service's migrations.
pub use aimaq_relay::FeedRelays;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(aimaq_error::Error),
    #[error("token keys {path}: {message}")]
    TokenKey { path: String, message: String },
    #[error(transparent)]
    Server(#[from] aimaq_server::ServerError),
    #[error(transparent)]
    Tls(#[from] aimaq_tls::TlsError),
    /// A setting the service cannot work with, such as a malformed URL.
    #[error("configuration: {0}")]
    Config(String),
}

/// A backend ready to serve: its database, record keeping and server.
pub struct PreparedServer {
    pub database: Database,
    pub records: Records,
    /// How this service reaches others (budget and grants ask governance).
    pub outbound: aimaq_tls::Outbound,
    server: GrpcServer,
    authenticator: Authenticator,
    listener: TcpListener,
}

/// Prepares a backend named `name` on `listener`, whose change events commit
/// to the state of the resources `states` describes. Returns `None` when the
/// configuration asks only for migrations (they have run).
pub async fn prepare<M: MigratorTrait>(
    name: &'static str,
    config: &ServerConfig,
    listener: TcpListener,
    states: ResourceStates,
) -> Result<Option<PreparedServer>, StartError> {
    let authenticator = authenticator(config)?;
    let tls = aimaq_tls::Tls::from_config(&config.tls)?;
    let database = Database::connect(config.database_url.expose())
        .await
        .map_err(StartError::Database)?;
    if config.migrate != MigrateMode::Skip {
        database
            .migrate::<M>()
            .await
            .map_err(StartError::Database)?;
        tracing::info!(service = name, "database migrated");
    }
    if config.migrate == MigrateMode::Only {
        database.close().await;
        return Ok(None);
    }
    let checked = database.clone();
    let witness = aimaq_witness::Witness::from_config(&config.witness, tls.outbound.clone())
        .map_err(|error| StartError::Config(error.to_string()))?;
    let witnessed = witness.as_ref().map(|w| w.health.clone());
    let server = GrpcServer::new(name, config.limits.clone())
        .tls(tls.server)
        .observed_health(
            witness
                .as_ref()
                .map(|w| w.health_names())
                .unwrap_or_default(),
        )
        .health_check(Arc::new(move || {
            let database = checked.clone();
            let witnessed = witnessed.clone();
            Box::pin(async move {
                let mut verdict = vec![("", database.answers().await)];
                if let Some(witnessed) = witnessed {
                    let holds = witnessed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    verdict.extend(holds.iter().map(|(name, holds)| (*name, *holds)));
                }
                verdict
            })
        }));
    if let Some(witness) = witness {
        tracing::info!(service = name, logs = ?witness.health_names(), "witnessing");
        tokio::spawn(witness.run(server.draining()));
    }
    let records = Records::new(database.clone(), server.draining(), log_keys(name, config)?)
        .await
        .map_err(StartError::Database)?
        .with_stream_limits(server.stream_limits())
        .with_states(states);
    let relay = aimaq_relay::Relay::from_config(name, &config.relay, &config.tls, records.clone())
        .await
        .map_err(|error| StartError::Config(error.to_string()))?;
    if let Some(relay) = relay {
        tokio::spawn(relay.run(server.draining()));
    }
    Ok(Some(PreparedServer {
        database,
        records,
        outbound: tls.outbound,
        server,
        authenticator,
        listener,
    }))
}

/// The log's keys from their file; without one, a key for this process only.
fn log_keys(name: &str, config: &ServerConfig) -> Result<LogKeys, StartError> {
    let keys = match &config.log.log_signing_key {
        Some(path) => LogKeys::load(path).map_err(|error| StartError::Config(error.to_string())),
        None => {
            tracing::warn!(
                service = name,
                "no --log-signing-key: the audit log's checkpoints are signed by a key that ends with this process"
            );
            LogKeys::ephemeral(&format!("aimaq.local/{name}"))
                .map_err(|error| StartError::Config(error.to_string()))
        }
    }?;
    keys.with_cosigners(&config.log.log_cosigner)
        .map_err(|error| StartError::Config(error.to_string()))
}

fn authenticator(config: &ServerConfig) -> Result<Authenticator, StartError> {
    Authenticator::load(&config.auth).map_err(|error| StartError::TokenKey {
        path: config.auth.token_keys.display().to_string(),
        message: error.to_string(),
    })
}

impl PreparedServer {
    /// Largest message the service accepts or sends, for its generated server.
    pub fn max_message_bytes(&self) -> usize {
        self.server.limits().max_message_bytes
    }

    /// Serves `service` (every call verified by token) until `shutdown`, then drains,
    /// sequences the last records and closes the database.
    pub async fn serve<S>(
        self,
        service: S,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StartError>
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let PreparedServer {
            database,
            records,
            outbound: _,
            server,
            authenticator,
            listener,
        } = self;
        let result = server
            .add_service(InterceptedService::new(service, authenticator))
            .serve(listener, shutdown)
            .await;
        // Requests that committed while draining get their records sequenced now;
        // what this misses, the next start (or another replica) sequences.
        if let Err(error) = records.sequence_pending().await {
            tracing::warn!(%error, "sequencing the last records before exit");
        }
        database.close().await;
        result.map_err(StartError::from)
    }
}
