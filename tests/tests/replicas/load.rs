//! Callers racing requests through every replica: each request sent to one
//! replica, to the next when that one does not answer, and sent again to
//! another once answered, which must give the same answer. The replica
//! relaying the feed to JetStream is killed with SIGKILL once a third of the
//! requests are answered.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::ConnectionTrait;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::replica::Replica;

const CALLERS: usize = 6;

pub struct Outcome<T> {
    /// What each accepted request made, by request number.
    pub made: Vec<(usize, T)>,
    pub killed: usize,
    /// Sends that found no answer and went on to the next replica.
    pub retried: usize,
}

/// Sends `requests` requests, the k-th as `send(channel, k)` makes it, from
/// CALLERS callers at once. A request refused as FAILED_PRECONDITION (no room
/// left) or ABORTED (another won the version) makes nothing.
pub async fn race<T, F, Fut>(replicas: &mut [Replica], requests: usize, send: F) -> Outcome<T>
where
    T: PartialEq + Debug + Send + 'static,
    F: Fn(Channel, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Status>> + Send,
{
    let mut channels = Vec::new();
    for replica in replicas.iter() {
        channels.push(replica.channel().await);
    }
    // Found before the race, so that the kill comes right at its third.
    let holder = relay_holder(replicas).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let (channels, send) = (channels.clone(), send.clone());
            let (answered, retried) = (answered.clone(), retried.clone());
            tokio::spawn(async move {
                let mut made = Vec::new();
                for k in (caller..requests).step_by(CALLERS) {
                    let (first, at) = answer(&channels, k, k, &send, &retried).await;
                    let (again, _) = answer(&channels, at + 1, k, &send, &retried).await;
                    assert_eq!(first, again, "request {k}: a retry is answered alike");
                    made.extend(first.map(|thing| (k, thing)));
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                made
            })
        })
        .collect();
    while answered.load(Ordering::Relaxed) < requests / 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    replicas[holder].kill();
    let mut made = Vec::new();
    for caller in callers {
        made.extend(caller.await.unwrap());
    }
    made.sort_by_key(|(k, _)| *k);
    Outcome {
        made,
        killed: replicas.iter().filter(|r| !r.alive()).count(),
        retried: retried.load(Ordering::Relaxed),
    }
}

/// The first definite answer to request `k` from replica `start` on, and
/// which replica gave it.
async fn answer<T, F, Fut>(
    channels: &[Channel],
    start: usize,
    k: usize,
    send: &F,
    retried: &AtomicUsize,
) -> (Option<T>, usize)
where
    F: Fn(Channel, usize) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    for attempt in start..start + 10 * channels.len() {
        let replica = attempt % channels.len();
        match send(channels[replica].clone(), k).await {
            Ok(thing) => return (Some(thing), replica),
            Err(status) if matches!(status.code(), Code::FailedPrecondition | Code::Aborted) => {
                return (None, replica);
            }
            // Gone, cut off mid-answer, or too slow: the next replica.
            Err(status) => {
                assert!(
                    matches!(
                        status.code(),
                        Code::Unavailable
                            | Code::Unknown
                            | Code::Cancelled
                            | Code::DeadlineExceeded
                    ),
                    "request {k}: {status:?}"
                );
                retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    panic!("request {k}: no replica answered")
}

/// The replica holding the relay's lease (its holder names its process).
async fn relay_holder(replicas: &[Replica]) -> usize {
    let database = aimaq_storage::Database::connect(&replicas[0].database)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let row = database
            .connection()
            .query_one_raw(sea_orm::Statement::from_string(
                database.connection().get_database_backend(),
                "SELECT holder FROM feed_relays WHERE name = 'jetstream'",
            ))
            .await
            .unwrap();
        let holder = row.and_then(|row| row.try_get::<String>("", "holder").ok());
        if let Some(index) = holder.and_then(|holder| {
            replicas.iter().position(|r| {
                r.pid()
                    .is_some_and(|pid| holder.ends_with(&format!("-{pid}")))
            })
        }) {
            return index;
        }
        assert!(tokio::time::Instant::now() < deadline, "no replica relays");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
