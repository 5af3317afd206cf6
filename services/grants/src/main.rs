use std::process::ExitCode;

use clap::Parser;

/// Aimaq grants service: 'With a diploma – to the village!' allowances and housing loans.
#[derive(Parser)]
#[command(name = "aimaq-grants", version)]
struct Cli {
    #[command(flatten)]
    server: aimaq_config::ServerConfig,
}

fn main() -> ExitCode {
    let config = Cli::parse().server;
    let (listen, telemetry) = (config.listen, config.telemetry.clone());
    aimaq_server::main("grants", listen, &telemetry, |listener| {
        aimaq_grants::run(config, listener, aimaq_server::termination_signal())
    })
}
