use std::process::ExitCode;

use clap::Parser;

/// Aimaq budget service: programmes, envelopes, the allocation tree, projects, regional standards.
#[derive(Parser)]
#[command(name = "aimaq-budget", version)]
struct Cli {
    #[command(flatten)]
    server: aimaq_config::ServerConfig,

    /// The governance service, asked about territories (http://host:port).
    #[arg(long, env = "AIMAQ_GOVERNANCE_URL")]
    governance_url: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, governance_url) = (cli.server, cli.governance_url);
    let (listen, telemetry) = (config.listen, config.telemetry.clone());
    aimaq_server::main("budget", listen, &telemetry, |listener| {
        aimaq_budget::run(
            config,
            governance_url,
            listener,
            aimaq_server::termination_signal(),
        )
    })
}
