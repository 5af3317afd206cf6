use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Aimaq grants service: 'With a diploma – to the village!' allowances and housing loans.
#[derive(Parser)]
#[command(name = "aimaq-grants", version)]
struct Cli {
    #[command(flatten)]
    server: aimaq_config::ServerConfig,

    #[command(flatten)]
    governance: aimaq_config::GovernanceLink,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, governance_url) = (cli.server, cli.governance.governance_url);
    let (listen, telemetry, tls) = (config.listen, config.telemetry.clone(), config.tls.clone());
    aimaq_server::main("grants", listen, (&telemetry, &tls), |listener| {
        aimaq_grants::run(
            config,
            governance_url,
            listener,
            aimaq_server::termination_signal(),
        )
    })
}
