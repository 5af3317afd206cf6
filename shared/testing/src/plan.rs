//! Whether a query is answered from indexes: the planner's own account, on
//! SQLite (`EXPLAIN QUERY PLAN`, no `SCAN` step) and on PostgreSQL (`EXPLAIN`
//! with `enable_seqscan = off`, which forbids only what an index can replace,
//! and no `Seq Scan` left).

use std::sync::{Arc, Mutex};

use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait,
};

/// A connection that remembers every statement run through it, so a test can
/// call a store's own function and then ask the planner about exactly the SQL
/// it sent; and a second connection to ask on.
pub struct Recorder {
    recorded: DatabaseConnection,
    plain: DatabaseConnection,
    log: Arc<Mutex<Vec<Statement>>>,
}

/// A village, a rural district, a district and a region of Turkestan region:
/// the subtrees a plan test reads.
pub const SUBTREE_PREFIXES: [&str; 4] = ["613633100", "613633", "6136", "61"];

impl Recorder {
    /// A recorder on `database` with `M`'s migrations applied (and forgotten).
    pub async fn migrated<M: sea_orm_migration::MigratorTrait>(
        database: &crate::TestDatabase,
    ) -> Recorder {
        let recorder = Recorder::connect(&database.url).await;
        M::up(recorder.db(), None).await.expect("migrations");
        recorder.forget();
        recorder
    }

    pub async fn connect(url: &str) -> Recorder {
        let log: Arc<Mutex<Vec<Statement>>> = Arc::default();
        let mut recorded = Database::connect(url).await.expect("connect");
        let sink = Arc::clone(&log);
        recorded.set_metric_callback(move |info| {
            sink.lock().unwrap().push(info.statement.clone());
        });
        let plain = Database::connect(url).await.expect("connect");
        Recorder {
            recorded,
            plain,
            log,
        }
    }

    /// The connection that records.
    pub fn db(&self) -> &DatabaseConnection {
        &self.recorded
    }

    /// Forgets what was recorded (the migrations, the test's own writes).
    pub fn forget(&self) {
        self.log.lock().unwrap().clear();
    }

    /// Fails unless every query recorded since the last call (or `forget`)
    /// reaches its tables through indexes; `what` names the read in the
    /// failure. At least one query must have been recorded.
    pub async fn assert_indexed(&self, what: &str) {
        for statement in self.reads(what) {
            assert_indexed(&self.plain, what, &statement).await;
        }
    }

    /// As [`Recorder::assert_indexed`], and every query's plan names `index`:
    /// where several indexes could answer, the narrow one is chosen (SQLite
    /// without statistics may otherwise range over a wide one).
    pub async fn assert_uses(&self, what: &str, index: &str) {
        for statement in self.reads(what) {
            assert_indexed(&self.plain, what, &statement).await;
            let plan = plan_of(&self.plain, &statement).await;
            assert!(
                plan.iter().any(|line| line.contains(index)),
                "{what} does not use {index}:\n{}\n{}",
                plan.join("\n"),
                statement.sql
            );
        }
    }

    /// The reads recorded since the last call; at least one.
    fn reads(&self, what: &str) -> Vec<Statement> {
        let statements: Vec<Statement> = std::mem::take(&mut *self.log.lock().unwrap());
        let reads: Vec<Statement> = statements
            .into_iter()
            .filter(|s| s.sql.trim_start().to_uppercase().starts_with("SELECT"))
            .collect();
        assert!(!reads.is_empty(), "{what} ran no query");
        reads
    }
}

/// The planner's lines for `statement`.
pub async fn plan_of(db: &DatabaseConnection, statement: &Statement) -> Vec<String> {
    let backend = db.get_database_backend();
    let explain = |prefix: &str| {
        let sql = format!("{prefix} {}", statement.sql);
        match &statement.values {
            Some(values) => Statement::from_sql_and_values(backend, sql, values.0.clone()),
            None => Statement::from_string(backend, sql),
        }
    };
    match backend {
        DbBackend::Sqlite => {
            let rows = db
                .query_all_raw(explain("EXPLAIN QUERY PLAN"))
                .await
                .expect("EXPLAIN QUERY PLAN");
            rows.iter()
                .map(|row| row.try_get::<String>("", "detail").expect("detail"))
                .collect()
        }
        _ => {
            let transaction = db.begin().await.expect("begin");
            transaction
                .execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .expect("enable_seqscan");
            let rows = transaction
                .query_all_raw(explain("EXPLAIN"))
                .await
                .expect("EXPLAIN");
            transaction.rollback().await.expect("rollback");
            rows.iter()
                .map(|row| row.try_get::<String>("", "QUERY PLAN").expect("plan line"))
                .collect()
        }
    }
}

/// Fails, naming `what` and showing the plan, unless every table `statement`
/// reads is reached through an index.
pub async fn assert_indexed(db: &DatabaseConnection, what: &str, statement: &Statement) {
    let plan = plan_of(db, statement).await;
    // SQLite names a subquery it runs as a co-routine or materializes; reading
    // its rows back is a `SCAN` of that name, not of a table.
    let subqueries: Vec<&str> = plan
        .iter()
        .filter_map(|line| {
            let line = line.trim_start();
            line.strip_prefix("CO-ROUTINE ")
                .or_else(|| line.strip_prefix("MATERIALIZE "))
        })
        .collect();
    let scans: Vec<&String> = plan
        .iter()
        .filter(|line| match line.trim_start().strip_prefix("SCAN ") {
            Some(scanned) => !subqueries.contains(&scanned.trim()),
            None => line.contains("Seq Scan"),
        })
        .collect();
    assert!(
        scans.is_empty(),
        "{what} scans a whole table:\n{}\n{}",
        plan.join("\n"),
        statement.sql
    );
}
