//! `audit verify --log-key`: the service's signed log checked as an outsider
//! checks it, with `aimaq-verify`'s code and this tool's connection.

use std::io::Write;

use aimaq_tlog::NoteVerifier;
use aimaq_verify::{GrpcLog, Options, SourceError};

use crate::CliError;
use crate::args::AuditVerifyArgs;
use crate::connection::Connection;
use crate::output::Printer;

/// Verifies and prints the report; a finding is a refusal (exit 4), named.
pub async fn verify(
    connection: &Connection,
    printer: &Printer,
    args: &AuditVerifyArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let key = args.log_key.as_deref().unwrap_or_default();
    let log_key =
        NoteVerifier::parse(key).map_err(|error| CliError::Usage(format!("--log-key: {error}")))?;
    let saved = args
        .saved
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .map_err(|error| CliError::Usage(format!("--saved {}: {error}", path.display())))
        })
        .transpose()?;
    let witnesses = args
        .witness
        .iter()
        .map(|key| {
            NoteVerifier::parse(key)
                .map_err(|error| CliError::Usage(format!("--witness {key}: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let log = GrpcLog {
        channel: connection.channel.clone(),
        service: args.service,
        authorization: connection.authorization()?,
        timeout: connection.timeout(),
    };
    let options = Options {
        log_key,
        witnesses,
        saved,
        witnessed: None,
        min_cosigners: args.min_cosigners,
        records: args.records.clone(),
        events: args.events,
    };
    let report = match aimaq_verify::verify(&log, &options).await {
        Ok(report) => report,
        Err(SourceError::Finding(finding)) => {
            return Err(CliError::Refused(tonic::Status::data_loss(format!(
                "the audit log fails verification: {finding}"
            ))));
        }
        Err(SourceError::Call(status)) => return Err(CliError::of_call(connection, status)),
        Err(other) => {
            return Err(CliError::Refused(tonic::Status::internal(
                other.to_string(),
            )));
        }
    };
    if let Some(path) = &args.save {
        std::fs::write(path, &report.checkpoint_note)
            .map_err(|error| CliError::Usage(format!("--save {}: {error}", path.display())))?;
    }
    let value = serde_json::to_value(&report)
        .map_err(|error| CliError::Usage(format!("the report: {error}")))?;
    printer.one(&value, out)
}
