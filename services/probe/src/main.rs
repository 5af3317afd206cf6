//! Asks a server for its gRPC health and exits 0 when it is SERVING, 1 otherwise:
//! the container health check of an image that has no shell.

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut address = cli.address;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
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
    let url = format!("http://{address}");
    if runtime.block_on(aimaq_server::is_serving(&url, &cli.service)) {
        ExitCode::SUCCESS
    } else {
        eprintln!("aimaq-probe: {url} is not serving {:?}", cli.service);
        ExitCode::FAILURE
    }
}
