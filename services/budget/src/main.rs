use std::process::ExitCode;

use clap::Parser;

/// Aimaq budget service: programmes, envelopes, the allocation tree, projects, regional standards.
#[derive(Parser)]
#[command(name = "aimaq-budget", version)]
struct Cli {
    #[command(flatten)]
    server: aimaq_config::ServerConfig,
}

fn main() -> ExitCode {
    let config = Cli::parse().server;
    let (listen, telemetry) = (config.listen, config.telemetry.clone());
    aimaq_server::main("budget", listen, &telemetry, |listener| {
        aimaq_budget::run(config, listener, aimaq_server::termination_signal())
    })
}
