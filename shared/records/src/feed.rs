use std::time::Duration;

use aimaq_error::Error;
use aimaq_proto::common::v1::ChangeEvent;
use aimaq_storage::Database;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::entities::change_event;

const BATCH: u64 = 500;
/// Other replicas commit without notifying this one: look anyway this often.
const POLL: Duration = Duration::from_secs(1);
const BUFFER: usize = 256;

/// Reads a service's change feed: replay after a sequence, then the live tail.
///
/// Every read is a query for `sequence > last delivered`, in order; a commit
/// notification (or the poll interval, for commits by other replicas) only says
/// when to query again. So the switch from replay to tail can neither lose nor
/// repeat an event.
#[derive(Clone)]
pub struct ChangeFeed {
    database: Database,
    committed: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

impl ChangeFeed {
    pub(crate) fn new(
        database: Database,
        committed: watch::Receiver<u64>,
        shutdown: watch::Receiver<bool>,
    ) -> ChangeFeed {
        ChangeFeed {
            database,
            committed,
            shutdown,
        }
    }

    /// Events after `after_sequence`, of the given resource types (all when empty),
    /// each wrapped in the service's response message by `wrap`. The stream ends
    /// when the receiver is dropped or the server shuts down.
    pub fn watch<T: Send + 'static>(
        self,
        after_sequence: u64,
        resource_types: Vec<String>,
        wrap: fn(ChangeEvent) -> T,
    ) -> ReceiverStream<Result<T, tonic::Status>> {
        let (sender, receiver) = mpsc::channel(BUFFER);
        tokio::spawn(self.pump(after_sequence, resource_types, wrap, sender));
        ReceiverStream::new(receiver)
    }

    async fn pump<T>(
        mut self,
        after_sequence: u64,
        resource_types: Vec<String>,
        wrap: fn(ChangeEvent) -> T,
        sender: mpsc::Sender<Result<T, tonic::Status>>,
    ) {
        let mut last = i64::try_from(after_sequence).unwrap_or(i64::MAX);
        loop {
            // Mark the notification seen before querying, so a commit racing the
            // query wakes the wait below.
            self.committed.borrow_and_update();
            let batch = match self.next_batch(last, &resource_types).await {
                Ok(batch) => batch,
                Err(error) => {
                    let _ = sender.send(Err(error.into_status())).await;
                    return;
                }
            };
            let caught_up = batch.len() < BATCH as usize;
            for (sequence, event) in batch {
                last = sequence;
                if sender.send(Ok(wrap(event))).await.is_err() {
                    return;
                }
            }
            if !caught_up {
                continue;
            }
            if *self.shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = self.committed.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = sender.closed() => return,
                _ = self.shutdown.changed() => return,
            }
        }
    }

    /// Up to one batch of events after `last`, with the raw sequence of each.
    async fn next_batch(
        &self,
        last: i64,
        resource_types: &[String],
    ) -> Result<Vec<(i64, ChangeEvent)>, Error> {
        let mut query = change_event::Entity::find()
            .filter(change_event::Column::Sequence.gt(last))
            .order_by_asc(change_event::Column::Sequence)
            .limit(BATCH);
        if !resource_types.is_empty() {
            query = query
                .filter(change_event::Column::ResourceType.is_in(resource_types.iter().cloned()));
        }
        let rows = query.all(self.database.connection()).await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.sequence, to_proto(row)))
            .collect())
    }
}

pub(crate) fn to_proto(row: change_event::Model) -> ChangeEvent {
    ChangeEvent {
        sequence: u64::try_from(row.sequence).unwrap_or(0),
        resource_type: row.resource_type,
        resource_name: row.resource_name,
        action: row.action,
        resource_version: row.resource_version,
        method: row.method,
        request_id: row.request_id,
        actor: row.actor,
        commit_time: Some(aimaq_proto::timestamp_from_micros(row.commit_time_micros)),
        state_digest: row.state_digest,
    }
}
