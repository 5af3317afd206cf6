//! The change feed is read once per replica and fanned out: many streams cost
//! the database no more queries than one, and a stream that falls behind the
//! broadcast replays from the database without losing or repeating an event.

use std::time::Duration;

use aimaq_testing::{TestDatabase, on_both_backends};
use tokio::sync::watch;
use tokio_stream::StreamExt;

use super::{next_items, put, replica};

const WATCHERS: usize = 100;
/// Each request's event is broadcast on its own (the test waits for it), so
/// the laggard misses more batches than the broadcast keeps.
const REQUESTS: usize = 600;

async fn streams_share_one_reader_and_a_laggard_catches_up(database: TestDatabase) {
    let (stop, shutdown) = watch::channel(false);
    let records = replica(&database.url, &shutdown).await;
    let feed = records.feed();
    let watchers: Vec<_> = (0..WATCHERS)
        .map(|_| feed.clone().watch(0, Vec::new(), |event| event.sequence))
        .collect();
    // Never read until every write is in: it falls behind the broadcast.
    let mut laggard = feed.clone().watch(0, Vec::new(), |event| event.sequence);
    // Filtered to a type no change has: it delivers nothing, and stays open.
    let mut other = feed
        .clone()
        .watch(0, vec!["other".into()], |event| event.sequence);
    let readers: Vec<_> = watchers
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move { next_items(&mut stream, expected_events()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let replays_before_writes = feed
        .queries()
        .replay
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(replays_before_writes >= (WATCHERS + 2) as u64);

    let mut pacer = feed.clone().watch(0, Vec::new(), |event| event.sequence);
    for n in 0..REQUESTS {
        // 3n + 1: one change per request.
        put(&records, &format!("n{n}"), 3 * n + 1).await;
        assert_eq!(next_items(&mut pacer, 1).await, vec![n as u64 + 1]);
    }
    let expected: Vec<u64> = (1..=expected_events() as u64).collect();
    for reader in readers {
        assert_eq!(
            reader.await.unwrap(),
            expected,
            "every event once, in order"
        );
    }
    let queries = feed.queries();
    let tail = queries.tail.load(std::sync::atomic::Ordering::Relaxed);
    let replay = queries.replay.load(std::sync::atomic::Ordering::Relaxed);
    // One read of the tail per commit at most, whatever the number of streams
    // (a stream per commit would be WATCHERS times as many).
    assert!(
        tail <= expected_events() as u64 + 20,
        "{tail} tail queries for {} events",
        expected_events()
    );
    assert_eq!(next_items(&mut laggard, expected_events()).await, expected);
    let replayed = queries.replay.load(std::sync::atomic::Ordering::Relaxed) - replay;
    assert!(
        replayed >= 1,
        "the laggard fell behind the broadcast and replayed ({tail} tail reads)"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), other.next())
            .await
            .is_err(),
        "a filtered stream delivers nothing of other types"
    );
    stop.send(true).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(5), other.next())
            .await
            .unwrap()
            .is_none(),
        "streams end when the server drains"
    );
}

fn expected_events() -> usize {
    REQUESTS
}

on_both_backends!(streams_share_one_reader_and_a_laggard_catches_up);
