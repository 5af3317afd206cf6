//! Group commit for SQLite, which admits one writer at a time.
//!
//! Writers queue for the turn to write. While others are queued, a writer that
//! is done leaves its transaction open for the next one: each writer's work runs
//! in a savepoint of the shared transaction (rolled back alone when the work
//! fails), and the writer that finds nobody queued behind it, or fills the
//! batch, commits for all. Every writer returns only after the commit that holds
//! its work, with that commit's outcome. A turn then costs a savepoint and its
//! release instead of a connection check-out, `BEGIN` and `COMMIT`, and one
//! commit writes the pages a batch changed once.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use aimaq_error::Error;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard, watch};

/// Writers committed together at most.
const MAX_BATCH: usize = 64;
/// A writer whose batch is still open after this long commits it itself: the
/// writer expected to follow may have been cancelled while it queued.
const LINGER: Duration = Duration::from_millis(20);

/// The connection writes go through on one SQLite database, the turn to write,
/// and the batch open between turns.
#[derive(Debug)]
pub(crate) struct SqliteWriter {
    connection: DatabaseConnection,
    turn: Mutex<Option<Batch>>,
    queued: AtomicUsize,
    batches: AtomicU64,
}

#[derive(Debug)]
struct Batch {
    id: u64,
    transaction: DatabaseTransaction,
    members: usize,
    committed: watch::Sender<Option<Result<(), Error>>>,
}

/// Counts a writer as queued for as long as it waits for the turn, even when
/// its wait is cancelled.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(count: &'a AtomicUsize) -> Queued<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Queued(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SqliteWriter {
    pub fn new(connection: DatabaseConnection) -> SqliteWriter {
        SqliteWriter {
            connection,
            turn: Mutex::default(),
            queued: AtomicUsize::default(),
            batches: AtomicU64::default(),
        }
    }

    /// The connection writes go through.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Runs `work` once in the shared transaction: its result, once the batch
    /// holding it has committed.
    pub async fn write<T, F, Fut>(&self, work: &mut F) -> Result<T, Error>
    where
        F: FnMut(DatabaseTransaction) -> Fut,
        Fut: Future<Output = (DatabaseTransaction, Result<T, Error>)>,
    {
        let mut turn = {
            let _queued = Queued::new(&self.queued);
            self.turn.lock().await
        };
        if turn.is_none() {
            *turn = Some(Batch {
                id: self.batches.fetch_add(1, Ordering::Relaxed),
                transaction: begin_immediate(&self.connection).await?,
                members: 0,
                committed: watch::channel(None).0,
            });
        }
        let Some(batch) = turn.as_mut() else {
            return Err(Error::internal("no write batch is open"));
        };
        let id = batch.id;
        let mut committed = batch.committed.subscribe();
        // The batch stays in its slot while the work runs: if this writer is
        // cancelled, only its savepoint is rolled back, and the batch commits for
        // the others.
        let savepoint = match batch.transaction.begin().await {
            Ok(savepoint) => savepoint,
            Err(error) => return Err(abandon(turn, error.into()).await),
        };
        let (savepoint, outcome) = work(savepoint).await;
        let ended = match &outcome {
            Ok(_) => savepoint.commit().await,
            Err(_) => savepoint.rollback().await,
        };
        if let Err(error) = ended {
            // The shared transaction is in an unknown state: nothing in it commits.
            return Err(abandon(turn, error.into()).await);
        }
        let value = match outcome {
            Ok(value) => value,
            Err(error) => {
                self.end_turn(turn).await;
                return Err(error);
            }
        };
        if let Some(batch) = turn.as_mut() {
            batch.members += 1;
        }
        if let Some(result) = self.end_turn(turn).await {
            return result.map(|()| value);
        }
        loop {
            tokio::select! {
                outcome = async {
                    committed.wait_for(Option::is_some).await.ok().and_then(|seen| seen.clone())
                } => {
                    return match outcome {
                        Some(result) => result.map(|()| value),
                        None => Err(Error::internal("the write batch ended without an outcome")),
                    };
                }
                _ = tokio::time::sleep(LINGER) => {
                    let mut turn = self.turn.lock().await;
                    if turn.as_ref().is_some_and(|open| open.id == id)
                        && let Some(batch) = turn.take()
                    {
                        let result = commit(batch).await;
                        drop(turn);
                        return result.map(|()| value);
                    }
                }
            }
        }
    }

    /// Commits the open batch when nobody is queued behind this writer or it is
    /// full, returning the outcome; otherwise leaves it open for the next writer.
    async fn end_turn(&self, mut turn: MutexGuard<'_, Option<Batch>>) -> Option<Result<(), Error>> {
        let full = turn
            .as_ref()
            .is_some_and(|batch| batch.members >= MAX_BATCH);
        if self.queued.load(Ordering::SeqCst) > 0 && !full {
            return None;
        }
        let batch = turn.take()?;
        let result = commit(batch).await;
        drop(turn);
        Some(result)
    }
}

async fn begin_immediate(connection: &DatabaseConnection) -> Result<DatabaseTransaction, Error> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok(connection.begin_with_options(options).await?)
}

/// Commits the batch and tells its writers how it went. The commit runs as a task
/// of its own, so that a cancelled writer cannot leave it half done.
async fn commit(batch: Batch) -> Result<(), Error> {
    let committing = tokio::spawn(async move {
        let result = batch.transaction.commit().await.map_err(Error::from);
        batch.committed.send_replace(Some(result.clone()));
        result
    });
    committing.await.unwrap_or_else(|error| {
        Err(Error::internal(format!(
            "committing a write batch: {error}"
        )))
    })
}

/// Rolls the open batch back after `error` left it unusable; its writers get the
/// error, and so does the caller.
async fn abandon(mut turn: MutexGuard<'_, Option<Batch>>, error: Error) -> Error {
    if let Some(batch) = turn.take() {
        tracing::error!(%error, members = batch.members, "abandoning a write batch");
        batch.transaction.rollback().await.ok();
        batch.committed.send_replace(Some(Err(error.clone())));
    }
    error
}
