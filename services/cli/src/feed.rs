//! The services' change feeds (`watch`) and audit logs (`audit verify`).

use std::io::Write;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::common::v1::{AuditVerification, ChangeEvent};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::{budget, governance, grants};
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::args::{AuditShowArgs, Service, WatchArgs};
use crate::output::{Format, Printer, cell, to_json};
use crate::{CliError, Connection};

type Events =
    std::pin::Pin<Box<dyn Stream<Item = Result<Option<ChangeEvent>, tonic::Status>> + Send>>;

/// A service's change feed after `from`.
async fn feed(connection: &Connection, args: &WatchArgs) -> Result<Events, tonic::Status> {
    let channel = connection.channel.clone();
    let (from, types) = (args.from, args.types.clone());
    Ok(match args.service {
        Service::Governance => {
            let asked = stream_request(
                connection,
                governance::v1::WatchChangesRequest {
                    after_sequence: from,
                    resource_types: types,
                },
            )?;
            let answer = GovernanceServiceClient::new(channel)
                .watch_changes(asked)
                .await?;
            answer.into_inner().map(|m| m.map(|m| m.event)).boxed()
        }
        Service::Budget => {
            let asked = stream_request(
                connection,
                budget::v1::WatchChangesRequest {
                    after_sequence: from,
                    resource_types: types,
                },
            )?;
            let answer = BudgetServiceClient::new(channel)
                .watch_changes(asked)
                .await?;
            answer.into_inner().map(|m| m.map(|m| m.event)).boxed()
        }
        Service::Grants => {
            let asked = stream_request(
                connection,
                grants::v1::WatchChangesRequest {
                    after_sequence: from,
                    resource_types: types,
                },
            )?;
            let answer = GrantsServiceClient::new(channel)
                .watch_changes(asked)
                .await?;
            answer.into_inner().map(|m| m.map(|m| m.event)).boxed()
        }
    })
}

fn stream_request<T>(
    connection: &Connection,
    message: T,
) -> Result<tonic::Request<T>, tonic::Status> {
    connection
        .stream_request(message)
        .map_err(|error| tonic::Status::invalid_argument(error.to_string()))
}

/// Prints each change as it comes: a line of its own on a terminal, or its
/// JSON. Resumable: give the last sequence printed as `--from`.
pub async fn watch(
    connection: &Connection,
    printer: &Printer,
    args: &WatchArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut events = feed(connection, args)
        .await
        .map_err(|status| CliError::of_call(connection, status))?;
    let mut printed = 0;
    while args.count.is_none_or(|count| printed < count) {
        let Some(next) = events.next().await else {
            return Ok(());
        };
        let event = next.map_err(|status| CliError::of_call(connection, status))?;
        let Some(event) = event else { continue };
        let json = to_json(&event)?;
        match printer.format {
            Format::Table => writeln!(out, "{}", event_line(&json, printer))?,
            Format::Json | Format::Jsonl => writeln!(out, "{json}")?,
            Format::Csv => printer.rows(std::slice::from_ref(&json), out)?,
        }
        out.flush()?;
        printed += 1;
    }
    Ok(())
}

/// A change as one line: sequence, time, action, resource, version, actor.
fn event_line(event: &Value, printer: &Printer) -> String {
    let field = |key: &str| cell(key, &event[key], printer.language);
    format!(
        "{:>8}  {}  {:<22}  {}  v{}  {}",
        field("sequence"),
        field("commitTime"),
        field("action"),
        field("resourceName"),
        field("resourceVersion"),
        field("actor")
    )
}

/// Checks a service's audit chain; fails (exit 4) when it is broken.
pub async fn verify(
    connection: &Connection,
    printer: &Printer,
    service: Service,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let channel = connection.channel.clone();
    let answer = match service {
        Service::Governance => {
            let request = connection.request(governance::v1::VerifyAuditLogRequest {})?;
            GovernanceServiceClient::new(channel)
                .verify_audit_log(request)
                .await
                .map(|a| a.into_inner().verification)
        }
        Service::Budget => {
            let request = connection.request(budget::v1::VerifyAuditLogRequest {})?;
            BudgetServiceClient::new(channel)
                .verify_audit_log(request)
                .await
                .map(|a| a.into_inner().verification)
        }
        Service::Grants => {
            let request = connection.request(grants::v1::VerifyAuditLogRequest {})?;
            GrantsServiceClient::new(channel)
                .verify_audit_log(request)
                .await
                .map(|a| a.into_inner().verification)
        }
    };
    let verification: AuditVerification = answer
        .map_err(|status| CliError::of_call(connection, status))?
        .unwrap_or_default();
    printer.one(&to_json(&verification)?, out)?;
    if verification.intact {
        Ok(())
    } else {
        Err(CliError::Refused(tonic::Status::data_loss(format!(
            "the audit chain is broken at sequence {}: {}",
            verification.first_broken_sequence, verification.reason
        ))))
    }
}

/// What a page of audit records is asked with.
pub struct AuditFilter {
    pub service: Service,
    pub actor: String,
    pub resource_type: String,
    pub resource: String,
}

/// A page of a service's audit records after `after`, as JSON, and where
/// the next page starts (0: none).
pub async fn audit_page(
    connection: &Connection,
    filter: &AuditFilter,
    after: u64,
    page_size: i32,
) -> Result<(Vec<Value>, u64), CliError> {
    let channel = connection.channel.clone();
    macro_rules! ask {
        ($package:ident, $client:ident) => {{
            let request = connection.request($package::v1::ListAuditRecordsRequest {
                after_sequence: after,
                page_size,
                actor: filter.actor.clone(),
                resource_type: filter.resource_type.clone(),
                resource_name: filter.resource.clone(),
            })?;
            $client::new(channel)
                .list_audit_records(request)
                .await
                .map(|answer| answer.into_inner())
                .map(|answer| (answer.records, answer.next_after_sequence))
        }};
    }
    let answer = match filter.service {
        Service::Governance => ask!(governance, GovernanceServiceClient),
        Service::Budget => ask!(budget, BudgetServiceClient),
        Service::Grants => ask!(grants, GrantsServiceClient),
    };
    let (records, next) = answer.map_err(|status| CliError::of_call(connection, status))?;
    Ok((records.iter().map(to_json).collect::<Result<_, _>>()?, next))
}

/// `audit show`: records in order until the limit or the end.
pub async fn show(
    connection: &Connection,
    printer: &Printer,
    args: &AuditShowArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let filter = AuditFilter {
        service: args.service,
        actor: args.actor.clone().unwrap_or_default(),
        resource_type: args.resource_type.clone().unwrap_or_default(),
        resource: args.resource.clone().unwrap_or_default(),
    };
    let mut rows = Vec::new();
    let mut after = args.from;
    while (rows.len() as u64) < args.limit {
        let wanted = (args.limit - rows.len() as u64).min(1000);
        let (mut page, next) = audit_page(
            connection,
            &filter,
            after,
            i32::try_from(wanted).unwrap_or(1000),
        )
        .await?;
        rows.append(&mut page);
        if next == 0 {
            break;
        }
        after = next;
    }
    printer.rows(&rows, out)
}
