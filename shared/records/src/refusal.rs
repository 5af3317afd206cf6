//! What the sequencer refuses to put in the log: pending rows that the
//! service did not write (their MAC does not verify), and a tree that no
//! longer extends the one this process signed last.

use aimaq_error::Error;
use aimaq_tlog::{Hash, verify_consistency};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    StatementBuilder,
};

use crate::entities::{audit_record, pending_record, refused_record};
use crate::keys::LogKeys;
use crate::log::Frontier;

/// The MAC that shows the service wrote `row`.
pub(crate) fn row_mac(keys: &LogKeys, row: &pending_record::Model) -> String {
    let occurred = row.occurred_at_micros.to_string();
    keys.mac(&mac_content(row, &occurred))
}

/// Whether `row`'s MAC verifies under the log's keys.
pub(crate) fn row_verifies(keys: &LogKeys, row: &pending_record::Model) -> bool {
    let occurred = row.occurred_at_micros.to_string();
    keys.verifies(&mac_content(row, &occurred), &row.mac)
}

/// The columns of a pending row its MAC covers, in order: every one but the
/// id and the MAC, the time as `occurred` (its decimal digits). The MAC
/// length-prefixes each ([`LogKeys::mac`]).
fn mac_content<'a>(row: &'a pending_record::Model, occurred: &'a str) -> [&'a [u8]; 10] {
    [
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
    ]
}

/// Pending rows refused, each with why.
pub(crate) type Refused<'a> = Vec<(&'a pending_record::Model, &'static str)>;

const FORGED: &str = "its MAC does not verify under the log's keys";
const REPLAYED: &str = "it repeats a request already in the log (a copied row)";

/// The rows to chain, in order, and those refused (each reported): rows
/// without a valid MAC, and copies of a genuine row (a request id the log
/// or this batch already holds: every request is recorded once).
pub(crate) async fn screen<'a>(
    transaction: &DatabaseTransaction,
    keys: &LogKeys,
    pending: &'a [pending_record::Model],
) -> Result<(Vec<&'a pending_record::Model>, Refused<'a>), Error> {
    let mut refused: Refused<'a> = Vec::new();
    let mut genuine = Vec::with_capacity(pending.len());
    for row in pending {
        if row_verifies(keys, row) {
            genuine.push(row);
        } else {
            refused.push((row, FORGED));
        }
    }
    let ids: Vec<String> = genuine.iter().map(|row| row.request_id.clone()).collect();
    let mut seen: std::collections::HashSet<String> = audit_record::Entity::find()
        .select_only()
        .column(audit_record::Column::RequestId)
        .filter(audit_record::Column::RequestId.is_in(ids))
        .into_tuple::<String>()
        .all(transaction)
        .await?
        .into_iter()
        .collect();
    let mut chained = Vec::with_capacity(genuine.len());
    for row in genuine {
        if seen.insert(row.request_id.clone()) {
            chained.push(row);
        } else {
            refused.push((row, REPLAYED));
        }
    }
    for (row, reason) in &refused {
        metrics::counter!("aimaq_audit_refused_records_total").increment(1);
        tracing::error!(
            pending_id = row.id,
            actor = %row.actor,
            method = %row.method,
            request_id = %row.request_id,
            reason,
            "a pending audit record was not written by this service's write path: refused, kept in refused_records"
        );
    }
    Ok((chained, refused))
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
    for (row, reason) in refused {
        insert.values_panic([
            row.id.into(),
            row.occurred_at_micros.into(),
            row.actor.clone().into(),
            row.method.clone().into(),
            row.resource_name.clone().into(),
            row.request_id.clone().into(),
            (*reason).into(),
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
