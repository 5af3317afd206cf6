use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = aimaq_cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aimaq: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    match runtime.block_on(aimaq_cli::run(cli, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("aimaq: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
