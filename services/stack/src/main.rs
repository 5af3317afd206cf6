use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let options = aimaq_stack::StackOptions::parse();
    if options.keys_only {
        return match aimaq_stack::development_token(&options) {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("aimaq-stack: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aimaq-stack: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let _telemetry = match aimaq_telemetry::init(
            "aimaq-stack",
            &options.telemetry(),
            &options.collector_tls(),
        ) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("aimaq-stack: telemetry: {error}");
                return ExitCode::FAILURE;
            }
        };
        let stack = match aimaq_stack::Stack::start(&options).await {
            Ok(stack) => stack,
            Err(error) => {
                eprintln!("aimaq-stack: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("{}", stack.banner());
        aimaq_server::termination_signal().await;
        match stack.stop().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("aimaq-stack: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
