//! Sending rows: in batches, a refused batch narrowed down to the rows the
//! service names (or, when it names none, halved until the refused rows are
//! found); or a call a row, several at once.

use futures::StreamExt;
use prost::Message as _;
use prost_reflect::DynamicMessage;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic_types::StatusExt as _;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::{
    ImportProjectsRequest, ImportStandardStatusesRequest, ImportedProject, StandardStatusInput,
};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{ImportTerritoriesRequest, RecordRevenueRequest, TerritoryInput};
use aimaq_proto::grants::v1::SubmitApplicationRequest;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;

use super::{ImportArgs, ImportKind, Rejected};
use crate::progress::Progress;
use crate::sheet::Row;
use crate::{CliError, Connection, in_callers_words};

type Ready = (Row, DynamicMessage);

/// Calls of a row at a time for the kinds sent a row a call.
const CONCURRENT_CALLS: usize = 8;

/// Sends `ready`: the rows imported, and those refused with why.
pub async fn send(
    connection: &Connection,
    args: &ImportArgs,
    id_base: &str,
    ready: Vec<Ready>,
    progress: &Progress,
) -> Result<(u64, Vec<Rejected>), CliError> {
    match args.kind {
        ImportKind::Projects | ImportKind::StandardStatuses => {
            let mut imported = 0;
            let mut rejected = Vec::new();
            for chunk in ready.chunks(usize::from(args.batch)) {
                let (done, mut refused) =
                    batch(connection, args, id_base, chunk.to_vec(), progress).await?;
                imported += done;
                rejected.append(&mut refused);
            }
            Ok((imported, rejected))
        }
        ImportKind::Revenues | ImportKind::Applications => {
            one_by_one(connection, args, id_base, ready, progress).await
        }
        ImportKind::Territories => territories(connection, args, id_base, ready, progress).await,
    }
}

/// A refusal of the data sent, rather than of the caller or the connection.
fn about_the_data(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::NotFound
            | Code::AlreadyExists
            | Code::OutOfRange
    )
}

/// One batch, narrowed down until what is left is imported.
async fn batch(
    connection: &Connection,
    args: &ImportArgs,
    id_base: &str,
    rows: Vec<Ready>,
    progress: &Progress,
) -> Result<(u64, Vec<Rejected>), CliError> {
    let mut imported = 0;
    let mut rejected = Vec::new();
    let mut groups = vec![rows];
    while let Some(group) = groups.pop() {
        if group.is_empty() {
            continue;
        }
        let request_id = batch_id(id_base, &group);
        let status = match call_batch(connection, args, &request_id, &group).await {
            Ok(()) => {
                imported += group.len() as u64;
                progress.add(group.len() as u64);
                continue;
            }
            Err(status) if about_the_data(status.code()) => status,
            Err(status) => return Err(CliError::of_call(connection, status)),
        };
        let named = named_rows(&status, group.len());
        if !named.is_empty() {
            let mut kept = Vec::new();
            for (index, (row, message)) in group.into_iter().enumerate() {
                match named.iter().find(|(i, _, _)| *i == index) {
                    Some((_, field, reason)) => {
                        progress.add(1);
                        rejected.push(Rejected {
                            row,
                            column: field.clone(),
                            reason: in_callers_words(&status, reason),
                        });
                    }
                    None => kept.push((row, message)),
                }
            }
            groups.push(kept);
        } else if group.len() == 1 {
            progress.add(1);
            let (row, _) = group.into_iter().next().unwrap_or_else(|| unreachable!());
            rejected.push(Rejected {
                row,
                column: String::new(),
                reason: in_callers_words(&status, status.message()),
            });
        } else {
            // The service did not say which rows: each half on its own.
            let mut first = group;
            let second = first.split_off(first.len() / 2);
            groups.push(second);
            groups.push(first);
        }
    }
    Ok((imported, rejected))
}

/// The rows a refusal names (`projects[3].cost_tiyn`): index, field, why.
fn named_rows(status: &tonic::Status, count: usize) -> Vec<(usize, String, String)> {
    let Some(bad) = status.get_details_bad_request() else {
        return Vec::new();
    };
    bad.field_violations
        .iter()
        .filter_map(|violation| {
            let (_, rest) = violation.field.split_once('[')?;
            let (index, field) = rest.split_once(']')?;
            let index: usize = index.parse().ok().filter(|i| *i < count)?;
            let field = field.trim_start_matches('.').to_string();
            Some((index, field, violation.description.clone()))
        })
        .collect()
}

/// The batch's request id: the file's, and the rows in it.
fn batch_id(id_base: &str, rows: &[Ready]) -> String {
    let mut hasher = Sha256::new();
    for (row, _) in rows {
        hasher.update(row.number.to_le_bytes());
    }
    let digest: String = hasher.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let first = rows.first().map_or(0, |(row, _)| row.number);
    let last = rows.last().map_or(0, |(row, _)| row.number);
    format!("{id_base}-{first}-{last}-{digest}")
}

fn decoded<M: prost::Message + Default>(message: &DynamicMessage) -> Result<M, tonic::Status> {
    M::decode(message.encode_to_vec().as_slice())
        .map_err(|error| tonic::Status::internal(error.to_string()))
}

async fn call_batch(
    connection: &Connection,
    args: &ImportArgs,
    request_id: &str,
    rows: &[Ready],
) -> Result<(), tonic::Status> {
    let (kind, validate_only) = (args.kind, args.dry_run);
    let mut budget = BudgetServiceClient::new(connection.channel.clone());
    let asked = |e: CliError| tonic::Status::invalid_argument(e.to_string());
    if kind == ImportKind::Projects {
        let projects = rows
            .iter()
            .map(|(_, m)| decoded::<ImportedProject>(m))
            .collect::<Result<_, _>>()?;
        let request = connection
            .request(ImportProjectsRequest {
                request_id: request_id.into(),
                projects,
                validate_only,
            })
            .map_err(asked)?;
        budget.import_projects(request).await.map(drop)
    } else {
        let statuses = rows
            .iter()
            .map(|(_, m)| decoded::<StandardStatusInput>(m))
            .collect::<Result<_, _>>()?;
        let request = connection
            .request(ImportStandardStatusesRequest {
                request_id: request_id.into(),
                statuses,
                validate_only,
            })
            .map_err(asked)?;
        budget.import_standard_statuses(request).await.map(drop)
    }
}

/// A call a row, several at once; each row's request id is the file's and
/// the row's number.
async fn one_by_one(
    connection: &Connection,
    args: &ImportArgs,
    id_base: &str,
    ready: Vec<Ready>,
    progress: &Progress,
) -> Result<(u64, Vec<Rejected>), CliError> {
    let kind = args.kind;
    let validate_only = args.dry_run.to_string();
    let calls = ready.into_iter().map(|(row, mut message)| {
        let validate_only = validate_only.clone();
        async move {
            let request_id = format!("{id_base}-row{}", row.number);
            let set = aimaq_transcode::set_from_text(&mut message, "request_id", &request_id)
                .and_then(|()| {
                    aimaq_transcode::set_from_text(&mut message, "validate_only", &validate_only)
                });
            let answered = match set {
                Ok(()) => call_row(connection, kind, &message).await,
                Err(why) => Err(tonic::Status::internal(why)),
            };
            (row, answered)
        }
    });
    let mut answers = futures::stream::iter(calls).buffer_unordered(CONCURRENT_CALLS);
    let mut imported = 0;
    let mut rejected = Vec::new();
    while let Some((row, answered)) = answers.next().await {
        progress.add(1);
        match answered {
            Ok(()) => imported += 1,
            Err(status) if about_the_data(status.code()) => {
                let (column, reason) = match status.get_details_bad_request() {
                    Some(bad) if !bad.field_violations.is_empty() => {
                        let first = &bad.field_violations[0];
                        (
                            first.field.clone(),
                            in_callers_words(&status, &first.description),
                        )
                    }
                    _ => (String::new(), in_callers_words(&status, status.message())),
                };
                rejected.push(Rejected {
                    row,
                    column,
                    reason,
                });
            }
            Err(status) => return Err(CliError::of_call(connection, status)),
        }
    }
    Ok((imported, rejected))
}

async fn call_row(
    connection: &Connection,
    kind: ImportKind,
    message: &DynamicMessage,
) -> Result<(), tonic::Status> {
    let asked = |e: CliError| tonic::Status::invalid_argument(e.to_string());
    if kind == ImportKind::Revenues {
        let request = connection
            .request(decoded::<RecordRevenueRequest>(message)?)
            .map_err(asked)?;
        GovernanceServiceClient::new(connection.channel.clone())
            .record_revenue(request)
            .await
            .map(drop)
    } else {
        let request = connection
            .request(decoded::<SubmitApplicationRequest>(message)?)
            .map_err(asked)?;
        GrantsServiceClient::new(connection.channel.clone())
            .submit_application(request)
            .await
            .map(drop)
    }
}

/// Territories: one stream of batches under the file's request id; the
/// service resolves parents after the last batch and names each territory it
/// refuses, by its code and batch.
async fn territories(
    connection: &Connection,
    args: &ImportArgs,
    id_base: &str,
    ready: Vec<Ready>,
    progress: &Progress,
) -> Result<(u64, Vec<Rejected>), CliError> {
    let size = usize::from(args.batch);
    let mut batches = Vec::new();
    for (index, chunk) in ready.chunks(size).enumerate() {
        let territories = chunk
            .iter()
            .map(|(_, m)| decoded::<TerritoryInput>(m))
            .collect::<Result<_, _>>()
            .map_err(|status| CliError::Output(status.message().to_string()))?;
        batches.push(ImportTerritoriesRequest {
            request_id: id_base.to_string(),
            batch: i32::try_from(index).map_err(|_| CliError::Usage("too many batches".into()))?,
            territories,
            validate_only: args.dry_run,
        });
    }
    let request = connection.request(futures::stream::iter(batches))?;
    let answer = GovernanceServiceClient::new(connection.channel.clone())
        .import_territories(request)
        .await
        .map_err(|status| CliError::of_call(connection, status))?
        .into_inner();
    progress.add(ready.len() as u64);
    let mut rejected = Vec::new();
    for refusal in &answer.rejections {
        let batch = usize::try_from(refusal.batch).unwrap_or(usize::MAX);
        let found = ready
            .iter()
            .skip(batch.saturating_mul(size))
            .take(size)
            .find(|(_, m)| {
                m.get_field_by_name("kato")
                    .is_some_and(|k| k.as_str() == Some(refusal.kato.as_str()))
            });
        // A refusal that names no row of the file is kept, not dropped.
        let row = found.map_or_else(
            || Row {
                number: 0,
                cells: Default::default(),
            },
            |(row, _)| row.clone(),
        );
        let reason = format!(
            "{} (batch {}): {}",
            refusal.kato, refusal.batch, refusal.reason
        );
        rejected.push(Rejected {
            row,
            column: "kato".into(),
            reason,
        });
    }
    let unlisted = usize::try_from(answer.rejected)
        .unwrap_or_default()
        .saturating_sub(answer.rejections.len());
    if unlisted > 0 {
        rejected.push(Rejected {
            row: Row {
                number: 0,
                cells: Default::default(),
            },
            column: String::new(),
            reason: format!(
                "{unlisted} more territories refused; the service lists the first 1000"
            ),
        });
    }
    let imported =
        u64::try_from(answer.created + answer.updated + answer.unchanged).unwrap_or_default();
    Ok((imported, rejected))
}
