//! Callers racing projects against one allocation through every replica:
//! each request sent to one replica, retried on the next when that one does
//! not answer, and sent again to another once answered, which must give the
//! same answer. The replica relaying the feed to JetStream is killed with
//! SIGKILL once a third of the requests are answered.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aimaq_e2e::scenario::VILLAGE;
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::{CreateProjectRequest, ProjectCategory};
use aimaq_testing::with_token;
use sea_orm::ConnectionTrait;
use tonic::Code;
use tonic::transport::Channel;

use crate::replica::Replica;
use crate::{COST, ROOM};

const CALLERS: usize = 6;
/// Twice the room: half of them must be refused.
const REQUESTS_PER_CALLER: usize = 2 * ROOM as usize / CALLERS;

pub struct Outcome {
    /// Request id → the project it created.
    pub created: HashMap<String, String>,
    pub killed: usize,
    /// Sends that found no answer and went on to the next replica.
    pub retried: usize,
}

/// Sends retried on the next replica, by all callers.
static RETRIED: AtomicUsize = AtomicUsize::new(0);

pub async fn race(replicas: &mut [Replica], allocation: &str, token: &str) -> Outcome {
    let mut channels = Vec::new();
    for replica in replicas.iter() {
        channels.push(replica.channel().await);
    }
    let answered = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let (channels, answered) = (channels.clone(), answered.clone());
            let (allocation, token) = (allocation.to_owned(), token.to_owned());
            tokio::spawn(async move {
                let mut created = HashMap::new();
                for n in 0..REQUESTS_PER_CALLER {
                    let request_id = format!("project-{caller}-{n}");
                    let asked = project(&request_id, &allocation);
                    if let Some(name) = settle(&channels, caller + n, &asked, &token).await {
                        created.insert(request_id, name);
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                created
            })
        })
        .collect();
    while answered.load(Ordering::Relaxed) < CALLERS * REQUESTS_PER_CALLER / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let holder = relay_holder(replicas).await;
    replicas[holder].kill();
    let mut created = HashMap::new();
    for caller in callers {
        created.extend(caller.await.unwrap());
    }
    Outcome {
        created,
        killed: replicas.iter().filter(|r| !r.alive()).count(),
        retried: RETRIED.load(Ordering::Relaxed),
    }
}

fn project(request_id: &str, allocation: &str) -> CreateProjectRequest {
    CreateProjectRequest {
        request_id: request_id.into(),
        allocation: allocation.into(),
        settlement_kato: VILLAGE.into(),
        category: ProjectCategory::SocialInfrastructure as i32,
        title: format!("School {request_id}"),
        borrower_id: String::new(),
        cost_tiyn: COST,
        standard_codes: Vec::new(),
    }
}

/// Sends `asked` from replica `start` on until one answers; then again to
/// the next replica that answers, which must give the same answer. The
/// project made, or None when refused for want of room.
async fn settle(
    channels: &[Channel],
    start: usize,
    asked: &CreateProjectRequest,
    token: &str,
) -> Option<String> {
    let (first, at) = answer(channels, start, asked, token).await;
    let (again, _) = answer(channels, at + 1, asked, token).await;
    assert_eq!(
        first, again,
        "{}: a retry is answered alike",
        asked.request_id
    );
    first
}

/// The first definite answer from replica `start` on, and which replica.
async fn answer(
    channels: &[Channel],
    start: usize,
    asked: &CreateProjectRequest,
    token: &str,
) -> (Option<String>, usize) {
    for attempt in start..start + 10 * channels.len() {
        let replica = attempt % channels.len();
        let mut client = BudgetServiceClient::new(channels[replica].clone());
        let mut request = with_token(asked.clone(), token);
        request.set_timeout(Duration::from_secs(5));
        match client.create_project(request).await {
            Ok(answer) => return (Some(answer.into_inner().project.unwrap().name), replica),
            Err(status) if status.code() == Code::FailedPrecondition => return (None, replica),
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
                    "{}: {status:?}",
                    asked.request_id
                );
                RETRIED.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    panic!("{}: no replica answered", asked.request_id)
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
                "SELECT holder, lease_until_micros FROM feed_relays WHERE name = 'jetstream'",
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
