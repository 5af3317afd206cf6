use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Aimaq governance service: territories, akims, direct akim elections, local
/// budgets and development indicators.
#[derive(Parser)]
#[command(name = "aimaq-governance", version)]
struct Cli {
    #[command(flatten)]
    server: aimaq_config::ServerConfig,
}

fn main() -> ExitCode {
    let config = Cli::parse().server;
    let (listen, telemetry, tls) = (config.listen, config.telemetry.clone(), config.tls.clone());
    aimaq_server::main("governance", listen, (&telemetry, &tls), |listener| {
        aimaq_governance::run(config, listener, aimaq_server::termination_signal())
    })
}
