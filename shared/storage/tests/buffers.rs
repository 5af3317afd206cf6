//! What a PostgreSQL connection keeps after a large message: its buffers grow
//! to the message's size, and are given back when it returns to its pool. The
//! test counts the bytes the whole process holds, so it is a binary of its own.

#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::time::{Duration, Instant};

use aimaq_storage::Database;
use aimaq_testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const LARGE: usize = 8 << 20;

/// A text sent to PostgreSQL and answered back whole.
fn echo(text: String) -> Statement {
    Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT $1::text AS text",
        [text.into()],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_gives_back_what_a_large_message_grew() {
    let Some(test) = TestDatabase::postgres().await else {
        return;
    };
    let database = Database::connect(&test.url).await.unwrap();
    let connection = database.connection();
    // The pool's connection is open and has prepared the statement.
    connection.query_one_raw(echo("warm".into())).await.unwrap();

    let region = Region::new(GLOBAL);
    let row = connection
        .query_one_raw(echo("x".repeat(LARGE)))
        .await
        .unwrap();
    let text: String = row.unwrap().try_get("", "text").unwrap();
    assert_eq!(text.len(), LARGE);
    drop(text);
    // The connection returns to its pool on a task of its own.
    let deadline = Instant::now() + Duration::from_secs(5);
    let kept = loop {
        let change = region.change();
        let kept = change
            .bytes_allocated
            .saturating_sub(change.bytes_deallocated);
        if kept < LARGE / 8 || Instant::now() > deadline {
            break kept;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Without giving them back, the connection keeps both buffers: twice LARGE.
    assert!(
        kept < LARGE / 8,
        "{kept} bytes are still held after an {LARGE}-byte message went and came back"
    );
    database.close().await;
}
