//! The checks of `VerifyAuditLog` beyond the hash chain: that each record is
//! its leaf in the stored tree, that the change feed holds what each record
//! committed to, that the tree's root is the signed checkpoint's, and that no
//! forged pending record was refused.

use std::collections::HashMap;

use aimaq_error::Error;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::audit::AuditFields;
use crate::entities::{audit_record, change_event, log_node, record_head, refused_record};
use crate::feed::to_proto;
use crate::keys::LogKeys;
use crate::resources::committed_events_digest;
use aimaq_proto::common::v1::ChangeEvent;

/// A record that fails a check, and why.
pub(crate) type Finding = (i64, String);

/// Checks one page of records (in sequence order) against their leaves and
/// their change events.
pub(crate) async fn check_page<C: ConnectionTrait>(
    connection: &C,
    page: &[audit_record::Model],
) -> Result<Option<Finding>, Error> {
    let (Some(first), Some(last)) = (page.first(), page.last()) else {
        return Ok(None);
    };
    let leaves: HashMap<i64, Vec<u8>> = log_node::Entity::find()
        .filter(log_node::Column::Level.eq(0))
        .filter(log_node::Column::Position.between(first.sequence - 1, last.sequence - 1))
        .all(connection)
        .await?
        .into_iter()
        .map(|node| (node.position + 1, node.hash))
        .collect();
    let events = events_of(connection, page).await?;
    for row in page {
        let fields = AuditFields::from(row);
        match leaves.get(&row.sequence) {
            None => {
                return Ok(Some((
                    row.sequence,
                    "the record is not in the log's tree".into(),
                )));
            }
            Some(leaf) if leaf.as_slice() != fields.leaf().hash() => {
                return Ok(Some((
                    row.sequence,
                    "the record differs from its leaf in the log's tree".into(),
                )));
            }
            Some(_) => {}
        }
        if let Some(reason) = events_differ(row, &fields, &events) {
            return Ok(Some((row.sequence, reason)));
        }
    }
    Ok(None)
}

async fn events_of<C: ConnectionTrait>(
    connection: &C,
    page: &[audit_record::Model],
) -> Result<HashMap<i64, change_event::Model>, Error> {
    let with_events = page.iter().filter(|row| row.change_count > 0);
    let low = with_events
        .clone()
        .map(|row| row.first_change_sequence)
        .min();
    let high = with_events
        .map(|row| row.first_change_sequence + i64::from(row.change_count) - 1)
        .max();
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(HashMap::new());
    };
    Ok(change_event::Entity::find()
        .filter(change_event::Column::Sequence.between(low, high))
        .order_by_asc(change_event::Column::Sequence)
        .all(connection)
        .await?
        .into_iter()
        .map(|event| (event.sequence, event))
        .collect())
}

/// Why the feed does not hold what `row` committed to, if it does not.
fn events_differ(
    row: &audit_record::Model,
    fields: &AuditFields,
    events: &HashMap<i64, change_event::Model>,
) -> Option<String> {
    let sequences =
        row.first_change_sequence..row.first_change_sequence + i64::from(row.change_count);
    let mut found = Vec::with_capacity(sequences.clone().count());
    for sequence in sequences {
        let Some(event) = events.get(&sequence) else {
            return Some(format!(
                "change event {sequence} of the record is missing from the feed"
            ));
        };
        let same_request = event.method == row.method
            && event.request_id == row.request_id
            && event.actor == row.actor
            && event.commit_time_micros == row.occurred_at_micros;
        if !same_request {
            return Some(format!(
                "change event {sequence} names another request than the record"
            ));
        }
        found.push(event);
    }
    let found: Vec<ChangeEvent> = found.into_iter().cloned().map(to_proto).collect();
    let digest = committed_events_digest(found.iter().map(|event| (event.sequence, event)));
    (row.change_count > 0 && digest != fields.events_digest).then(|| {
        format!(
            "the change events {}..{} differ from those the record committed to",
            row.first_change_sequence,
            row.first_change_sequence + i64::from(row.change_count) - 1
        )
    })
}

/// Checks the whole tree against the signed checkpoint, after the records
/// (up to `last_sequence`) were checked against their leaves.
pub(crate) async fn check_tree<C: ConnectionTrait>(
    connection: &C,
    keys: &LogKeys,
    head: &record_head::Model,
    last_sequence: i64,
) -> Result<Option<Finding>, Error> {
    if head.tree_size != last_sequence {
        return Ok(Some((
            last_sequence + 1,
            format!(
                "the log's tree holds {} records but the log {last_sequence}",
                head.tree_size
            ),
        )));
    }
    let Some(checkpoint) = crate::log::signed_by(keys, &head.checkpoint) else {
        return Ok(Some((
            last_sequence + 1,
            "the stored checkpoint is not signed by this service's log key".into(),
        )));
    };
    let size = u64::try_from(last_sequence).unwrap_or(0);
    if checkpoint.size != size || crate::log::root(connection, size).await? != checkpoint.root {
        return Ok(Some((
            last_sequence + 1,
            format!(
                "the log's tree does not have the root of the signed checkpoint at size {}",
                checkpoint.size
            ),
        )));
    }
    Ok(None)
}

/// How many pending rows were refused, and the first of them.
pub(crate) async fn refused<C: ConnectionTrait>(
    connection: &C,
) -> Result<(u64, Option<refused_record::Model>), Error> {
    let count = refused_record::Entity::find().count(connection).await?;
    let first = refused_record::Entity::find()
        .order_by_asc(refused_record::Column::Id)
        .one(connection)
        .await?;
    Ok((count, first))
}
