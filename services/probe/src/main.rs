//! Asks a server for its gRPC health and exits 0 when it is SERVING, 1 otherwise:
//! the container health check of an image that has no shell. It reads the
//! server's own settings (`AIMAQ_LISTEN`, `AIMAQ_TLS_*`), so it speaks TLS to a
//! TLS server, presenting the server's certificate as its client certificate,
//! and addresses it as `localhost` (for which its certificate must be issued).
//! With `--answering` it asks only that the server answers, whatever it
//! reports: a liveness probe, which must not restart a server whose database
//! is away (readiness takes it out of its Service meanwhile).

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// Checks `grpc.health.v1` on a local Aimaq server.
#[derive(Parser)]
#[command(name = "aimaq-probe", version)]
struct Cli {
    /// The server's listen address; a wildcard host is probed on loopback.
    #[arg(long, env = "AIMAQ_LISTEN")]
    address: SocketAddr,

    /// The service to ask about; empty for the server as a whole.
    #[arg(long, default_value = "")]
    service: String,

    /// Succeeds when the server answers at all, SERVING or not (liveness).
    #[arg(long)]
    answering: bool,

    #[command(flatten)]
    tls: aimaq_config::TlsConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outbound = match aimaq_tls::Tls::from_config(&cli.tls) {
        Ok(tls) => tls.outbound,
        Err(error) => {
            eprintln!("aimaq-probe: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aimaq-probe: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (scheme, host) = if outbound.tls.is_some() {
        ("https", "localhost".to_owned())
    } else {
        ("http", loopback(cli.address).ip().to_string())
    };
    let url = format!("{scheme}://{host}:{}", cli.address.port());
    match runtime.block_on(aimaq_server::health(&url, &outbound, &cli.service)) {
        Some(true) => ExitCode::SUCCESS,
        Some(false) if cli.answering => ExitCode::SUCCESS,
        Some(false) => {
            eprintln!("aimaq-probe: {url} is not serving {:?}", cli.service);
            ExitCode::FAILURE
        }
        None => {
            eprintln!("aimaq-probe: {url} does not answer");
            ExitCode::FAILURE
        }
    }
}

/// A wildcard listen address is probed on loopback.
fn loopback(mut address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    address
}
