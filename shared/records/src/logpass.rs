//! The log's pass: the records sequenced since the last one join the Merkle
//! tree, in order, and a checkpoint of the tree is signed. It runs apart from
//! sequencing, at most every few hundred milliseconds while records are
//! written (and at once for a checkpoint or a drain), so that its fixed cost
//! — the tree's right edge read, a signature, the head written — is shared by
//! many records. Records written before the log existed join the same way.

use aimaq_error::Error;
use aimaq_tlog::Hash;
use futures::TryStreamExt;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, StatementBuilder,
};

use crate::audit::AuditFields;
use crate::entities::{audit_record, record_head};
use crate::keys::LogKeys;
use crate::log::Frontier;

/// Records added to the tree per transaction at most.
const TREE_BATCH: u64 = 20_000;

/// Adds up to [`TREE_BATCH`] sequenced records to the tree and signs it;
/// returns whether more wait, and the size and root signed.
pub(crate) async fn extend_tree(
    transaction: &DatabaseTransaction,
    keys: &LogKeys,
    last_signed: Option<(u64, Hash)>,
) -> Result<(bool, Option<(u64, Hash)>), Error> {
    let head = record_head::Entity::find_by_id(1)
        .lock_exclusive()
        .one(transaction)
        .await?
        .ok_or_else(|| Error::internal("record_heads is empty"))?;
    let behind = head.tree_size < head.audit_sequence;
    if !behind && crate::log::signed_by(keys, &head.checkpoint).is_some() {
        return Ok((false, None));
    }
    let mut tree = Frontier::read(transaction, u64::try_from(head.tree_size).unwrap_or(0)).await?;
    crate::refusal::check_extends(transaction, last_signed, &tree).await?;
    // One row at a time: a pass catching up after a burst of writes holds
    // a leaf hash per record, not the records themselves.
    let mut rows = audit_record::Entity::find()
        .filter(audit_record::Column::Sequence.gt(head.tree_size))
        .order_by_asc(audit_record::Column::Sequence)
        .limit(TREE_BATCH)
        .stream(transaction)
        .await?;
    while let Some(row) = rows.try_next().await? {
        tree.append(AuditFields::from(&row).leaf().hash());
    }
    drop(rows);
    tree.store(transaction).await?;
    let root = tree.root();
    let checkpoint = crate::log::sign(keys, tree.size(), root)?;
    let size = i64::try_from(tree.size()).unwrap_or(i64::MAX);
    let head_update = Query::update()
        .table(record_head::Entity)
        .values([
            (record_head::Column::TreeSize, size.into()),
            (record_head::Column::Checkpoint, checkpoint.into()),
        ])
        .and_where(Expr::col(record_head::Column::Id).eq(1))
        .to_owned();
    let backend = transaction.get_database_backend();
    transaction
        .execute_raw(StatementBuilder::build(&head_update, &backend))
        .await?;
    Ok((size < head.audit_sequence, Some((tree.size(), root))))
}
