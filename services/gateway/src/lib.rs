//! The gateway: the single ingress for agencies. It verifies tokens and applies
//! per-caller rate limits, forwards every RPC of the governance, budget and
//! grants services unchanged, and serves the aggregated views of
//! `aimaq.gateway.v1.GatewayService`. On the same port it answers gRPC-Web
//! and the HTTP/JSON API of every RPC (`/v1/…`, `/openapi.json`, `/docs`).

mod api;
mod domain;
mod forward;
mod guard;
mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use aimaq_auth::Authenticator;
use aimaq_config::{
    AuthConfig, LimitsConfig, ServerConfig, TelemetryConfig, TlsConfig, parse_duration,
};
use aimaq_proto::gateway::v1::gateway_service_server::GatewayServiceServer;
use aimaq_server::GrpcServer;
use clap::Args;
use tokio::net::TcpListener;

pub use aimaq_link::Targets;
use aimaq_link::{Backend, BackendChannel};
use api::{Bounds, GatewayApi, Views};
use domain::rate::RateLimits;
pub use domain::rate::{AgencyRateLimit, RateLimit};
use forward::{BackendApi, BudgetApi, Forward, GovernanceApi, GrantsApi};
use guard::Guard;
use store::rate::{SharedRates, StoreTls};

/// The view cache's default bounds, for each kind of view.
pub const VIEW_CACHE_ENTRIES: usize = 10_000;
pub const VIEW_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Where the backends are and how they are called.
#[derive(Clone, Debug, Args)]
pub struct BackendsConfig {
    /// The governance service: `https://host:port` (several, comma-separated),
    /// or `dns://host:port` for every address of a name (a headless Service).
    #[arg(long, env = "AIMAQ_GOVERNANCE_URL")]
    pub governance_url: Targets,

    /// The budget service, as `--governance-url`.
    #[arg(long, env = "AIMAQ_BUDGET_URL")]
    pub budget_url: Targets,

    /// The grants service, as `--governance-url`.
    #[arg(long, env = "AIMAQ_GRANTS_URL")]
    pub grants_url: Targets,

    /// HTTP/2 connections to each backend endpoint.
    #[arg(long, env = "AIMAQ_BACKEND_CONNECTIONS", default_value_t = 2)]
    pub backend_connections: usize,

    /// The longest an aggregated view waits for a backend; a caller's shorter
    /// deadline wins.
    #[arg(long, env = "AIMAQ_BACKEND_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub backend_timeout: Duration,

    /// How long a complete aggregated view may be reused for callers with the
    /// same token; callers asking at once share one fetch. `0s`: every call
    /// fetches its own.
    #[arg(long, env = "AIMAQ_VIEW_MAX_AGE", default_value = "1s", value_parser = parse_duration)]
    pub view_max_age: Duration,
    /// The most answers kept for each kind of view; the oldest go first.
    #[arg(long, env = "AIMAQ_VIEW_CACHE_ENTRIES", default_value_t = VIEW_CACHE_ENTRIES)]
    pub view_cache_entries: usize,
    /// The most bytes of answers kept for each kind of view (their encoded
    /// size); an answer larger than this is not kept.
    #[arg(long, env = "AIMAQ_VIEW_CACHE_BYTES", default_value_t = VIEW_CACHE_BYTES)]
    pub view_cache_bytes: usize,
}

/// Per-caller rate limits.
#[derive(Clone, Debug, Args)]
pub struct RateConfig {
    /// Calls per second of each calling system (`RATE` or `RATE/BURST`).
    #[arg(long, env = "AIMAQ_RATE_LIMIT", default_value = "500/1000")]
    pub rate_limit: RateLimit,

    /// The limit of each calling system of an agency: `AGENCY=RATE[/BURST]`,
    /// repeated or comma-separated.
    #[arg(
        long = "agency-rate-limit",
        env = "AIMAQ_AGENCY_RATE_LIMITS",
        value_delimiter = ','
    )]
    pub agency_rate_limits: Vec<AgencyRateLimit>,

    /// A Redis (or Valkey) server that every gateway replica admits calls
    /// against, so each limit holds across them all: `redis://host:6379` or
    /// `rediss://` (TLS: checked against `--tls-ca`, this gateway's
    /// certificate presented). Unset: each replica limits on its own.
    #[arg(long, env = "AIMAQ_RATE_LIMIT_URL")]
    pub rate_limit_url: Option<String>,

    /// Gateway replicas serving one address: while the shared store does not
    /// answer, each admits this share of every limit.
    #[arg(long, env = "AIMAQ_GATEWAY_REPLICAS", default_value_t = 1)]
    pub gateway_replicas: u32,
}

impl RateConfig {
    /// Limits of this replica alone.
    pub fn local(rate_limit: RateLimit, agency_rate_limits: Vec<AgencyRateLimit>) -> RateConfig {
        RateConfig {
            rate_limit,
            agency_rate_limits,
            rate_limit_url: None,
            gateway_replicas: 1,
        }
    }
}

/// Browsers: the gateway answers gRPC-Web as well as gRPC (on its one port,
/// over HTTP/2 and HTTP/1.1), for front ends using the generated clients.
#[derive(Clone, Debug, Default, Args)]
pub struct BrowserConfig {
    /// Origins whose pages may call the gateway (CORS), as
    /// `https://portal.example.kz`; repeated or comma-separated. None by
    /// default: no page of another origin may call.
    #[arg(
        long = "cors-origin",
        env = "AIMAQ_CORS_ORIGINS",
        value_delimiter = ',',
        value_parser = aimaq_server::parse_origin
    )]
    pub cors_origins: Vec<http::HeaderValue>,
}

#[derive(Clone, Debug, Args)]
pub struct GatewayConfig {
    /// Address the gateway listens on.
    #[arg(long, env = "AIMAQ_LISTEN")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub backends: BackendsConfig,

    #[command(flatten)]
    pub rate: RateConfig,

    #[command(flatten)]
    pub browsers: BrowserConfig,

    #[command(flatten)]
    pub auth: AuthConfig,

    #[command(flatten)]
    pub tls: TlsConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl GatewayConfig {
    /// The gateway on a backend server's listener, with its token, limit and
    /// telemetry settings: for launchers and tests that configure every server
    /// alike (the database settings do not apply).
    pub fn like(server: ServerConfig, backends: BackendsConfig, rate: RateConfig) -> GatewayConfig {
        GatewayConfig {
            listen: server.listen,
            backends,
            rate,
            browsers: BrowserConfig::default(),
            auth: server.auth,
            tls: server.tls,
            limits: server.limits,
            telemetry: server.telemetry,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("token keys: {0}")]
    TokenKey(#[from] aimaq_auth::KeyError),
    #[error("backend {0}")]
    Backend(String),
    #[error("rate limit store: {0}")]
    RateStore(String),
    #[error(transparent)]
    Tls(#[from] aimaq_tls::TlsError),
    #[error(transparent)]
    Server(#[from] aimaq_server::ServerError),
    #[error(transparent)]
    JsonApi(#[from] aimaq_transcode::JsonApiError),
}

/// Runs the gateway on `listener` until `shutdown` completes.
pub async fn run(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let authenticator = Authenticator::load(&config.auth)?;
    let tls = aimaq_tls::Tls::from_config(&config.tls)?;
    let limit = config.limits.max_message_bytes;
    let backends = &config.backends;
    let outbound = &tls.outbound;
    let connect = |name: &'static str, targets: &Targets| {
        let targets = targets.clone();
        async move {
            let backend = Backend::new(
                name,
                &targets,
                outbound,
                backends.backend_connections,
                aimaq_link::MAX_AGE,
                limit,
            )
            .await
            .map_err(|e| GatewayError::Backend(format!("{name}: {e}")))?;
            tracing::info!(backend = name, endpoints = ?backend.endpoints(), "forwarding");
            Ok::<_, GatewayError>(backend)
        }
    };
    let governance = connect("governance", &backends.governance_url).await?;
    let budget = connect("budget", &backends.budget_url).await?;
    let grants = connect("grants", &backends.grants_url).await?;

    let mut guard = Guard::new(
        authenticator,
        RateLimits::new(config.rate.rate_limit, &config.rate.agency_rate_limits),
    );
    if let Some(url) = &config.rate.rate_limit_url {
        let tls = StoreTls {
            ca: config.tls.tls_ca.as_deref(),
            identity: config
                .tls
                .tls_cert
                .as_deref()
                .zip(config.tls.tls_key.as_deref()),
        };
        let rates = SharedRates::connect(url, tls).map_err(GatewayError::RateStore)?;
        guard = guard.with_shared_rates(rates, config.rate.gateway_replicas);
        tracing::info!(
            replicas = config.rate.gateway_replicas,
            "rate limits shared by the replicas"
        );
    }
    let kept = Views::new(
        backends.view_max_age,
        Bounds {
            entries: backends.view_cache_entries,
            bytes: backends.view_cache_bytes,
        },
    );
    let views = GatewayServiceServer::new(GatewayApi::new(
        BackendChannel(governance.clone()),
        BackendChannel(budget.clone()),
        BackendChannel(grants.clone()),
        backends.backend_timeout,
        &kept,
        limit,
    ))
    .max_decoding_message_size(limit)
    .max_encoding_message_size(limit);
    let reachable = [
        (GovernanceApi::NAME, governance.clone()),
        (BudgetApi::NAME, budget.clone()),
        (GrantsApi::NAME, grants.clone()),
    ];
    let json = aimaq_transcode::JsonApi::new(aimaq_proto::FILE_DESCRIPTOR_SET, limit)?;
    let server = GrpcServer::new("gateway", config.limits)
        .browsers(config.browsers.cors_origins)
        .http_json(std::sync::Arc::new(json));
    let guard = guard.with_stream_limits(server.stream_limits());
    let store = guard.clone();
    let observed = match store.shared_store_answers() {
        Some(_) => vec![guard::RATE_STORE_HEALTH],
        None => Vec::new(),
    };
    server
        .tls(tls.server.clone())
        .observed_health(observed)
        .health_check(std::sync::Arc::new(move || {
            let backends = reachable.clone();
            let store = store.shared_store_answers();
            Box::pin(async move {
                let checks = backends
                    .iter()
                    .map(|(name, backend)| async move { (*name, backend.check_endpoints().await) });
                let mut verdict = futures::future::join_all(checks).await;
                verdict.extend(store.map(|answers| (guard::RATE_STORE_HEALTH, answers)));
                verdict
            })
        }))
        .add_service(guard.protect(views))
        .add_service(guard.protect(Forward::<GovernanceApi>::new(governance, kept.clone())))
        .add_service(guard.protect(Forward::<BudgetApi>::new(budget, kept.clone())))
        .add_service(guard.protect(Forward::<GrantsApi>::new(grants, kept)))
        .serve(listener, shutdown)
        .await?;
    Ok(())
}
