use std::sync::Arc;

use aimaq_testing::{Engine, TestDatabase, on_both_backends};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};

use super::*;

async fn value(tx: &DatabaseTransaction, backend: Engine) -> Result<i64, Error> {
    let sql = match backend {
        Engine::Postgres => "SELECT value FROM counter WHERE id = 1 FOR UPDATE",
        Engine::Sqlite => "SELECT value FROM counter WHERE id = 1",
    };
    let row = tx
        .query_one_raw(Statement::from_string(tx.get_database_backend(), sql))
        .await?
        .ok_or_else(|| Error::internal("no counter row"))?;
    Ok(row.try_get::<i64>("", "value")?)
}

async fn increment(tx: &DatabaseTransaction, backend: Engine) -> Result<i64, Error> {
    let current = value(tx, backend).await?;
    // Yield between read and write so unserialised writers would interleave.
    tokio::task::yield_now().await;
    tx.execute_unprepared(&format!(
        "UPDATE counter SET value = {} WHERE id = 1",
        current + 1
    ))
    .await?;
    Ok(current + 1)
}

/// A database holding one counter row at 0.
async fn counter_database(test: &TestDatabase) -> Database {
    let database = Database::connect(&test.url).await.unwrap();
    let connection = database.connection();
    connection
        .execute_unprepared("CREATE TABLE counter (id INTEGER PRIMARY KEY, value BIGINT NOT NULL)")
        .await
        .unwrap();
    connection
        .execute_unprepared("INSERT INTO counter (id, value) VALUES (1, 0)")
        .await
        .unwrap();
    database
}

/// Read-modify-write from many tasks at once loses no update.
async fn writers_are_serialised(test: TestDatabase) {
    let database = Arc::new(counter_database(&test).await);
    let backend = test.engine;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let database = database.clone();
            tokio::spawn(async move {
                database
                    .write(|tx| async move {
                        let result = increment(&tx, backend).await;
                        (tx, result)
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let total = database
        .write(|tx| async move {
            let result = value(&tx, backend).await;
            (tx, result)
        })
        .await
        .unwrap();
    assert_eq!(total, 40);
}

async fn read(tx: &DatabaseTransaction) -> i64 {
    let statement = Statement::from_string(
        tx.get_database_backend(),
        "SELECT value FROM counter WHERE id = 1",
    );
    let row = tx.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get::<i64>("", "value").unwrap()
}

/// A snapshot keeps seeing what was there when it first read, while writers go on.
async fn snapshots_do_not_see_later_writes(test: TestDatabase) {
    let database = counter_database(&test).await;
    let snapshot = database.begin_snapshot().await.unwrap();
    assert_eq!(read(&snapshot).await, 0);
    let backend = test.engine;
    database
        .write(|tx| async move {
            let result = increment(&tx, backend).await;
            (tx, result)
        })
        .await
        .unwrap();
    assert_eq!(read(&snapshot).await, 0);
    snapshot.commit().await.unwrap();
    let fresh = database.begin_snapshot().await.unwrap();
    assert_eq!(read(&fresh).await, 1);
}

/// An error rolls the whole transaction back.
async fn errors_roll_back(test: TestDatabase) {
    let database = note_database(&test).await;
    let outcome = note(&database, 1, true, false).await;
    assert!(matches!(outcome, Err(Error::InvalidArgument(_))));
    assert!(noted(&database).await.is_empty());
}

/// A conflict is retried until it succeeds; a persistent one ends as Conflict.
async fn conflicts_are_retried_a_bounded_number_of_times(test: TestDatabase) {
    let database = Database::connect(&test.url).await.unwrap();
    let mut runs = 0;
    let value = database
        .write(|tx| {
            runs += 1;
            let run = runs;
            async move {
                let result = if run < 3 {
                    Err(Error::Conflict("lost a race".into()))
                } else {
                    Ok(run)
                };
                (tx, result)
            }
        })
        .await
        .unwrap();
    assert_eq!(value, 3);

    let mut runs = 0;
    let outcome: Result<(), Error> = database
        .write(|tx| {
            runs += 1;
            async move { (tx, Err(Error::Conflict("always".into()))) }
        })
        .await;
    assert!(matches!(outcome, Err(Error::Conflict(_))));
    assert_eq!(runs, WRITE_ATTEMPTS);
}

/// A database with an empty `note` table.
async fn note_database(test: &TestDatabase) -> Arc<Database> {
    let database = Database::connect(&test.url).await.unwrap();
    database
        .connection()
        .execute_unprepared("CREATE TABLE note (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    Arc::new(database)
}

/// Notes `id` in a write; `fail` refuses after the insert, `stall` never ends.
async fn note(database: &Database, id: i64, fail: bool, stall: bool) -> Result<i64, Error> {
    database
        .write(|tx| async move {
            let inserted = tx
                .execute_unprepared(&format!("INSERT INTO note (id) VALUES ({id})"))
                .await;
            tokio::task::yield_now().await;
            if stall {
                std::future::pending::<()>().await;
            }
            let result = match inserted {
                Ok(_) if fail => Err(Error::invalid("id", "refused after a write")),
                Ok(_) => Ok(id),
                Err(error) => Err(error.into()),
            };
            (tx, result)
        })
        .await
}

async fn noted(database: &Database) -> Vec<i64> {
    let rows = database
        .connection()
        .query_all_raw(Statement::from_string(
            database.backend(),
            "SELECT CAST(id AS BIGINT) AS id FROM note ORDER BY id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<i64>("", "id").unwrap())
        .collect()
}

/// Writers that run together (on SQLite, in one batch): those that fail leave
/// nothing, the others all commit, and a write answered Ok is already visible to
/// other connections when it returns.
async fn a_failed_writer_rolls_back_alone(test: TestDatabase) {
    let database = note_database(&test).await;
    let writers: Vec<_> = (1..=60)
        .map(|id| {
            let database = database.clone();
            tokio::spawn(async move {
                let outcome = note(&database, id, id % 3 == 0, false).await;
                if outcome.is_ok() {
                    let seen = noted(&database).await;
                    assert!(seen.contains(&id), "{id} committed before its answer");
                }
                outcome.is_ok()
            })
        })
        .collect();
    let mut accepted = 0;
    for writer in writers {
        accepted += usize::from(writer.await.unwrap());
    }
    assert_eq!(accepted, 40);
    let expected: Vec<i64> = (1..=60).filter(|id| id % 3 != 0).collect();
    assert_eq!(noted(&database).await, expected);
}

/// A writer cancelled in the middle of its work takes only its own work with it.
async fn a_cancelled_writer_leaves_the_others_intact(test: TestDatabase) {
    let database = note_database(&test).await;
    let writers: Vec<_> = (1..=30)
        .map(|id| {
            let database = database.clone();
            tokio::spawn(async move {
                if id % 10 != 0 {
                    return note(&database, id, false, false).await.is_ok();
                }
                let stalled = note(&database, id, false, true);
                tokio::time::timeout(Duration::from_millis(100), stalled)
                    .await
                    .is_ok()
            })
        })
        .collect();
    for (index, writer) in writers.into_iter().enumerate() {
        let id = index as i64 + 1;
        assert_eq!(writer.await.unwrap(), id % 10 != 0, "writer {id}");
    }
    let expected: Vec<i64> = (1..=30).filter(|id| id % 10 != 0).collect();
    assert_eq!(noted(&database).await, expected);
    assert_eq!(note(&database, 100, false, false).await, Ok(100));
}

mod thing {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "thing")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub name: String,
        pub count: i64,
        pub owner: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A database holding the empty `thing` table.
async fn thing_database(test: &TestDatabase) -> Database {
    let database = Database::connect(&test.url).await.unwrap();
    database
        .connection()
        .execute_unprepared(
            "CREATE TABLE thing (id BIGINT PRIMARY KEY, name TEXT NOT NULL, count BIGINT NOT NULL, owner TEXT)",
        )
        .await
        .unwrap();
    database
}

/// `save_changes` writes the columns that changed and nothing else.
async fn only_changed_columns_are_written(test: TestDatabase) {
    use sea_orm::EntityTrait;
    let database = thing_database(&test).await;
    let db = database.connection();
    db.execute_unprepared("INSERT INTO thing (id, name, count) VALUES (1, 'a', 1)")
        .await
        .unwrap();
    let before = thing::Entity::find_by_id(1).one(db).await.unwrap().unwrap();
    // Someone else renames it after we read it; we change only the count.
    db.execute_unprepared("UPDATE thing SET name = 'z' WHERE id = 1")
        .await
        .unwrap();
    let after = thing::Model {
        count: 2,
        ..before.clone()
    };
    save_changes::<thing::ActiveModel>(db, before, after.clone())
        .await
        .unwrap();
    let stored = thing::Entity::find_by_id(1).one(db).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.count), ("z", 2));

    // Nothing changed: no statement at all, so a row gone meanwhile is no error.
    db.execute_unprepared("DELETE FROM thing WHERE id = 1")
        .await
        .unwrap();
    save_changes::<thing::ActiveModel>(db, after.clone(), after)
        .await
        .unwrap();
}

/// `changes_if_unchanged` writes only while the guard columns (nulls included)
/// and the key still hold what was read.
async fn guarded_changes_apply_only_to_the_row_as_read(test: TestDatabase) {
    use sea_orm::EntityTrait;
    use sea_orm::sea_query::Expr;
    let database = thing_database(&test).await;
    let db = database.connection();
    db.execute_unprepared("INSERT INTO thing (id, name, count) VALUES (1, 'a', 1), (2, 'b', 1)")
        .await
        .unwrap();
    let stored = async |id: i64| thing::Entity::find_by_id(id).one(db).await.unwrap();
    let guard = [thing::Column::Owner];
    let save = async |before: &thing::Model, count: i64| {
        let after = thing::Model {
            count,
            ..before.clone()
        };
        let update = changes_if_unchanged::<thing::ActiveModel>(before.clone(), after, &guard)
            .unwrap()
            .unwrap();
        let returned = update_together(db, vec![(update, Expr::val(1))])
            .await
            .unwrap();
        returned == vec![Some(1)]
    };

    // As read (no owner): written.
    let read = stored(1).await.unwrap();
    assert!(save(&read, 2).await);
    assert_eq!(stored(1).await.unwrap().count, 2);
    assert_eq!(stored(2).await.unwrap().count, 1, "only the row read");

    // Taken by someone after it was read: refused, and nothing written.
    let read = stored(1).await.unwrap();
    db.execute_unprepared("UPDATE thing SET owner = 'x' WHERE id = 1")
        .await
        .unwrap();
    assert!(!save(&read, 3).await);
    let now = stored(1).await.unwrap();
    assert_eq!((now.count, now.owner.as_deref()), (2, Some("x")));

    // The owner as read (not null) still holds; a column outside the guard moved.
    db.execute_unprepared("UPDATE thing SET name = 'z' WHERE id = 1")
        .await
        .unwrap();
    assert!(save(&now, 4).await);
    let now = stored(1).await.unwrap();
    assert_eq!((now.name.as_str(), now.count), ("z", 4));

    // Gone since it was read: refused.
    db.execute_unprepared("DELETE FROM thing WHERE id = 1")
        .await
        .unwrap();
    assert!(!save(&now, 5).await);
}

/// `update_together` sends its updates in one go and says, for each, what it
/// returned for the row it changed; values reach each update in order.
async fn updates_sent_together_report_each_row(test: TestDatabase) {
    use sea_orm::EntityTrait;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let database = thing_database(&test).await;
    let db = database.connection();
    db.execute_unprepared("INSERT INTO thing (id, name, count) VALUES (1, 'a', 1), (2, 'b', 1)")
        .await
        .unwrap();
    assert_eq!(update_together(db, Vec::new()).await.unwrap(), Vec::new());
    let stored = async |id: i64| {
        thing::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap()
    };
    let read = stored(1).await;
    let counted = |before: &thing::Model, count: i64| {
        let after = thing::Model {
            count,
            ..before.clone()
        };
        changes_if_unchanged::<thing::ActiveModel>(before.clone(), after, &[thing::Column::Owner])
            .unwrap()
            .unwrap()
    };
    let stale = thing::Model {
        owner: Some("someone".into()),
        ..stored(2).await
    };
    let renamed = Query::update()
        .table(thing::Entity)
        .value(thing::Column::Name, "o'neil; --")
        .and_where(Expr::col(thing::Column::Id).eq(2))
        .to_owned();
    let returned = update_together(
        db,
        vec![
            (counted(&read, 7), Expr::col(thing::Column::Count)),
            (counted(&stale, 8), Expr::col(thing::Column::Count)),
            (renamed, Expr::col(thing::Column::Id).mul(10)),
        ],
    )
    .await
    .unwrap();
    assert_eq!(returned, vec![Some(7), None, Some(20)]);
    let (one, two) = (stored(1).await, stored(2).await);
    assert_eq!((one.count, one.name.as_str()), (7, "a"));
    assert_eq!((two.count, two.name.as_str()), (1, "o'neil; --"));
    // Nothing changes: no update to send.
    assert!(
        changes_if_unchanged::<thing::ActiveModel>(one.clone(), one, &[])
            .unwrap()
            .is_none()
    );
}

on_both_backends!(
    updates_sent_together_report_each_row,
    only_changed_columns_are_written,
    guarded_changes_apply_only_to_the_row_as_read,
    writers_are_serialised,
    snapshots_do_not_see_later_writes,
    errors_roll_back,
    conflicts_are_retried_a_bounded_number_of_times,
    a_failed_writer_rolls_back_alone,
    a_cancelled_writer_leaves_the_others_intact,
);

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys_and_bounded_memory() {
    let test = TestDatabase::sqlite().await;
    let database = Database::connect(&test.url).await.unwrap();
    let pragma = |name: &'static str| {
        let connection = database.connection().clone();
        async move {
            let row = connection
                .query_one_raw(Statement::from_string(
                    DatabaseBackend::Sqlite,
                    format!("PRAGMA {name}"),
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
                .unwrap()
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("foreign_keys").await, "1");
    assert_eq!(pragma("busy_timeout").await, "10000");
    assert_eq!(pragma("soft_heap_limit").await, (4 << 20).to_string());
}

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let outcome = Database::connect("postgres://nobody@127.0.0.1:1/none").await;
    assert!(matches!(outcome, Err(Error::Unavailable(_))));
}

/// Replicas that start together migrate one after another, not in a race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_once() {
    use sea_orm_migration::prelude::*;

    struct CreateNote;

    impl MigrationName for CreateNote {
        fn name(&self) -> &str {
            "m0000_create_note"
        }
    }

    #[sea_orm_migration::async_trait::async_trait]
    impl MigrationTrait for CreateNote {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table("note")
                        .col(ColumnDef::new("id").integer().primary_key())
                        .to_owned(),
                )
                .await
        }
    }

    struct Migrator;

    #[sea_orm_migration::async_trait::async_trait]
    impl MigratorTrait for Migrator {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(CreateNote)]
        }
    }

    let Some(test) = TestDatabase::postgres().await else {
        return;
    };
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            let url = test.url.clone();
            tokio::spawn(async move {
                let database = Database::connect(&url).await.unwrap();
                database.migrate::<Migrator>().await
            })
        })
        .collect();
    for replica in replicas {
        replica.await.unwrap().unwrap();
    }
}

/// Connections the server dropped while they sat in the pool are found out
/// before use: reads and writes after that succeed.
#[tokio::test]
async fn connections_dropped_while_idle_are_replaced() {
    let Some(test) = TestDatabase::postgres().await else {
        return;
    };
    let database = Arc::new(counter_database(&test).await);
    // Several connections in the pool, then idle.
    let reads = |database: Arc<Database>| async move {
        let reads: Vec<_> = (0..4)
            .map(|_| {
                let database = database.clone();
                tokio::spawn(async move {
                    database
                        .connection()
                        .query_one_raw(Statement::from_string(
                            DatabaseBackend::Postgres,
                            "SELECT value FROM counter WHERE id = 1",
                        ))
                        .await
                        .map_err(Error::from)
                })
            })
            .collect();
        for read in reads {
            read.await.unwrap().unwrap();
        }
    };
    reads(database.clone()).await;
    let other = Database::connect(&test.url).await.unwrap();
    let dropped = other
        .connection()
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT count(pg_terminate_backend(pid)) AS dropped FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "dropped")
        .unwrap();
    assert!(dropped >= 1, "no connection was dropped");
    tokio::time::sleep(crate::IDLE_BEFORE_PING + Duration::from_millis(200)).await;
    reads(database.clone()).await;
    let backend = test.engine;
    let written = database
        .write(|tx| async move {
            let result = increment(&tx, backend).await;
            (tx, result)
        })
        .await;
    assert_eq!(written, Ok(1));
}

/// The backend process a transaction runs in.
async fn backend_pid(tx: &DatabaseTransaction) -> Result<i32, Error> {
    let row = tx
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pg_backend_pid() AS pid",
        ))
        .await?
        .ok_or_else(|| Error::internal("no pid"))?;
    Ok(row.try_get::<i32>("", "pid")?)
}

/// On PostgreSQL, passes run on two connections of their own, never on the
/// shared pool's, so the statements they prepare are kept on those two only;
/// what they write is the same database's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_run_on_connections_of_their_own() {
    let Some(test) = TestDatabase::postgres().await else {
        return;
    };
    let database = Arc::new(counter_database(&test).await);
    let passes = Arc::new(database.for_passes());
    // With `together`, each task holds its transaction until all have begun,
    // so that the pool must hand out a connection to each.
    let pids_of = |database: Arc<Database>, tasks: usize, together: bool| async move {
        let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
        let running: Vec<_> = (0..tasks)
            .map(|_| {
                let (database, barrier) = (database.clone(), barrier.clone());
                tokio::spawn(async move {
                    database
                        .write(|tx| {
                            let barrier = barrier.clone();
                            async move {
                                let pid = backend_pid(&tx).await;
                                if together {
                                    barrier.wait().await;
                                }
                                (tx, pid)
                            }
                        })
                        .await
                })
            })
            .collect();
        let mut pids = std::collections::BTreeSet::new();
        for task in running {
            pids.insert(task.await.unwrap().unwrap());
        }
        pids
    };
    let shared = pids_of(database.clone(), 4, true).await;
    let own = pids_of(passes.clone(), 8, false).await;
    assert_eq!(shared.len(), 4, "the shared pool held four at once");
    assert!(own.len() <= 2, "passes used {own:?}");
    assert!(own.is_disjoint(&shared), "{own:?} and {shared:?}");
    let backend = test.engine;
    passes
        .write(|tx| async move {
            let result = increment(&tx, backend).await;
            (tx, result)
        })
        .await
        .unwrap();
    let seen = database
        .write(|tx| async move {
            let result = value(&tx, backend).await;
            (tx, result)
        })
        .await;
    assert_eq!(seen, Ok(1));
}
