//! ImportTerritories: a stream of batches applied as one recorded mutation.

use aimaq_auth::{Caller, Scope};
use aimaq_error::Error;
use aimaq_proto::governance::v1::{
    ImportRejection, ImportTerritoriesRequest, ImportTerritoriesResponse, TerritoryInput,
};
use aimaq_records::{Mutation, Records};
use std::collections::HashMap;
use tonic::{Request, Streaming};

use super::convert::draft_from_proto;
use crate::domain::territory::{TerritoryDraft, check_draft};
use crate::ops;
use crate::store::territory_cache::TerritoryCache;

/// Most rows one import may carry, and in one message.
const MAX_ROWS: usize = 100_000;
const MAX_BATCH_ROWS: usize = 10_000;
/// Rejections listed in the answer (all are counted).
const MAX_LISTED_REJECTIONS: usize = 1000;

/// What the stream carries: its rows, each with its batch, and what the
/// first batch says of the whole (its request id, whether to check only).
struct Streamed {
    rows: Vec<(i32, TerritoryInput)>,
    request_id: String,
    validate_only: bool,
}

/// The rows of the whole stream: the import is applied in one transaction.
async fn read_stream(
    request: &mut Request<Streaming<ImportTerritoriesRequest>>,
) -> Result<Streamed, Error> {
    let mut request_id = String::new();
    let mut validate_only = false;
    let mut rows: Vec<(i32, TerritoryInput)> = Vec::new();
    let mut expected_batch = 0;
    while let Some(message) = request.get_mut().message().await.map_err(|status| {
        Error::invalid("stream", format!("the stream broke: {}", status.message()))
    })? {
        if message.batch != expected_batch {
            return Err(Error::invalid(
                "batch",
                format!(
                    "batches are numbered from 0 in order; expected {expected_batch}, got {}",
                    message.batch
                ),
            ));
        }
        if expected_batch == 0 {
            request_id = message.request_id.clone();
            validate_only = message.validate_only;
        } else if !message.request_id.is_empty() && message.request_id != request_id {
            return Err(Error::invalid(
                "request_id",
                "every batch carries the first batch's request_id",
            ));
        }
        if message.territories.len() > MAX_BATCH_ROWS {
            return Err(Error::invalid(
                "territories",
                format!("at most {MAX_BATCH_ROWS} rows a batch"),
            ));
        }
        if rows.len() + message.territories.len() > MAX_ROWS {
            return Err(Error::invalid(
                "territories",
                format!("at most {MAX_ROWS} rows an import"),
            ));
        }
        rows.extend(
            message
                .territories
                .into_iter()
                .map(|row| (message.batch, row)),
        );
        expected_batch += 1;
    }
    if rows.is_empty() {
        return Err(Error::invalid("territories", "the import carries no rows"));
    }
    Ok(Streamed {
        rows,
        request_id,
        validate_only,
    })
}

/// The drafts of the rows that are well formed, once the caller may write
/// each; the others refused with their reason.
fn drafts_of(
    caller: &Caller,
    rows: &[(i32, TerritoryInput)],
) -> Result<(Vec<TerritoryDraft>, Vec<ImportRejection>), Error> {
    let mut rejections = Vec::new();
    let mut drafts: Vec<TerritoryDraft> = Vec::with_capacity(rows.len());
    for (index, (batch, row)) in rows.iter().enumerate() {
        match draft_from_proto(Some(row))
            .and_then(|draft| check_draft(&draft, &format!("territories[{index}]")).map(|()| draft))
        {
            Ok(draft) => {
                caller.require_write_at(draft.kato)?;
                drafts.push(draft);
            }
            Err(error) => rejections.push(ImportRejection {
                kato: row.kato.clone(),
                batch: *batch,
                reason: error.to_string(),
            }),
        }
    }
    Ok((drafts, rejections))
}

pub async fn import(
    records: &Records,
    cache: &TerritoryCache,
    mut request: Request<Streaming<ImportTerritoriesRequest>>,
) -> Result<ImportTerritoriesResponse, Error> {
    let caller = Caller::of(&request)?.clone();
    caller.require(Scope::GovernanceWrite)?;
    let Streamed {
        rows,
        request_id,
        validate_only,
    } = read_stream(&mut request).await?;
    let (drafts, rejections) = drafts_of(&caller, &rows)?;
    if validate_only {
        return Ok(ImportTerritoriesResponse {
            rejected: i64::try_from(rejections.len()).unwrap_or(i64::MAX),
            rejections: rejections.into_iter().take(MAX_LISTED_REJECTIONS).collect(),
            ..ImportTerritoriesResponse::default()
        });
    }
    let batch_of: HashMap<String, i32> = rows
        .iter()
        .map(|(batch, row)| (row.kato.clone(), *batch))
        .collect();
    let combined = ImportTerritoriesRequest {
        request_id: request_id.clone(),
        batch: 0,
        territories: rows.into_iter().map(|(_, row)| row).collect(),
        validate_only: false,
    };
    let mutation = Mutation::of(&request, &combined, &request_id)?;
    ops::territories::import(records, cache, &mutation, &drafts, |plan| {
        let mut all_rejections = rejections.clone();
        all_rejections.extend(plan.rejected.iter().map(|(kato, reason)| ImportRejection {
            kato: kato.to_string(),
            batch: batch_of.get(&kato.to_string()).copied().unwrap_or_default(),
            reason: reason.clone(),
        }));
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        ImportTerritoriesResponse {
            created: count(plan.create.len()),
            updated: count(plan.update.len()),
            unchanged: count(plan.unchanged),
            rejected: count(all_rejections.len()),
            rejections: all_rejections
                .into_iter()
                .take(MAX_LISTED_REJECTIONS)
                .collect(),
        }
    })
    .await
}
