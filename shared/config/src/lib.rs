//! Configuration of an Aimaq server, read from flags or `AIMAQ_*` environment
//! variables (flags win), documented by `--help`. Services flatten
//! [`ServerConfig`] into their own argument struct; tests and the all-in-one
//! launcher build it as a value instead of touching the process environment.

pub mod files;
mod secret;
pub use secret::{DatabaseUrl, redact_url};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// When database migrations run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MigrateMode {
    /// Migrate at start, then serve (the default).
    Auto,
    /// Migrate and exit: for a Kubernetes Job run before a rollout.
    Only,
    /// Do not migrate: the schema is managed by a Job.
    Skip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Logs, traces and metrics.
#[derive(Clone, Debug, Args)]
pub struct TelemetryConfig {
    /// OTLP/gRPC endpoint for traces (for example http://otel-collector:4317);
    /// traces are not exported when unset.
    #[arg(long, env = "AIMAQ_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Address of the Prometheus `/metrics` endpoint; none when unset.
    #[arg(long, env = "AIMAQ_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    #[arg(long, env = "AIMAQ_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,

    /// Log filter in `RUST_LOG` syntax.
    #[arg(long, env = "AIMAQ_LOG", default_value = "info")]
    pub log_filter: String,
}

/// Token verification, and whom to believe beyond a token.
#[derive(Clone, Debug, Args)]
pub struct AuthConfig {
    /// The keys that verify bearer tokens, by key id: a directory of `{kid}.pem`
    /// files (Ed25519, SubjectPublicKeyInfo), a JWKS `.json` file, or one PEM
    /// file named `{kid}.pem`. Read again when it changes.
    #[arg(long, env = "AIMAQ_TOKEN_KEYS")]
    pub token_keys: PathBuf,

    /// Expected `iss` of tokens.
    #[arg(long, env = "AIMAQ_TOKEN_ISSUER", default_value = "aimaq")]
    pub token_issuer: String,

    /// Expected `aud` of tokens.
    #[arg(long, env = "AIMAQ_TOKEN_AUDIENCE", default_value = "aimaq")]
    pub token_audience: String,

    /// Longest a token may live from `iat` to `exp`.
    #[arg(long, env = "AIMAQ_TOKEN_MAX_LIFETIME", default_value = "24h", value_parser = parse_duration)]
    pub token_max_lifetime: Duration,

    /// Agencies whose tokens must be bound to the caller's client certificate
    /// (`cnf` / `x5t#S256`, RFC 8705); `*` for every agency. A bound token is
    /// always held to its certificate.
    #[arg(long, env = "AIMAQ_BOUND_TOKEN_AGENCIES", value_delimiter = ',')]
    pub bound_token_agencies: Vec<String>,

    /// Our services (by certificate name) that call this one on a caller's
    /// behalf and may pass on that caller's certificate: the gateway, and
    /// budget and grants asking governance.
    #[arg(long, env = "AIMAQ_TRUSTED_FORWARDERS", value_delimiter = ',')]
    pub trusted_forwarders: Vec<String>,
}

impl AuthConfig {
    /// Tokens from `iss = aimaq` for `aud = aimaq`, verified by the key set at
    /// `token_keys`, trusting no forwarder: for launchers and tests.
    pub fn new(token_keys: PathBuf) -> AuthConfig {
        AuthConfig {
            token_keys,
            token_issuer: "aimaq".into(),
            token_audience: "aimaq".into(),
            token_max_lifetime: Duration::from_secs(24 * 3600),
            bound_token_agencies: Vec::new(),
            trusted_forwarders: Vec::new(),
        }
    }
}

/// TLS of a server and of the calls it makes. TLS is on unless `--plaintext`
/// says otherwise: a server refuses to start without a certificate.
#[derive(Clone, Debug, Default, Args)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM). Also presented as the client
    /// certificate when this server calls another (issue it for both uses).
    /// Read again when it changes.
    #[arg(long, env = "AIMAQ_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of `--tls-cert` (PEM, PKCS#8, SEC1 or PKCS#1).
    #[arg(long, env = "AIMAQ_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Requires every client to present a certificate signed by this CA (PEM):
    /// mutual TLS.
    #[arg(long, env = "AIMAQ_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    /// The CA (PEM) that the servers this one calls (`https://` URLs) must be
    /// signed by.
    #[arg(long, env = "AIMAQ_TLS_CA")]
    pub tls_ca: Option<PathBuf>,

    /// Serves without TLS and allows `http://` URLs: for local experiments only.
    #[arg(long, env = "AIMAQ_PLAINTEXT")]
    pub plaintext: bool,
}

/// Protective limits of the gRPC server.
#[derive(Clone, Debug, Args)]
pub struct LimitsConfig {
    /// Longest a call may run when the caller sets no shorter deadline.
    #[arg(long, env = "AIMAQ_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Calls served at once; beyond it calls are shed with UNAVAILABLE, not queued.
    #[arg(long, env = "AIMAQ_CONCURRENCY_LIMIT", default_value_t = 512)]
    pub concurrency_limit: usize,

    /// Long-lived streams (change feeds, exports) open at once on this server.
    #[arg(long, env = "AIMAQ_MAX_STREAMS", default_value_t = 1000)]
    pub max_streams: usize,

    /// Long-lived streams one calling system may hold open on this server.
    #[arg(long, env = "AIMAQ_MAX_STREAMS_PER_CALLER", default_value_t = 16)]
    pub max_streams_per_caller: usize,

    /// How often a server checks what it depends on (its database, a
    /// gateway's backends) and reports SERVING or NOT_SERVING by it.
    #[arg(long, env = "AIMAQ_HEALTH_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub health_interval: Duration,

    /// Calls (HTTP/2 streams) at once on one connection.
    #[arg(long, env = "AIMAQ_MAX_CONCURRENT_STREAMS", default_value_t = 256)]
    pub max_concurrent_streams: u32,

    /// Largest request or response message, in bytes.
    #[arg(long, env = "AIMAQ_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// How long in-flight calls may take to finish after SIGTERM.
    #[arg(long, env = "AIMAQ_SHUTDOWN_GRACE", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Pause between reporting NOT_SERVING and refusing new connections, so load
    /// balancers notice first.
    #[arg(long, env = "AIMAQ_SHUTDOWN_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,
}

/// Everything a backend server needs.
#[derive(Clone, Debug, Args)]
pub struct ServerConfig {
    /// Address the gRPC server listens on.
    #[arg(long, env = "AIMAQ_LISTEN")]
    pub listen: SocketAddr,

    /// Database URL: `sqlite://path/to/file.sqlite?mode=rwc` (embedded) or
    /// `postgres://user@host/db` (production).
    #[arg(long, env = "AIMAQ_DATABASE_URL")]
    pub database_url: DatabaseUrl,

    #[arg(long, env = "AIMAQ_MIGRATE", value_enum, default_value = "auto")]
    pub migrate: MigrateMode,

    #[command(flatten)]
    pub auth: AuthConfig,

    #[command(flatten)]
    pub tls: TlsConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,

    #[command(flatten)]
    pub log: LogKeyConfig,

    #[command(flatten)]
    pub witness: WitnessConfig,

    #[command(flatten)]
    pub relay: RelayConfig,
}

/// Publishing the change feed to NATS JetStream for other agencies' systems.
#[derive(Clone, Debug, Args)]
pub struct RelayConfig {
    /// The NATS server(s) (`tls://nats:4222`, comma-separated for a cluster);
    /// the feed is published when set. With `tls://`, the server is verified
    /// against `--tls-ca` and this process presents its own certificate.
    #[arg(long, env = "AIMAQ_NATS_URL")]
    pub nats_url: Option<String>,

    /// A NATS credentials file (a user JWT and its NKey seed).
    #[arg(long, env = "AIMAQ_NATS_CREDENTIALS")]
    pub nats_credentials: Option<PathBuf>,

    /// The first token of the feed's subjects and of its streams' names
    /// (`aimaq`: `aimaq.budget.…` in `AIMAQ_BUDGET`), so that two
    /// installations can share one NATS cluster.
    #[arg(long, env = "AIMAQ_NATS_PREFIX", default_value = "aimaq")]
    pub nats_prefix: String,

    /// Copies of the stream the NATS cluster keeps (3 on a three-node cluster).
    #[arg(long, env = "AIMAQ_NATS_REPLICAS", default_value_t = 1)]
    pub nats_replicas: usize,

    /// How long a replica relays after it last said so; another takes over
    /// when it lapses.
    #[arg(long, env = "AIMAQ_RELAY_LEASE", default_value = "15s", value_parser = parse_duration)]
    pub relay_lease: Duration,
}

impl Default for RelayConfig {
    fn default() -> RelayConfig {
        RelayConfig {
            nats_url: None,
            nats_credentials: None,
            nats_prefix: "aimaq".into(),
            nats_replicas: 1,
            relay_lease: Duration::from_secs(15),
        }
    }
}

/// Witnessing other services' audit logs: cosigning each checkpoint that
/// extends the last one seen, and alerting on one that does not.
#[derive(Clone, Debug, Args)]
pub struct WitnessConfig {
    /// This service's cosigning key (`PRIVATE+KEY+<name>+<id>+<key>` of a
    /// witness: `aimaq-verify keygen --witness`); witnessing is on when set.
    #[arg(long, env = "AIMAQ_WITNESS_KEY")]
    pub witness_key: Option<PathBuf>,

    /// A log to witness: `SERVICE URL KEY` (as `budget https://budget:50052
    /// aimaq.gov.kz/budget+1234abcd+AbC…`); repeated, or `;`-separated in
    /// the environment.
    #[arg(long, env = "AIMAQ_WITNESS_PEERS", value_delimiter = ';')]
    pub witness_peers: Vec<String>,

    /// A file holding the token the witness reads the logs with (any scope).
    #[arg(long, env = "AIMAQ_WITNESS_TOKEN_FILE")]
    pub witness_token_file: Option<PathBuf>,

    /// Where cosigned checkpoints are appended, a JSON line each (ship it
    /// elsewhere); the witness remembers what it saw from it.
    #[arg(long, env = "AIMAQ_WITNESS_FILE")]
    pub witness_file: Option<PathBuf>,

    /// How often each witnessed log is looked at.
    #[arg(long, env = "AIMAQ_WITNESS_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub witness_interval: Duration,
}

impl Default for WitnessConfig {
    fn default() -> WitnessConfig {
        WitnessConfig {
            witness_key: None,
            witness_peers: Vec::new(),
            witness_token_file: None,
            witness_file: None,
            witness_interval: Duration::from_secs(5),
        }
    }
}

/// The key of the service's transparency log (its audit log's checkpoints).
#[derive(Clone, Debug, Default, Args)]
pub struct LogKeyConfig {
    /// The log's signing key file: `PRIVATE+KEY+<origin>+<id>+<key>` lines
    /// (`aimaq-verify keygen` writes one); the first signs, the others are
    /// keys being retired. Keep it outside the database (a Kubernetes Secret):
    /// whoever holds it can sign checkpoints. Unset: a key for this process
    /// only, with a warning.
    #[arg(long, env = "AIMAQ_LOG_SIGNING_KEY")]
    pub log_signing_key: Option<PathBuf>,

    /// A witness whose cosignatures of this log's checkpoints are kept and
    /// served back with the checkpoint: its public key (`<name>+<id>+<key>`,
    /// `aimaq-verify keygen --witness`); repeated, or `;`-separated in the
    /// environment.
    #[arg(long, env = "AIMAQ_LOG_COSIGNERS", value_delimiter = ';')]
    pub log_cosigner: Vec<String>,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            request_timeout: Duration::from_secs(30),
            concurrency_limit: 512,
            max_concurrent_streams: 256,
            max_streams: 1000,
            health_interval: Duration::from_secs(2),
            max_streams_per_caller: 16,
            max_message_bytes: 4 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(20),
            shutdown_delay: Duration::ZERO,
        }
    }
}

impl Default for TelemetryConfig {
    fn default() -> TelemetryConfig {
        TelemetryConfig {
            otlp_endpoint: None,
            metrics_listen: None,
            log_format: LogFormat::Json,
            log_filter: "info".into(),
        }
    }
}

/// Parses `250ms`, `30s`, `5m`, `24h` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 250ms, 30s or 5m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "" | "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(value.saturating_mul(3600))),
        _ => Err(format!("{text:?}: unit must be ms, s, m or h")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerConfig,
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn flags_with_defaults() {
        let cli = Cli::try_parse_from([
            "svc",
            "--listen",
            "127.0.0.1:50051",
            "--database-url",
            "sqlite://x.sqlite?mode=rwc",
            "--token-keys",
            "keys/",
            "--bound-token-agencies",
            "akimat-61,ministry",
            "--migrate",
            "only",
        ])
        .unwrap();
        assert_eq!(cli.server.migrate, MigrateMode::Only);
        assert_eq!(cli.server.limits.concurrency_limit, 512);
        assert_eq!(cli.server.auth.token_audience, "aimaq");
        assert_eq!(
            cli.server.auth.token_max_lifetime,
            Duration::from_secs(86_400)
        );
        assert_eq!(
            cli.server.auth.bound_token_agencies,
            ["akimat-61", "ministry"]
        );
        assert!(cli.server.auth.trusted_forwarders.is_empty());
        assert!(cli.server.telemetry.otlp_endpoint.is_none());
    }

    #[test]
    fn missing_required_flag_is_reported() {
        let error = Cli::try_parse_from(["svc", "--listen", "127.0.0.1:1"])
            .err()
            .unwrap();
        assert!(error.to_string().contains("--database-url"));
    }
}

/// Where a service that checks territories (budget, grants) finds governance.
#[derive(Clone, Debug, Args)]
pub struct GovernanceLink {
    /// The governance service, asked about territories: `https://host:port`
    /// (several, comma-separated), or `dns://host:port` for every address of a
    /// name (a headless Service); balanced and retried as the gateway does.
    #[arg(long, env = "AIMAQ_GOVERNANCE_URL")]
    pub governance_url: String,
}
