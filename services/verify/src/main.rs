//! `aimaq-verify`: checks an Aimaq service's audit log as an outsider would.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use aimaq_tlog::{KeyRole, NoteSigner, NoteVerifier};
use aimaq_tls::{ClientTls, Outbound, Target};
use aimaq_verify::{GrpcLog, Options, Service};
use clap::{Args, Parser, Subcommand};

/// Verifies an Aimaq service's signed, append-only audit log.
#[derive(Parser)]
#[command(name = "aimaq-verify", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Makes a log signing key (for --log-signing-key) and prints its public key.
    Keygen {
        /// The log's name, for example aimaq.gov.kz/budget.
        #[arg(long)]
        origin: String,
        /// Where the private key is written (readable by its owner only).
        #[arg(long)]
        out: PathBuf,
        /// A witness's cosigning key instead of a log's.
        #[arg(long)]
        witness: bool,
    },
    /// Fetches the current checkpoint and checks it: signature, consistency
    /// with --saved, inclusion of --records; saves it with --save.
    Check {
        #[command(flatten)]
        log: LogArgs,
        /// A checkpoint saved by an earlier run, which the log must extend.
        #[arg(long)]
        saved: Option<PathBuf>,
        /// A witness's file (`--witness-file` of a service): its latest
        /// cosigned checkpoint of this log, which the log must extend; the
        /// cosigners among --witness are reported.
        #[arg(long)]
        witnessed: Option<PathBuf>,
        /// Where to save the verified checkpoint (may be --saved).
        #[arg(long)]
        save: Option<PathBuf>,
        /// Records whose inclusion is proven, as FIRST..LAST (needs the audit scope).
        #[arg(long, value_parser = aimaq_verify::parse_range)]
        records: Option<std::ops::RangeInclusive<u64>>,
        /// Also compares those records' change events with the feed.
        #[arg(long)]
        events: bool,
        /// A witness's public key whose cosignature is reported (repeatable).
        /// Without --witnessed, the cosigned checkpoints the log serves back
        /// are checked: each must be extended by the current one.
        #[arg(long)]
        witness: Vec<String>,
        /// How many of --witness must have cosigned a checkpoint the log
        /// extends (exit 1 when fewer did).
        #[arg(long, default_value_t = 0)]
        min_cosigners: usize,
    },
    /// Saves records with their inclusion proofs, to check offline.
    Export {
        #[command(flatten)]
        log: LogArgs,
        #[arg(long, value_parser = aimaq_verify::parse_range)]
        records: std::ops::RangeInclusive<u64>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Fetches a certified election's results bundle from governance (the
    /// gateway or the service: --service governance), checks and recounts
    /// it, and saves it (protobuf) for anyone to check again with `recount`.
    Bundle {
        #[command(flatten)]
        log: LogArgs,
        /// The election, elections/{id}.
        #[arg(long)]
        election: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Checks a saved results bundle without a connection: every protocol
    /// and the certification are in the log as checkpointed, and the tally
    /// recounted from the protocols under the election's rule is the
    /// certified one.
    Recount {
        /// Governance's public log key (<origin>+<id>+<key>).
        #[arg(long)]
        log_key: String,
        #[arg(long)]
        bundle: PathBuf,
    },
    /// Checks an export without a connection.
    Offline {
        /// The log's public key (<origin>+<id>+<key>).
        #[arg(long)]
        log_key: String,
        #[arg(long)]
        export: PathBuf,
        #[arg(long)]
        saved: Option<PathBuf>,
    },
}

#[derive(Args)]
struct LogArgs {
    /// The gateway (or the service), https://host:port.
    #[arg(long, env = "AIMAQ_ENDPOINT")]
    endpoint: String,
    /// The CA of its certificate.
    #[arg(long, env = "AIMAQ_CA")]
    ca: Option<PathBuf>,
    /// A client certificate and key, where mutual TLS is required.
    #[arg(long, env = "AIMAQ_CERT", requires = "key")]
    cert: Option<PathBuf>,
    #[arg(long, env = "AIMAQ_KEY", requires = "cert")]
    key: Option<PathBuf>,
    /// A file holding the bearer token.
    #[arg(long, env = "AIMAQ_TOKEN_FILE")]
    token_file: PathBuf,
    #[arg(long, value_enum)]
    service: Service,
    /// The log's public key (<origin>+<id>+<key>), as the service publishes it.
    #[arg(long)]
    log_key: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(2, &format!("runtime: {error}")),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => fail(code, &message),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("aimaq-verify: {message}");
    ExitCode::from(code)
}

/// Exit 1: the log fails a check; 2: usage, files, connection.
type Failure = (u8, String);

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Keygen {
            origin,
            out,
            witness,
        } => keygen(&origin, &out, witness),
        Command::Check {
            log,
            saved,
            witnessed,
            save,
            records,
            events,
            witness,
            min_cosigners,
        } => {
            let log_key = key(&log.log_key)?;
            let witnessed = witnessed
                .as_deref()
                .map(|path| witnessed_note(path, log_key.name()))
                .transpose()?;
            let options = Options {
                log_key,
                witnesses: witness.iter().map(|w| key(w)).collect::<Result<_, _>>()?,
                saved: saved.as_deref().map(read).transpose()?,
                witnessed,
                min_cosigners,
                records,
                events,
            };
            let report = aimaq_verify::verify(&connect(&log)?, &options)
                .await
                .map_err(found)?;
            if let Some(path) = save {
                std::fs::write(&path, &report.checkpoint_note).map_err(|e| usage(&path, e))?;
            }
            print_json(&report)
        }
        Command::Export { log, records, out } => {
            let export = aimaq_verify::export(&connect(&log)?, &key(&log.log_key)?, &records)
                .await
                .map_err(found)?;
            let text = serde_json::to_string_pretty(&export).map_err(|e| (2, e.to_string()))?;
            std::fs::write(&out, text).map_err(|e| usage(&out, e))?;
            println!(
                "{} records saved to {}",
                export.records.len(),
                out.display()
            );
            Ok(())
        }
        Command::Bundle { log, election, out } => {
            use prost::Message;
            let bundle = connect(&log)?
                .results_bundle(&election)
                .await
                .map_err(found)?;
            // Saved only once it checks and recounts.
            recount(&bundle, &log.log_key)?;
            std::fs::write(&out, bundle.encode_to_vec()).map_err(|e| usage(&out, e))
        }
        Command::Recount { log_key, bundle } => {
            use prost::Message;
            let bytes = std::fs::read(&bundle).map_err(|e| usage(&bundle, e))?;
            let bundle =
                aimaq_proto::governance::v1::ElectionResultsBundle::decode(bytes.as_slice())
                    .map_err(|e| {
                        (
                            2,
                            format!("{}: not a results bundle: {e}", bundle.display()),
                        )
                    })?;
            recount(&bundle, &log_key)
        }
        Command::Offline {
            log_key,
            export,
            saved,
        } => {
            let export: aimaq_verify::Export = serde_json::from_str(&read(&export)?)
                .map_err(|e| (2, format!("{}: {e}", export.display())))?;
            let saved = saved.as_deref().map(read).transpose()?;
            let report = aimaq_verify::verify_export(&export, &key(&log_key)?, saved.as_deref())
                .map_err(|finding| (1, finding.to_string()))?;
            print_json(&report)
        }
    }
}

/// Checks and recounts a bundle; prints the recount.
fn recount(
    bundle: &aimaq_proto::governance::v1::ElectionResultsBundle,
    log_key: &str,
) -> Result<(), Failure> {
    let recount = aimaq_verify::verify_bundle(bundle, &key(log_key)?)
        .map_err(|finding| (1, finding.to_string()))?;
    let text = serde_json::to_string_pretty(&recount).map_err(|e| (2, e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn found(error: aimaq_verify::SourceError) -> Failure {
    match error {
        aimaq_verify::SourceError::Finding(finding) => (1, finding.to_string()),
        other => (2, other.to_string()),
    }
}

fn print_json(report: &aimaq_verify::Report) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(report).map_err(|e| (2, e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn usage(path: &Path, error: std::io::Error) -> Failure {
    (2, format!("{}: {error}", path.display()))
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| usage(path, e))
}

/// The latest checkpoint of `origin` a witness's file holds.
fn witnessed_note(path: &Path, origin: &str) -> Result<String, Failure> {
    let seen = aimaq_verify::witnessed::read_witnessed(path).map_err(|e| usage(path, e))?;
    seen.get(origin)
        .map(|w| w.note.clone())
        .ok_or_else(|| (2, format!("{}: no checkpoint of {origin}", path.display())))
}

fn key(text: &str) -> Result<NoteVerifier, Failure> {
    NoteVerifier::parse(text).map_err(|e| (2, format!("key {text}: {e}")))
}

fn keygen(origin: &str, out: &Path, witness: bool) -> Result<(), Failure> {
    use std::io::Write;
    let role = if witness {
        KeyRole::Cosigner
    } else {
        KeyRole::Log
    };
    let signer = NoteSigner::generate(origin, role).map_err(|e| (2, e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(out)
        .and_then(|mut file| file.write_all(format!("{}\n", signer.private_key()).as_bytes()))
        .map_err(|e| usage(out, e))?;
    println!("{}", signer.verifier_key());
    Ok(())
}

fn connect(args: &LogArgs) -> Result<GrpcLog, Failure> {
    let plaintext = args.endpoint.starts_with("http://");
    let tls = match (&args.ca, plaintext) {
        (_, true) => None,
        (None, false) => return Err((2, "give the CA of the endpoint's certificate: --ca".into())),
        (Some(ca), false) => {
            let identity = args.cert.clone().zip(args.key.clone());
            let tls =
                ClientTls::load(ca.clone(), identity).map_err(|e| (2, format!("TLS: {e}")))?;
            Some(std::sync::Arc::new(tls))
        }
    };
    let outbound = Outbound {
        tls,
        allow_plaintext: plaintext,
    };
    let target = Target::parse(&args.endpoint, &outbound).map_err(|e| (2, e))?;
    let token = read(&args.token_file)?;
    let authorization = format!("Bearer {}", token.trim())
        .parse()
        .map_err(|_| (2, "the token is not a valid header value".to_owned()))?;
    Ok(GrpcLog {
        channel: target.channel(),
        service: args.service,
        authorization: Some(authorization),
        timeout: Duration::from_secs(30),
    })
}
