//! What the sequencer refuses to put in the log: pending rows that the
//! service did not write (their MAC does not verify), and a tree that no
//! longer extends the one this process signed last.

use aimaq_error::Error;
use aimaq_tlog::{Hash, verify_consistency};
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, DatabaseTransaction, StatementBuilder};

use crate::entities::{pending_record, refused_record};
use crate::keys::LogKeys;
use crate::log::Frontier;

/// The bytes of a pending row its MAC covers: every column but the id and
/// the MAC, each length-prefixed.
pub(crate) fn mac_content(row: &pending_record::Model) -> Vec<u8> {
    let mut content = Vec::new();
    let occurred = row.occurred_at_micros.to_string();
    for part in [
        occurred.as_bytes(),
        row.actor.as_bytes(),
        row.agency.as_bytes(),
        row.method.as_bytes(),
        row.resource_type.as_bytes(),
        row.resource_name.as_bytes(),
        row.request_id.as_bytes(),
        row.request_digest.as_bytes(),
        row.changes.as_slice(),
        row.certificate.as_bytes(),
    ] {
        content.extend_from_slice(&(part.len() as u64).to_be_bytes());
        content.extend_from_slice(part);
    }
    content
}

/// Pending rows refused for want of a valid MAC.
pub(crate) type Refused<'a> = Vec<&'a pending_record::Model>;

/// The rows whose MAC verifies, in order, and those refused (each reported).
pub(crate) fn split_by_mac<'a>(
    keys: &LogKeys,
    pending: &'a [pending_record::Model],
) -> (Vec<&'a pending_record::Model>, Refused<'a>) {
    let (genuine, refused): (Vec<_>, Vec<_>) = pending
        .iter()
        .partition(|row| keys.verifies(&mac_content(row), &row.mac));
    for row in &refused {
        metrics::counter!("aimaq_audit_refused_records_total").increment(1);
        tracing::error!(
            pending_id = row.id,
            actor = %row.actor,
            method = %row.method,
            request_id = %row.request_id,
            "a pending audit record carries no valid MAC: it was not written by this service; refused, kept in refused_records"
        );
    }
    (genuine, refused)
}

/// Keeps refused rows, with why, where `VerifyAuditLog` reports them.
pub(crate) async fn insert_refused(
    transaction: &DatabaseTransaction,
    refused: &Refused<'_>,
) -> Result<(), Error> {
    if refused.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_micros();
    let mut insert = Query::insert();
    insert.into_table(refused_record::Entity).columns([
        refused_record::Column::Id,
        refused_record::Column::OccurredAtMicros,
        refused_record::Column::Actor,
        refused_record::Column::Method,
        refused_record::Column::ResourceName,
        refused_record::Column::RequestId,
        refused_record::Column::Reason,
        refused_record::Column::RefusedAtMicros,
    ]);
    for row in refused {
        insert.values_panic([
            row.id.into(),
            row.occurred_at_micros.into(),
            row.actor.clone().into(),
            row.method.clone().into(),
            row.resource_name.clone().into(),
            row.request_id.clone().into(),
            "its MAC does not verify under the log's keys".into(),
            now.into(),
        ]);
    }
    // A row refused before under the same id (an id reused after a restore)
    // stays as first refused.
    insert.on_conflict(
        sea_orm::sea_query::OnConflict::column(refused_record::Column::Id)
            .do_nothing()
            .to_owned(),
    );
    let backend = transaction.get_database_backend();
    transaction
        .execute_raw(StatementBuilder::build(&insert, &backend))
        .await?;
    Ok(())
}

/// Checks that the stored tree extends what this process signed last: the
/// same root at the same size, or a consistency proof to a larger one. A
/// rewritten or truncated tree is not signed again: INTERNAL, logged and
/// counted, and the pending records wait (nothing is lost).
pub(crate) async fn check_extends<C: ConnectionTrait>(
    connection: &C,
    last_signed: Option<(u64, Hash)>,
    tree: &Frontier,
) -> Result<(), Error> {
    let Some((size, root)) = last_signed else {
        return Ok(());
    };
    let current = tree.root();
    let holds = if size > tree.size() {
        false
    } else if size == tree.size() {
        root == current
    } else {
        let proof = crate::log::consistency_proof(connection, size, tree.size()).await?;
        let hashes = crate::log::hashes_of(&proof.hashes).unwrap_or_default();
        verify_consistency(size, tree.size(), &root, &current, &hashes).is_ok()
    };
    if holds {
        return Ok(());
    }
    metrics::counter!("aimaq_audit_log_rewritten_total").increment(1);
    let message = format!(
        "the audit log's stored tree (size {}) does not extend the checkpoint this service signed at size {size}: it was rewritten in the database; no checkpoint is signed until an operator restores it",
        tree.size()
    );
    tracing::error!("{message}");
    Err(Error::internal(message))
}
