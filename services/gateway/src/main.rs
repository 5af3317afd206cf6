use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Aimaq gateway: one address for every agency.
#[derive(Parser)]
#[command(name = "aimaq-gateway", version)]
struct Cli {
    #[command(flatten)]
    gateway: aimaq_gateway::GatewayConfig,
}

fn main() -> ExitCode {
    let config = Cli::parse().gateway;
    let (listen, telemetry, tls) = (config.listen, config.telemetry.clone(), config.tls.clone());
    aimaq_server::main("gateway", listen, (&telemetry, &tls), |listener| {
        aimaq_gateway::run(config, listener, aimaq_server::termination_signal())
    })
}
