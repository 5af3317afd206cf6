//! The command line: how to reach the gateway, and the commands.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::Format;

/// The operators' tool for Aimaq: read and watch what the services hold,
/// check their health and audit logs, and mint development tokens.
#[derive(Debug, Parser)]
#[command(name = "aimaq", version)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// How results are printed: an aligned table (the default on a
    /// terminal), json, jsonl (the default otherwise) or csv.
    #[arg(short = 'o', long, global = true, value_enum)]
    pub output: Option<Format>,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the gateway is and who is calling: each setting from its flag, its
/// variable, the configuration file, or its default, in that order. The token
/// is read from `--token-file` or the `AIMAQ_TOKEN` variable, never from the
/// command line, where other users could see it.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// A YAML file of these settings (`endpoint`, `ca`, `cert`, `key`,
    /// `token_file`, `language`, `timeout`); by default
    /// `~/.config/aimaq/config.yaml` when it exists.
    #[arg(long, env = "AIMAQ_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// The gateway: `https://host:port` (`http://` only for a stack started
    /// with `--plaintext`). By default `https://localhost:50050`.
    #[arg(long, env = "AIMAQ_ENDPOINT", global = true)]
    pub endpoint: Option<String>,

    /// The CA that issued the gateway's certificate (the stack's is
    /// `data/tls/ca.pem`).
    #[arg(long, env = "AIMAQ_CA", global = true)]
    pub ca: Option<PathBuf>,

    /// This system's client certificate (PEM), for mutual TLS.
    #[arg(long, env = "AIMAQ_CERT", global = true)]
    pub cert: Option<PathBuf>,

    /// The client certificate's private key (PEM).
    #[arg(long, env = "AIMAQ_KEY", global = true)]
    pub key: Option<PathBuf>,

    /// A file holding the bearer token.
    #[arg(long, env = "AIMAQ_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,

    /// The language of the services' refusals and of money: kk, ru or en
    /// (by default en).
    #[arg(long, env = "AIMAQ_LANGUAGE", global = true)]
    pub language: Option<String>,

    /// How long one call may take (by default 30s).
    #[arg(long, value_parser = aimaq_config::parse_duration, global = true)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The caller as the gateway sees it: agency, scopes and territory.
    Whoami,
    /// The health of the gateway and of each service behind it.
    Health,
    /// Development tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// One resource by its code or name.
    Get(GetArgs),
    /// Resources, every page, with filters.
    List(ListArgs),
    /// Follows a service's change feed, from a sequence on.
    Watch(WatchArgs),
    /// The audit logs.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rows of a CSV, JSON lines or Excel file sent to the service; rerun
    /// after an interruption, it imports nothing twice.
    Import(crate::import::ImportArgs),
    /// Allocations, projects or applications written to a CSV, JSON lines or
    /// Excel file as they are read.
    Export(crate::export::ExportArgs),
    /// The services' reports as workbooks (or CSV).
    #[command(subcommand)]
    Report(crate::report::ReportCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mints a token with the development key of a stack's data directory.
    /// Refuses a key set that holds no private key (production keys belong
    /// to the agencies' identity provider).
    Mint(MintArgs),
}

#[derive(Debug, Args)]
pub struct MintArgs {
    /// The stack's data directory (its development signing key is there).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// The calling system the token names (`sub`).
    #[arg(long)]
    pub subject: String,
    /// The agency of the calling system.
    #[arg(long)]
    pub agency: String,
    /// A scope to grant (repeated, or comma-separated): governance.read,
    /// budget.write, grants.decide, audit, admin, …
    #[arg(long = "scope", value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Limit the token's writes to this KATO prefix (a region's two digits…).
    #[arg(long)]
    pub kato_prefix: Option<String>,
    /// Bind the token to this client certificate (PEM): it is then refused
    /// with any other.
    #[arg(long)]
    pub bound_to: Option<PathBuf>,
    /// How long the token is valid.
    #[arg(long, default_value = "8h", value_parser = aimaq_config::parse_duration)]
    pub valid_for: Duration,
}

/// The resources `get` and `list` know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Resource {
    Territories,
    Programs,
    Allocations,
    Projects,
    Elections,
    Applications,
    /// The monthly calculation index, by effective date.
    MciRates,
    /// The diploma programme's terms in force on a date.
    Terms,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    pub resource: Resource,
    /// Its code or name: a KATO code, a programme code, `allocations/…`,
    /// `projects/…`, `elections/…`, `applications/…`, or a date (YYYY-MM-DD)
    /// for MCI rates and terms.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    pub resource: Resource,
    /// Within this territory (KATO code): a parent's children, or a subtree.
    #[arg(long)]
    pub territory: Option<String>,
    /// Of this programme (its code).
    #[arg(long)]
    pub program: Option<String>,
    /// Of this year.
    #[arg(long)]
    pub year: Option<i32>,
    /// Of this person (IIN), for applications.
    #[arg(long)]
    pub iin: Option<String>,
    /// Asked per page; every page is read.
    #[arg(long, default_value_t = 500)]
    pub page_size: i32,
    /// The columns of a table or CSV, comma-separated (JSON names, as
    /// `kato,name,population`); all by default.
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
}

/// The services with a change feed and an audit log.
pub use aimaq_verify::Service;

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[arg(long, value_enum)]
    pub service: Service,
    /// Print the changes after this sequence (0: from the start).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Only changes of these resource types (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<String>,
    /// Stop after this many changes (by default: follow until interrupted).
    #[arg(long)]
    pub count: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Checks a service's audit log (its own check: chain, leaves, feed,
    /// signed tree) and, with --log-key, checks it again as an outsider would.
    Verify(AuditVerifyArgs),
    /// A service's audit records, in order, with filters.
    Show(AuditShowArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    #[arg(long, value_enum)]
    pub service: Service,
    /// The log's public key (`<origin>+<id>+<key>`): the signed checkpoint,
    /// its consistency with --saved and the inclusion of --records are then
    /// checked here, by aimaq-verify's checks, not the service's.
    #[arg(long)]
    pub log_key: Option<String>,
    /// A checkpoint saved by an earlier run, which the log must extend.
    #[arg(long, requires = "log_key")]
    pub saved: Option<std::path::PathBuf>,
    /// Where to save the verified checkpoint (may be --saved).
    #[arg(long, requires = "log_key")]
    pub save: Option<std::path::PathBuf>,
    /// Records whose inclusion is proven, FIRST..LAST.
    #[arg(long, requires = "log_key", value_parser = aimaq_verify::parse_range)]
    pub records: Option<std::ops::RangeInclusive<u64>>,
    /// Also compares those records' change events with the feed.
    #[arg(long, requires = "log_key")]
    pub events: bool,
    /// A witness's public key: each checkpoint it cosigned that the log
    /// serves back must be extended by the current one (repeatable).
    #[arg(long, requires = "log_key")]
    pub witness: Vec<String>,
    /// How many of --witness must have cosigned a checkpoint the log
    /// extends (refused, exit 4, when fewer did).
    #[arg(long, requires = "log_key", default_value_t = 0)]
    pub min_cosigners: usize,
}

#[derive(Debug, Args)]
pub struct AuditShowArgs {
    #[arg(long, value_enum)]
    pub service: Service,
    /// Records after this sequence.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Only this calling system's records.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only records of this resource type (as `allocation`).
    #[arg(long)]
    pub resource_type: Option<String>,
    /// Only records of this resource (as `allocations/P/2026/610000000`).
    #[arg(long)]
    pub resource: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
}
