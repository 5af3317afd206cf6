//! Storage shared by every service: connect to SQLite (embedded default) or
//! PostgreSQL (production) by URL, run migrations safely, and run write
//! transactions that serialise correctly on both backends.
//!
//! Writers: on SQLite they take turns on one connection, in a shared `IMMEDIATE`
//! transaction that commits for a batch of them, each writer's work in a
//! savepoint of its own (see `batch.rs`). On PostgreSQL each write runs
//! at READ COMMITTED and the code inside locks the rows its checks depend on
//! (`SELECT … FOR UPDATE`, which sea-orm's `lock_exclusive` emits there and omits
//! on SQLite). Serialization failures, deadlocks and lost idempotency races come
//! back as [`Error::Conflict`] and the transaction runs again, a bounded number of
//! times.

mod batch;
pub mod chunks;
pub mod paging;
pub mod subtree;
mod text_enum;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use aimaq_error::Error;
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, Query, SqliteQueryBuilder, UnionType, UpdateStatement,
    Values, WithClause,
};
use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, IsolationLevel, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::batch::SqliteWriter;

pub use sea_orm;

/// How many times a conflicting transaction is run before the caller gets ABORTED.
const WRITE_ATTEMPTS: u32 = 8;
/// A PostgreSQL connection idle this long is pinged before it is used again. A
/// server that restarts, or a network that drops connections, leaves them idle
/// longer than this; under load a connection is back in use within milliseconds.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// A service's database.
#[derive(Clone, Debug)]
pub struct Database {
    connection: DatabaseConnection,
    /// On SQLite, the connection writes go through, the turn to write and the
    /// batch writers commit together (see `batch.rs`). SQLite admits one writer
    /// at a time; queueing writers here, rather than letting them contend for the
    /// file lock, spares them its busy-wait sleeps. (Other processes still meet
    /// the busy timeout.)
    writer: Option<Arc<SqliteWriter>>,
    /// On PostgreSQL, a pool of its own for passes that run one at a time
    /// (see [`Database::for_passes`]); opened at its first use.
    passes: Option<DatabaseConnection>,
}

/// Runs `work` on a borrowed transaction and hands the transaction back with the
/// result: the shape [`Records::apply`] and [`Database::write`] expect.
pub async fn within<T>(
    transaction: DatabaseTransaction,
    work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, Error>,
) -> (DatabaseTransaction, Result<T, Error>) {
    let result = work(&transaction).await;
    (transaction, result)
}

impl Database {
    /// Connects by URL: `sqlite://file.sqlite?mode=rwc`, `sqlite::memory:` or
    /// `postgres://…`. SQLite runs in WAL mode with a busy timeout and foreign keys.
    pub async fn connect(url: &str) -> Result<Database, Error> {
        let sqlite = url.starts_with("sqlite:");
        let in_memory = url.contains(":memory:");
        if sqlite {
            // Validate before handing over: sqlx would otherwise report a vague error.
            SqliteConnectOptions::from_str(url)
                .map_err(|e| Error::internal(format!("invalid SQLite URL {url:?}: {e}")))?;
        }
        let (connection, writer, passes) = match (sqlite, in_memory) {
            (false, _) => (
                open(url, Pool::Shared(32)).await?,
                None,
                Some(open(url, Pool::Passes).await?),
            ),
            // SQLite drops a connection's page cache whenever another connection
            // has written, so writes get a connection of their own, whose cache
            // stays warm. Four readers keep two cores busy; each more is a thread
            // with its own C heap arena.
            (true, false) => {
                let writes = open(url, Pool::Writes).await?;
                (open(url, Pool::Shared(4)).await?, Some(writes), None)
            }
            // An in-memory database exists per connection: keep exactly one, for all.
            (true, true) => {
                let only = open(url, Pool::Shared(1)).await?;
                (only.clone(), Some(only), None)
            }
        };
        let writer = writer.map(|writes| Arc::new(SqliteWriter::new(writes)));
        Ok(Database {
            connection,
            writer,
            passes,
        })
    }

    /// The same database for a background pass that runs one at a time (the
    /// audit log's sequencer). On PostgreSQL it reads and writes through two
    /// connections of its own: each connection prepares and keeps the
    /// statements it runs, and a pass's multi-row statements are large, so in
    /// the shared pool every one of its 32 connections came to keep them
    /// (17 MiB of grants' heap at a tenth of national scale, with the buffers
    /// they had grown, which connections now give back). On SQLite writes
    /// already have their own connection.
    pub fn for_passes(&self) -> Database {
        match &self.passes {
            Some(passes) => Database {
                connection: passes.clone(),
                writer: None,
                passes: None,
            },
            None => self.clone(),
        }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.connection.get_database_backend()
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock makes replicas
    /// that start together migrate one after another.
    pub async fn migrate<M: MigratorTrait>(&self) -> Result<(), Error> {
        let postgres = self.backend() == DatabaseBackend::Postgres;
        // One transaction: the lock is held through the migrations and released at commit.
        let session = self.connection.begin().await?;
        if postgres {
            session
                .execute_unprepared("SELECT pg_advisory_xact_lock(7423160419)")
                .await?;
        }
        let result = M::up(&session, None).await;
        match result {
            Ok(()) => session.commit().await.map_err(Error::from),
            Err(error) => {
                session.rollback().await.ok();
                Err(Error::internal(format!("migration failed: {error}")))
            }
        }
    }

    /// Runs `work` in a write transaction, committing on `Ok` and rolling back on
    /// `Err`. `work` runs again (up to a bound) when it loses a race
    /// ([`Error::Conflict`]), so it must not have effects outside the transaction.
    pub async fn write<T, F, Fut>(&self, mut work: F) -> Result<T, Error>
    where
        F: FnMut(DatabaseTransaction) -> Fut,
        Fut: Future<Output = (DatabaseTransaction, Result<T, Error>)>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match &self.writer {
                Some(writer) => writer.write(&mut work).await,
                None => self.write_alone(&mut work).await,
            };
            match outcome {
                Err(Error::Conflict(reason)) if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(attempt, %reason, "transaction conflict; running it again");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// One attempt in a transaction of its own (PostgreSQL).
    async fn write_alone<T, F, Fut>(&self, work: &mut F) -> Result<T, Error>
    where
        F: FnMut(DatabaseTransaction) -> Fut,
        Fut: Future<Output = (DatabaseTransaction, Result<T, Error>)>,
    {
        let transaction = self.connection.begin().await?;
        let (transaction, outcome) = work(transaction).await;
        match outcome {
            Ok(value) => transaction
                .commit()
                .await
                .map(|()| value)
                .map_err(Error::from),
            Err(error) => {
                transaction.rollback().await.ok();
                Err(error)
            }
        }
    }

    /// A read-only transaction that sees one consistent snapshot for as long as it
    /// lives, for reads that span many queries (exports): REPEATABLE READ on
    /// PostgreSQL; on SQLite (WAL) a deferred transaction, whose snapshot is fixed
    /// by its first read.
    pub async fn begin_snapshot(&self) -> Result<DatabaseTransaction, Error> {
        let options = match self.backend() {
            DatabaseBackend::Postgres => TransactionOptions {
                isolation_level: Some(IsolationLevel::RepeatableRead),
                access_mode: Some(AccessMode::ReadOnly),
                ..TransactionOptions::default()
            },
            _ => TransactionOptions::default(),
        };
        Ok(self.connection.begin_with_options(options).await?)
    }

    /// Whether the database answers a ping within a second: what a backend's
    /// health reports.
    pub async fn answers(&self) -> bool {
        let ping = self.connection.ping();
        match tokio::time::timeout(Duration::from_secs(1), ping).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::debug!(%error, "the database does not answer");
                false
            }
            Err(_) => false,
        }
    }

    /// Closes the pools, for a clean exit.
    pub async fn close(self) {
        let writes = self.writer.map(|writer| writer.connection().clone());
        for pool in [Some(self.connection), writes, self.passes]
            .into_iter()
            .flatten()
        {
            // Closing a pool twice (in memory, where they are one) is harmless.
            if let Err(error) = pool.close().await {
                tracing::warn!(%error, "closing the database");
            }
        }
    }
}

/// The memory all SQLite connections of a process may hold, in bytes. Page
/// caches are most of it; a page that no longer fits is read again from the
/// operating system's file cache, which keeps the database file anyway. At
/// national scale 4 MiB read as fast as 16 and kept each server 16–24 MiB
/// smaller; the writer's cache shrinks too, which costs `SubmitProtocol`
/// about a sixth of its throughput (BENCHMARKS.md, 2026-12-07): memory
/// chosen over write speed.
const SQLITE_MEMORY_LIMIT: i64 = 4 << 20;

/// What a pool is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pool {
    /// Reads, and on PostgreSQL writes: up to this many connections.
    Shared(u32),
    /// SQLite's writes: one connection, kept open, with a larger page cache.
    Writes,
    /// PostgreSQL's background passes: two connections, opened when first used.
    Passes,
}

/// A pool to the database at `url`; SQLite in WAL mode with a busy timeout and
/// foreign keys.
async fn open(url: &str, pool: Pool) -> Result<DatabaseConnection, Error> {
    let connections = match pool {
        Pool::Shared(connections) => connections,
        Pool::Writes => 1,
        Pool::Passes => 2,
    };
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(connections)
        .connect_lazy(pool == Pool::Passes);
    if url.starts_with("sqlite:") {
        // sqlx pings a connection on every checkout by default: one more round
        // trip (on SQLite, to the connection's thread) before each query. An
        // embedded file has no peer to drop the connection.
        options.test_before_acquire(false);
        // A lone connection stays open: in memory, it is the database.
        if connections == 1 {
            options.min_connections(1);
        }
        options.map_sqlx_sqlite_opts(move |opts| {
            let opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Process-wide: past it, SQLite reuses its least recently used
                // cached pages (of any connection) rather than allocate more.
                .pragma("soft_heap_limit", SQLITE_MEMORY_LIMIT.to_string());
            if pool == Pool::Writes {
                // The writer's pages stay cached (up to 64 MiB rather than 2),
                // within the process's limit above.
                opts.pragma("cache_size", "-65536")
            } else {
                opts
            }
        });
    } else {
        // A connection in use is known to be alive; only one left idle this long
        // may have been dropped by the server or the network, and is pinged
        // before it is handed out.
        options.test_before_acquire_if_idle_for(IDLE_BEFORE_PING);
        // A connection's buffers grow to the largest message it has sent or
        // received, and stay so: one import of the classifier left 7.7 MiB of
        // write buffer on the connection that wrote its pending record, and
        // 3.9 MiB of read buffer on the sequencer's. Each connection gives
        // them back as it returns to its pool; buffers of the usual size are
        // left as they are, so this costs the usual query nothing.
        options.map_sqlx_postgres_pool_opts(|pool| {
            pool.after_release(|connection, _| {
                Box::pin(async move {
                    connection.shrink_buffers();
                    Ok(true)
                })
            })
        });
    }
    sea_orm::Database::connect(options).await.map_err(|error| {
        tracing::error!(%error, "cannot connect to the database");
        Error::Unavailable(format!("cannot connect to the database: {error}"))
    })
}

/// Jittered exponential backoff: 2, 4, 8 … ms, up to 128 ms, times 0.5–1.5.
fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(7);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    let jitter = 500 + nanos % 1000;
    Duration::from_micros(base * jitter)
}

#[cfg(test)]
mod tests;

/// Writes every column of `model`: inserts it when `created`, else updates the
/// row with its key.
pub async fn save<A>(db: &impl ConnectionTrait, model: A, created: bool) -> Result<(), Error>
where
    A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    use sea_orm::EntityTrait;
    let model = model.reset_all();
    if created {
        A::Entity::insert(model).exec_without_returning(db).await?;
    } else {
        // Without RETURNING, sea-orm would read the row back on SQLite: a second
        // round trip for a row the caller already has.
        A::Entity::update(model).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Updates the row `before` was read from with the columns `after` changes, by
/// key; nothing when nothing changed. Indexes on unchanged columns are left alone.
pub async fn save_changes<A>(
    db: &impl ConnectionTrait,
    before: <A::Entity as sea_orm::EntityTrait>::Model,
    after: <A::Entity as sea_orm::EntityTrait>::Model,
) -> Result<(), Error>
where
    A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    use sea_orm::{EntityTrait, IntoActiveModel, Iterable};
    let mut update = before.into_active_model();
    let after = after.into_active_model();
    for column in <A::Entity as EntityTrait>::Column::iter() {
        if let Some(value) = after.get(column).into_value() {
            update.set_if_not_equals(column, value);
        }
    }
    if update.is_changed() {
        A::Entity::update(update).exec_without_returning(db).await?;
    }
    Ok(())
}

/// As [`save_changes`], for a row read outside the transaction, as an `UPDATE`
/// to send with others ([`update_together`]): it applies only while the row
/// still holds what `before` read in the `guard` columns (and its key), and
/// changes no row when the row has changed since or is gone. `None` when `after`
/// changes nothing, so there is nothing to write or check.
pub fn changes_if_unchanged<A>(
    before: <A::Entity as sea_orm::EntityTrait>::Model,
    after: <A::Entity as sea_orm::EntityTrait>::Model,
    guard: &[<A::Entity as sea_orm::EntityTrait>::Column],
) -> Result<Option<UpdateStatement>, Error>
where
    A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A> + Clone,
{
    use sea_orm::{
        ColumnTrait, EntityTrait, IntoActiveModel, Iterable, PrimaryKeyToColumn, QueryFilter,
        QueryTrait,
    };
    let read = before.clone().into_active_model();
    let mut update = before.into_active_model();
    let after = after.into_active_model();
    for column in <A::Entity as EntityTrait>::Column::iter() {
        if let Some(value) = after.get(column).into_value() {
            update.set_if_not_equals(column, value);
        }
    }
    if !update.is_changed() {
        return Ok(None);
    }
    let keys = <A::Entity as EntityTrait>::PrimaryKey::iter().map(|key| key.into_column());
    let mut query = A::Entity::update_many().set(update);
    for column in keys.chain(guard.iter().copied()) {
        let Some(value) = read.get(column).into_value() else {
            return Err(Error::internal("a guard column was not read"));
        };
        query = query.filter(if value.is_some() {
            column.eq(value)
        } else {
            column.is_null()
        });
    }
    Ok(Some(query.into_query()))
}

/// Sends conditional updates together, in one round trip: on PostgreSQL one
/// statement with an update per common table expression, on SQLite a script.
/// For each update, what `returned` (an integer expression over its row) gives
/// for the row it changed, or `None` when it changed none. Each update changes
/// at most one row.
pub async fn update_together(
    db: &impl ConnectionTrait,
    updates: Vec<(UpdateStatement, Expr)>,
) -> Result<Vec<Option<i64>>, Error> {
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let count = updates.len();
    let backend = db.get_database_backend();
    let tagged = updates
        .into_iter()
        .enumerate()
        .map(|(n, (mut update, returned))| {
            // As BIGINT, whatever the expression's own integer type.
            let returned = sea_orm::sea_query::ExprTrait::cast_as(returned, Alias::new("BIGINT"));
            update.returning(Query::returning().exprs([Expr::val(n as i64), returned]));
            (n, update)
        });
    let statement = if backend == DatabaseBackend::Postgres {
        let mut with = WithClause::new();
        let mut all = Query::select();
        for (n, update) in tagged {
            let table = Alias::new(format!("update_{n}"));
            with.cte(
                CommonTableExpression::new()
                    .query(update)
                    .columns([Alias::new("n"), Alias::new("returned")])
                    .table_name(table.clone())
                    .to_owned(),
            );
            let rows = Query::select()
                .columns([Alias::new("n"), Alias::new("returned")])
                .from(table)
                .to_owned();
            if n == 0 {
                all = rows;
            } else {
                all.union(UnionType::All, rows);
            }
        }
        backend.build(&all.with(with))
    } else {
        // One script, its values bound in order, so that its text (and the
        // statements SQLite prepares from it) stays the same from call to call.
        let mut script = Vec::new();
        let mut values = Vec::new();
        for (_, update) in tagged {
            let (sql, bound) = update.build(SqliteQueryBuilder);
            script.push(sql);
            values.extend(bound);
        }
        Statement::from_sql_and_values(backend, script.join("; "), Values(values))
    };
    let mut returned = vec![None; count];
    for row in db.query_all_raw(statement).await? {
        let n = row.try_get_by_index::<i64>(0)?;
        let value = row.try_get_by_index::<i64>(1)?;
        let slot = usize::try_from(n)
            .ok()
            .and_then(|n| returned.get_mut(n))
            .ok_or_else(|| Error::internal("an update returned a row it was not sent"))?;
        if slot.replace(value).is_some() {
            return Err(Error::internal("an update changed more than one row"));
        }
    }
    Ok(returned)
}

/// The id in a resource name `{collection}/{id}` sent as the request's `field`.
pub fn id_from_name(text: &str, collection: &str, field: &str) -> Result<i64, Error> {
    text.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::invalid(field, format!("must be {collection}/{{id}}")))
}

/// The row with this numeric key, locked for the rest of the transaction when
/// `lock` (on PostgreSQL).
pub async fn find_by_id<E>(
    db: &impl ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<Option<E::Model>, Error>
where
    E: sea_orm::EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<i64>,
{
    use sea_orm::QuerySelect;
    let mut query = E::find_by_id(id);
    if lock {
        query = query.lock_exclusive();
    }
    Ok(query.one(db).await?)
}
