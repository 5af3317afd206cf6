//! Gives committed mutations their place in the audit chain and the change feed.
//!
//! A mutation's own transaction stores its audit record and change events as one
//! pending row, so nothing it did can be committed without them. After commit the
//! sequencer takes the pending rows in the order they were written and, in one
//! transaction per batch, gives them the next sequence numbers and chained hashes
//! under the `record_heads` lock, moving them to `audit_log` and `change_events`.
//! Writers therefore never wait for one another on the head row, and a crash loses
//! nothing: any replica's next pass sequences what is left.
//!
//! Order: a mutation that waited for another's row lock writes its pending row
//! after that one committed, so it is sequenced after it. Each pass holds the head
//! lock to its commit, so sequences become visible in order.

use std::time::Duration;

use aimaq_error::Error;
use aimaq_proto::common::v1::ChangeEvent;
use aimaq_storage::Database;
use prost::Message;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, StatementBuilder,
};
use tokio::sync::{mpsc, watch};

use std::sync::{Arc, Mutex};

use crate::audit::{AuditFields, chain_hash};
use crate::entities::{audit_record, change_event, pending_record, record_head};
use crate::keys::LogKeys;
use crate::refusal::{insert_refused, screen};
use crate::resources::committed_events_digest;
use aimaq_storage::chunks::in_powers_of_two;
use aimaq_storage::within;
use aimaq_tlog::Hash;

/// Pending rows sequenced per transaction.
const BATCH: u64 = 500;
/// The tree grows (and a checkpoint is signed) at most this often while
/// records are written, and at once when asked (a checkpoint, a drain).
const TREE_INTERVAL: Duration = Duration::from_millis(250);
/// Rows of one multi-row statement at most: well under the bind-parameter
/// limits of both backends at 15 columns. Fewer go in chunks of powers of two,
/// so that the statements take few shapes (see `aimaq_storage::chunks`).
const ROWS_PER_INSERT: usize = 512;
/// Pending rows of other replicas, or left by a crash, are looked for this often.
const POLL: Duration = Duration::from_secs(1);
/// After a failed pass, the next is tried after this long.
const RETRY: Duration = Duration::from_millis(200);

/// The change events of one mutation, as its pending row stores them; the fields
/// the audit record already holds (method, request id, actor, time) stay empty.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct PendingChanges {
    #[prost(message, repeated, tag = "1")]
    pub events: Vec<ChangeEvent>,
}

/// Sequences pending records: when woken after a commit, every [`POLL`], and once
/// more when the service drains.
#[derive(Clone)]
pub(crate) struct Sequencer {
    database: Database,
    committed: watch::Sender<u64>,
    keys: Arc<LogKeys>,
    /// The size and root this process last signed: each new tree must extend
    /// it, or the database's tree was rewritten and nothing more is signed.
    last_signed: Arc<Mutex<Option<(u64, Hash)>>>,
}

impl Sequencer {
    pub fn new(database: Database, committed: watch::Sender<u64>, keys: Arc<LogKeys>) -> Sequencer {
        Sequencer {
            database,
            committed,
            keys,
            last_signed: Arc::default(),
        }
    }

    /// Starts the background passes; returns the sender that wakes them. They end
    /// after a last pass when the service drains or every such sender is dropped.
    pub fn start(self, shutdown: watch::Receiver<bool>) -> mpsc::Sender<()> {
        // Capacity one: a wake-up already waiting covers every later commit.
        let (wake, woken) = mpsc::channel(1);
        tokio::spawn(self.run(woken, shutdown));
        wake
    }

    /// Sequences every record committed before the call, and signs the log
    /// that holds them.
    pub async fn flush(&self) -> Result<(), Error> {
        self.sequence_all().await?;
        self.extend_all().await
    }

    async fn sequence_all(&self) -> Result<(), Error> {
        while self.pass().await? {}
        Ok(())
    }

    async fn extend_all(&self) -> Result<(), Error> {
        while self.tree_pass().await? {}
        Ok(())
    }

    /// As [`Sequencer::flush`], after plain reads that find something to do
    /// (records pending, records not yet in the log, no checkpoint): for the
    /// polls, so that an idle service takes no write lock every second.
    pub async fn flush_if_pending(&self) -> Result<(), Error> {
        if self.something_to_do().await? {
            self.flush().await
        } else {
            Ok(())
        }
    }

    /// One pass, when there is something to do: for a call that should see
    /// what committed before it without waiting for a long catch-up.
    pub async fn pass_if_pending(&self) -> Result<(), Error> {
        if self.something_to_do().await? {
            self.pass().await?;
            self.tree_pass().await?;
        }
        Ok(())
    }

    async fn something_to_do(&self) -> Result<bool, Error> {
        let connection = self.database.connection();
        let pending = pending_record::Entity::find()
            .select_only()
            .column(pending_record::Column::Id)
            .limit(1)
            .into_tuple::<i64>()
            .one(connection)
            .await?;
        let head = record_head::Entity::find_by_id(1).one(connection).await?;
        let unlogged = head
            .is_some_and(|head| head.tree_size < head.audit_sequence || head.checkpoint.is_empty());
        Ok(pending.is_some() || unlogged)
    }

    async fn run(self, mut woken: mpsc::Receiver<()>, mut shutdown: watch::Receiver<bool>) {
        let mut last_pass = false;
        // At start, rows may be left by a stopped replica.
        let mut polled = true;
        // Records sequenced and not yet in the tree, and when it last grew:
        // the tree grows and is signed at most every TREE_INTERVAL, so that
        // writers share the database's writer with a few larger passes.
        let mut tree_owed = false;
        let mut tree_at = tokio::time::Instant::now();
        loop {
            let flushed = if polled {
                self.flush_if_pending().await
            } else {
                self.sequence_all().await
            };
            if last_pass || *shutdown.borrow() {
                // Whatever this pass missed, the draining server's own flush, the
                // next start or another replica sequences.
                return;
            }
            if let Err(error) = flushed {
                tracing::warn!(%error, "sequencing audit records and change events; trying again");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            tree_owed |= !polled;
            if tree_owed && tree_at.elapsed() >= TREE_INTERVAL {
                if let Err(error) = self.extend_all().await {
                    tracing::warn!(%error, "adding records to the audit log's tree");
                }
                (tree_owed, tree_at) = (false, tokio::time::Instant::now());
            }
            polled = false;
            let tree_wait = TREE_INTERVAL.saturating_sub(tree_at.elapsed());
            tokio::select! {
                wake = woken.recv() => last_pass = wake.is_none(),
                _ = tokio::time::sleep(tree_wait), if tree_owed => {}
                _ = tokio::time::sleep(POLL) => polled = true,
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One pass of the tree: the records sequenced since the last join it,
    /// and a checkpoint is signed; returns whether more wait.
    async fn tree_pass(&self) -> Result<bool, Error> {
        let last_signed = *self
            .last_signed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let keys = &self.keys;
        let (more, signed) = self
            .database
            .write(|transaction| {
                within(
                    transaction,
                    async move |transaction: &DatabaseTransaction| {
                        crate::logpass::extend_tree(transaction, keys, last_signed).await
                    },
                )
            })
            .await?;
        if signed.is_some() {
            *self
                .last_signed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = signed;
        }
        Ok(more)
    }

    /// One batch; returns whether there may be more to do.
    async fn pass(&self) -> Result<bool, Error> {
        let keys = &self.keys;
        let (more, last_sequence) = self
            .database
            .write(|transaction| {
                within(
                    transaction,
                    async move |transaction: &DatabaseTransaction| {
                        sequence_batch(transaction, keys).await
                    },
                )
            })
            .await?;
        if let Some(sequence) = last_sequence {
            self.committed.send_if_modified(|current| {
                let newer = sequence > *current;
                if newer {
                    *current = sequence;
                }
                newer
            });
        }
        Ok(more)
    }
}

/// Moves up to one batch of pending rows into the chain and the feed;
/// returns whether a full batch was taken, and the last change sequence.
async fn sequence_batch(
    transaction: &DatabaseTransaction,
    keys: &LogKeys,
) -> Result<(bool, Option<u64>), Error> {
    let head = record_head::Entity::find_by_id(1)
        .lock_exclusive()
        .one(transaction)
        .await?
        .ok_or_else(|| Error::internal("record_heads is empty"))?;
    // Read after the lock: a pass that held it before has removed its rows.
    let pending = pending_record::Entity::find()
        .order_by_asc(pending_record::Column::Id)
        .limit(BATCH)
        .all(transaction)
        .await?;
    if pending.is_empty() {
        return Ok((false, None));
    }
    let (genuine, refused) = screen(transaction, keys, &pending).await?;
    let chained = Chained::after(&head, &genuine)?;
    insert_audit_records(transaction, &chained.audit_rows).await?;
    insert_change_events(transaction, &chained.event_rows).await?;
    insert_refused(transaction, &refused).await?;
    // By id, not by range: a row with a lower id may commit after this read.
    let ids: Vec<i64> = pending.iter().map(|row| row.id).collect();
    for chunk in in_powers_of_two(&ids, ROWS_PER_INSERT) {
        pending_record::Entity::delete_many()
            .filter(pending_record::Column::Id.is_in(chunk.iter().copied()))
            .exec(transaction)
            .await?;
    }
    let head_update = Query::update()
        .table(record_head::Entity)
        .values([
            (
                record_head::Column::AuditSequence,
                chained.audit_sequence.into(),
            ),
            (record_head::Column::AuditHash, chained.hash.into()),
            (
                record_head::Column::ChangeSequence,
                chained.change_sequence.into(),
            ),
        ])
        .and_where(Expr::col(record_head::Column::Id).eq(1))
        .to_owned();
    let backend = transaction.get_database_backend();
    transaction
        .execute_raw(StatementBuilder::build(&head_update, &backend))
        .await?;
    Ok((
        pending.len() == BATCH as usize,
        u64::try_from(chained.change_sequence).ok(),
    ))
}

/// A batch of pending rows given their places: audit records chained after the
/// head, change events numbered after its last, and the head that follows.
struct Chained<'a> {
    /// Each record with the hash before it and its own.
    audit_rows: Vec<(AuditFields, String, String)>,
    event_rows: Vec<(i64, ChangeEvent, &'a pending_record::Model)>,
    audit_sequence: i64,
    hash: String,
    change_sequence: i64,
}

impl<'a> Chained<'a> {
    fn after(
        head: &record_head::Model,
        pending: &[&'a pending_record::Model],
    ) -> Result<Chained<'a>, Error> {
        let mut chained = Chained {
            audit_rows: Vec::with_capacity(pending.len()),
            event_rows: Vec::new(),
            audit_sequence: head.audit_sequence,
            hash: head.audit_hash.clone(),
            change_sequence: head.change_sequence,
        };
        for &row in pending {
            chained.audit_sequence += 1;
            let changes = PendingChanges::decode(row.changes.as_slice()).map_err(|e| {
                Error::internal(format!("pending record {} cannot be read: {e}", row.id))
            })?;
            let first_change = chained.change_sequence + 1;
            let sequences = (first_change..).map(|s| u64::try_from(s).unwrap_or(0));
            let events_digest = committed_events_digest(sequences.zip(&changes.events));
            let fields = AuditFields {
                sequence: chained.audit_sequence,
                occurred_at_micros: row.occurred_at_micros,
                actor: row.actor.clone(),
                agency: row.agency.clone(),
                method: row.method.clone(),
                resource_type: row.resource_type.clone(),
                resource_name: row.resource_name.clone(),
                request_id: row.request_id.clone(),
                request_digest: row.request_digest.clone(),
                certificate: row.certificate.clone(),
                first_change_sequence: if changes.events.is_empty() {
                    0
                } else {
                    first_change
                },
                change_count: i32::try_from(changes.events.len()).unwrap_or(i32::MAX),
                events_digest,
            };
            let next = chain_hash(&chained.hash, &fields);
            let prev_hash = std::mem::replace(&mut chained.hash, next);
            chained
                .audit_rows
                .push((fields, prev_hash, chained.hash.clone()));
            for event in changes.events {
                chained.change_sequence += 1;
                chained
                    .event_rows
                    .push((chained.change_sequence, event, row));
            }
        }
        Ok(chained)
    }
}

async fn insert_audit_records(
    transaction: &DatabaseTransaction,
    rows: &[(AuditFields, String, String)],
) -> Result<(), Error> {
    let backend = transaction.get_database_backend();
    for chunk in in_powers_of_two(rows, ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert.into_table(audit_record::Entity).columns([
            audit_record::Column::Sequence,
            audit_record::Column::OccurredAtMicros,
            audit_record::Column::Actor,
            audit_record::Column::Agency,
            audit_record::Column::Method,
            audit_record::Column::ResourceType,
            audit_record::Column::ResourceName,
            audit_record::Column::RequestId,
            audit_record::Column::RequestDigest,
            audit_record::Column::PrevHash,
            audit_record::Column::Hash,
            audit_record::Column::Certificate,
            audit_record::Column::FirstChangeSequence,
            audit_record::Column::ChangeCount,
            audit_record::Column::EventsDigest,
        ]);
        for (fields, prev_hash, hash) in chunk {
            insert.values_panic([
                fields.sequence.into(),
                fields.occurred_at_micros.into(),
                fields.actor.clone().into(),
                fields.agency.clone().into(),
                fields.method.clone().into(),
                fields.resource_type.clone().into(),
                fields.resource_name.clone().into(),
                fields.request_id.clone().into(),
                fields.request_digest.clone().into(),
                prev_hash.clone().into(),
                hash.clone().into(),
                fields.certificate.clone().into(),
                fields.first_change_sequence.into(),
                fields.change_count.into(),
                fields.events_digest.clone().into(),
            ]);
        }
        transaction
            .execute_raw(StatementBuilder::build(&insert, &backend))
            .await?;
    }
    Ok(())
}

async fn insert_change_events(
    transaction: &DatabaseTransaction,
    rows: &[(i64, ChangeEvent, &pending_record::Model)],
) -> Result<(), Error> {
    let backend = transaction.get_database_backend();
    for chunk in in_powers_of_two(rows, ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert.into_table(change_event::Entity).columns([
            change_event::Column::Sequence,
            change_event::Column::ResourceType,
            change_event::Column::ResourceName,
            change_event::Column::Action,
            change_event::Column::ResourceVersion,
            change_event::Column::Method,
            change_event::Column::RequestId,
            change_event::Column::Actor,
            change_event::Column::CommitTimeMicros,
            change_event::Column::StateDigest,
            change_event::Column::TraceParent,
            change_event::Column::Resource,
        ]);
        for (sequence, event, row) in chunk {
            insert.values_panic([
                (*sequence).into(),
                event.resource_type.clone().into(),
                event.resource_name.clone().into(),
                event.action.into(),
                event.resource_version.into(),
                row.method.clone().into(),
                row.request_id.clone().into(),
                row.actor.clone().into(),
                row.occurred_at_micros.into(),
                event.state_digest.clone().into(),
                event.trace_parent.clone().into(),
                event.resource.as_ref().map(Message::encode_to_vec).into(),
            ]);
        }
        transaction
            .execute_raw(StatementBuilder::build(&insert, &backend))
            .await?;
    }
    Ok(())
}
