//! The launcher's command line: ports, data directory, TLS, telemetry and the
//! gateway's rate limits.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use aimaq_config::{LogFormat, TelemetryConfig, TlsConfig};
use clap::Parser;

/// Runs the whole Aimaq system in one process, for development and demos.
#[derive(Clone, Debug, Parser)]
#[command(name = "aimaq-stack", version)]
pub struct StackOptions {
    /// Directory of the SQLite databases and the development key pair.
    #[arg(long, env = "AIMAQ_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Address the four servers listen on.
    #[arg(long, env = "AIMAQ_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    #[arg(long, default_value_t = 50050)]
    pub gateway_port: u16,

    #[arg(long, default_value_t = 50051)]
    pub governance_port: u16,

    #[arg(long, default_value_t = 50052)]
    pub budget_port: u16,

    #[arg(long, default_value_t = 50053)]
    pub grants_port: u16,

    /// Only make sure the development key pair exists and print an admin token,
    /// then exit (for containers and clusters that verify with its public key).
    #[arg(long)]
    pub keys_only: bool,

    /// The national territory classifier loaded into the demo registry; skipped
    /// with a warning when the file is missing.
    #[arg(
        long,
        env = "AIMAQ_CLASSIFIER",
        default_value = "../shared/data/kato-2022.csv"
    )]
    pub classifier: PathBuf,

    /// Validity of the printed development admin token, in hours.
    #[arg(long, default_value_t = 24)]
    pub token_hours: u64,

    /// OTLP/gRPC trace collector on this machine (`http://localhost:4317`),
    /// if any: the stack is a development system and its collector is too.
    #[arg(long, env = "AIMAQ_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Address of the Prometheus `/metrics` endpoint, if any.
    #[arg(long, env = "AIMAQ_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    #[arg(long, env = "AIMAQ_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    #[arg(long, env = "AIMAQ_LOG", default_value = "info,sea_orm_migration=warn")]
    pub log_filter: String,

    /// Serves without TLS: for local experiments only (every call, token and
    /// IIN then crosses the network in the clear).
    #[arg(long, env = "AIMAQ_PLAINTEXT")]
    pub plaintext: bool,

    #[command(flatten)]
    pub rate: aimaq_gateway::RateConfig,
}

impl StackOptions {
    /// The defaults with every server on an ephemeral port: for tests.
    pub fn ephemeral(data_dir: &Path) -> StackOptions {
        let mut options = StackOptions::parse_from(["aimaq-stack"]);
        options.data_dir = data_dir.to_path_buf();
        options.gateway_port = 0;
        options.governance_port = 0;
        options.budget_port = 0;
        options.grants_port = 0;
        options
    }

    /// How the stack reaches its trace collector: a local development one,
    /// without TLS (the stack's own CA did not sign it).
    pub fn collector_tls(&self) -> TlsConfig {
        TlsConfig {
            plaintext: true,
            ..TlsConfig::default()
        }
    }

    pub fn telemetry(&self) -> TelemetryConfig {
        TelemetryConfig {
            otlp_endpoint: self.otlp_endpoint.clone(),
            metrics_listen: self.metrics_listen,
            log_format: self.log_format,
            log_filter: self.log_filter.clone(),
        }
    }
}
