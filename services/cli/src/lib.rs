//! `aimaq`: the operators' command-line tool. It talks gRPC to the gateway
//! with the caller's token and certificate, and prints what it reads as a
//! table, JSON, JSON lines or CSV.

mod args;
mod connection;
mod evidence;
mod export;
mod feed;
mod identity;
mod import;
mod names;
mod output;
mod progress;
mod report;
mod resources;
mod settings;
mod sheet;
mod workbook;

use std::io::Write;

use aimaq_types::Language;
use tonic::Code;
use tonic_types::StatusExt as _;

pub use args::Cli;
use args::{AuditCommand, Command, TokenCommand};
use connection::Connection;
use output::{Format, Printer};

/// Why a command failed; each kind has its own exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or a local file is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The gateway could not be reached or did not answer (exit 3).
    #[error("cannot reach {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    /// The service refused the call (exit 4).
    #[error("{}", describe(.0))]
    Refused(tonic::Status),
    /// Writing the output failed (exit 1).
    #[error("output: {0}")]
    Output(String),
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Unreachable { .. } => 3,
            CliError::Refused(_) => 4,
            CliError::Output(_) | CliError::Io(_) => 1,
        }
    }

    /// A failed call, told apart: the gateway unreachable, or a refusal.
    fn of_call(connection: &Connection, status: tonic::Status) -> CliError {
        let transport =
            status.code() == Code::Unavailable && std::error::Error::source(&status).is_some();
        if transport
            || status.code() == Code::DeadlineExceeded && status.message().contains("Timeout")
        {
            return CliError::Unreachable {
                endpoint: connection.endpoint.clone(),
                message: status.message().to_string(),
            };
        }
        CliError::Refused(status)
    }
}

/// `english`, what the service said of a refusal, preceded by the service's
/// own words in the caller's language when it gave them (kk, ru).
pub(crate) fn in_callers_words(status: &tonic::Status, english: &str) -> String {
    match status.get_details_localized_message() {
        Some(local) if local.locale != "en" && !local.message.is_empty() => {
            format!("{} ({english})", local.message)
        }
        _ => english.to_string(),
    }
}

/// A refusal as an operator reads it: the code, the message (in the
/// caller's language first when the service gave one), and each field named
/// with what is wrong with it.
fn describe(status: &tonic::Status) -> String {
    let mut text = format!(
        "{:?}: {}",
        status.code(),
        in_callers_words(status, status.message())
    );
    if let Some(bad) = status.get_details_bad_request() {
        for violation in bad.field_violations {
            let line = format!("{}: {}", violation.field, violation.description);
            // Short refusals carry their violations in the message already.
            if !status.message().contains(&line) {
                text.push_str(&format!("\n  {line}"));
            }
        }
    }
    text
}

/// Runs `cli`, printing to `out`.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
    if let Command::Token(TokenCommand::Mint(mint)) = &cli.command {
        return identity::mint(mint, out);
    }
    let settings = settings::Settings::resolve(&cli.connection)?;
    let printer = Printer {
        format: Format::chosen(cli.output),
        language: Language::from_header(&settings.language),
        columns: Vec::new(),
    };
    let connection = Connection::open(&settings)?;
    match cli.command {
        Command::Whoami => identity::whoami(&connection, &printer, out).await,
        Command::Health => identity::health(&connection, &printer, out).await,
        Command::Token(_) => Ok(()),
        Command::Get(get) => resources::get(&connection, &printer, &get, out).await,
        Command::List(list) => {
            let printer = Printer {
                columns: list.columns.clone(),
                ..printer
            };
            resources::list(&connection, &printer, &list, out).await
        }
        Command::Watch(watch) => feed::watch(&connection, &printer, &watch, out).await,
        Command::Audit(AuditCommand::Verify(verify)) => {
            feed::verify(&connection, &printer, verify.service, out).await?;
            match verify.log_key {
                Some(_) => evidence::verify(&connection, &printer, &verify, out).await,
                None => Ok(()),
            }
        }
        Command::Audit(AuditCommand::Show(show)) => {
            feed::show(&connection, &printer, &show, out).await
        }
        Command::Import(import) => import::import(&connection, &printer, &import, out).await,
        Command::Export(export) => {
            export::export(&connection, printer.language, &export, out).await
        }
        Command::Report(report) => {
            report::report(&connection, printer.language, &report, out).await
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
