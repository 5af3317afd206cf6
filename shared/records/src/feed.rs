//! A service's change feed, read once per replica and fanned out to its streams.
//!
//! One task per replica (the tail) queries for events after the last it read,
//! whenever a commit is announced and every [`POLL`] for other replicas'
//! commits, and broadcasts each batch to the open `WatchChanges` streams. So
//! the feed's queries a second do not grow with the number of watchers: a
//! stream queries the database only to replay what came before it subscribed,
//! and again if it fell so far behind that the broadcast dropped batches for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aimaq_error::Error;
use aimaq_proto::common::v1::ChangeEvent;
use aimaq_storage::Database;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::entities::change_event;

const BATCH: u64 = 500;
/// Other replicas commit without notifying this one: look anyway this often.
const POLL: Duration = Duration::from_secs(1);
/// After a failed read of the tail, the next is tried after this long.
const RETRY: Duration = Duration::from_millis(200);
/// Events queued for one stream's client.
const BUFFER: usize = 256;
/// Batches the broadcast keeps for streams that are behind; a stream further
/// behind replays from the database.
const BATCHES_KEPT: usize = 128;

/// Events in feed order, with the raw sequence of each.
type Batch = Arc<Vec<(i64, ChangeEvent)>>;

/// Reads a service's change feed: replay after a sequence, then the live tail.
///
/// Replay is a query for `sequence > last delivered`, in order, until a batch
/// comes back short; the live part is the tail's broadcast, subscribed to
/// before the replay began, less what the replay already delivered. So the
/// switch from one to the other can neither lose nor repeat an event.
#[derive(Clone)]
pub struct ChangeFeed {
    database: Database,
    tail: broadcast::Sender<Batch>,
    shutdown: watch::Receiver<bool>,
    queries: Arc<FeedQueries>,
}

/// The feed's queries since the replica started, by reader (also the metric
/// `aimaq_feed_queries_total`).
#[derive(Debug, Default)]
pub struct FeedQueries {
    /// The tail's: about one per commit and one per poll, however many streams.
    pub tail: AtomicU64,
    /// The streams' own: replays after subscribing or falling behind.
    pub replay: AtomicU64,
}

impl ChangeFeed {
    /// Starts this replica's tail after `sequence`, the last one sequenced;
    /// it ends with `shutdown` or when `committed`'s sender is gone.
    pub(crate) fn start(
        database: Database,
        committed: watch::Receiver<u64>,
        shutdown: watch::Receiver<bool>,
        sequence: i64,
    ) -> ChangeFeed {
        let (tail, _) = broadcast::channel(BATCHES_KEPT);
        let feed = ChangeFeed {
            database,
            tail,
            shutdown,
            queries: Arc::default(),
        };
        tokio::spawn(feed.clone().follow(committed, sequence));
        feed
    }

    /// The tail: reads each batch once and broadcasts it to every stream.
    async fn follow(mut self, mut committed: watch::Receiver<u64>, mut last: i64) {
        loop {
            // Mark the notification seen before querying, so a commit racing the
            // query wakes the wait below.
            committed.borrow_and_update();
            match self.next_batch(Reader::Tail, last, &[]).await {
                Ok(batch) => {
                    let full = batch.len() == BATCH as usize;
                    if let Some((sequence, _)) = batch.last() {
                        last = *sequence;
                        // No stream open is not an error: the batch had no readers.
                        let _ = self.tail.send(Arc::new(batch));
                    }
                    if full {
                        continue;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "reading the change feed's tail");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
            if *self.shutdown.borrow() {
                return;
            }
            tokio::select! {
                changed = committed.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(POLL) => {}
                _ = self.shutdown.changed() => return,
            }
        }
    }

    /// The feed's queries so far.
    pub fn queries(&self) -> &FeedQueries {
        &self.queries
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
        let stream = Stream {
            last: i64::try_from(after_sequence).unwrap_or(i64::MAX),
            resource_types,
            wrap,
            sender,
        };
        tokio::spawn(self.pump(stream));
        ReceiverStream::new(receiver)
    }

    async fn pump<T>(mut self, mut stream: Stream<T>) {
        loop {
            let live = self.tail.subscribe();
            if let Err(error) = self.replay(&mut stream).await {
                let _ = stream.sender.send(Err(error.into_status())).await;
                return;
            }
            if *self.shutdown.borrow() {
                return;
            }
            match self.follow_live(live, &mut stream).await {
                Behind::Replay => continue,
                Behind::Done => return,
            }
        }
    }

    /// Sends what the database holds after the stream's last event, until
    /// caught up or the client is gone.
    async fn replay<T>(&self, stream: &mut Stream<T>) -> Result<(), Error> {
        loop {
            let batch = self
                .next_batch(Reader::Replay, stream.last, &stream.resource_types)
                .await?;
            let caught_up = batch.len() < BATCH as usize;
            for (sequence, event) in batch {
                if !stream.send(sequence, event).await {
                    return Ok(());
                }
            }
            if caught_up || stream.sender.is_closed() {
                return Ok(());
            }
        }
    }

    /// Forwards the tail's batches until the client or the server goes, or the
    /// stream falls behind what the broadcast keeps.
    async fn follow_live<T>(
        &mut self,
        mut live: broadcast::Receiver<Batch>,
        stream: &mut Stream<T>,
    ) -> Behind {
        loop {
            let received = tokio::select! {
                received = live.recv() => received,
                _ = stream.sender.closed() => return Behind::Done,
                _ = self.shutdown.changed() => return Behind::Done,
            };
            let batch = match received {
                Ok(batch) => batch,
                Err(RecvError::Lagged(_)) => return Behind::Replay,
                Err(RecvError::Closed) => return Behind::Done,
            };
            for (sequence, event) in batch.iter() {
                if *sequence <= stream.last || !stream.wants(event) {
                    continue;
                }
                if !stream.send(*sequence, event.clone()).await {
                    return Behind::Done;
                }
            }
        }
    }

    /// Up to one batch of events after `last`, with the raw sequence of each.
    async fn next_batch(
        &self,
        reader: Reader,
        last: i64,
        resource_types: &[String],
    ) -> Result<Vec<(i64, ChangeEvent)>, Error> {
        let (label, count) = match reader {
            Reader::Tail => ("tail", &self.queries.tail),
            Reader::Replay => ("replay", &self.queries.replay),
        };
        metrics::counter!("aimaq_feed_queries_total", "reader" => label).increment(1);
        count.fetch_add(1, Ordering::Relaxed);
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

/// Who reads the feed: the replica's tail or one stream replaying.
#[derive(Clone, Copy)]
enum Reader {
    Tail,
    Replay,
}

/// Why a stream stopped following the tail.
enum Behind {
    /// It missed batches: replay from the database.
    Replay,
    /// Its client or the server is gone.
    Done,
}

/// One open `WatchChanges` stream: its filter and what it delivered last.
struct Stream<T> {
    last: i64,
    resource_types: Vec<String>,
    wrap: fn(ChangeEvent) -> T,
    sender: mpsc::Sender<Result<T, tonic::Status>>,
}

impl<T> Stream<T> {
    fn wants(&self, event: &ChangeEvent) -> bool {
        self.resource_types.is_empty() || self.resource_types.contains(&event.resource_type)
    }

    /// Delivers one event; false when the client is gone.
    async fn send(&mut self, sequence: i64, event: ChangeEvent) -> bool {
        self.last = sequence;
        self.sender.send(Ok((self.wrap)(event))).await.is_ok()
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
        trace_parent: row.trace_parent,
        resource: crate::resources::stored_resource(row.resource),
    }
}
