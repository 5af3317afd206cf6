use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Aimaq budget service: programmes, envelopes, the allocation tree, projects, regional standards.
#[derive(Parser)]
#[command(name = "aimaq-budget", version)]
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
    aimaq_server::main("budget", listen, (&telemetry, &tls), |listener| {
        aimaq_budget::run(
            config,
            governance_url,
            listener,
            aimaq_server::termination_signal(),
        )
    })
}
