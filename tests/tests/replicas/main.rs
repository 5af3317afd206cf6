//! Three replicas of the budget service, each a process of its own, against
//! one PostgreSQL database, behave as one: callers race projects against one
//! allocation through all three, retry each request on another replica, and
//! one replica is killed with SIGKILL mid-load. Then no allocation is
//! overrun, no request is applied twice, the audit log verifies and the
//! change feed is gap-free and identical as read from every replica, and
//! JetStream holds each event exactly once.
//!
//! A test without the libtest harness: the binary is run again as each
//! replica (see `replica.rs`). Skips without PostgreSQL or NATS unless
//! `AIMAQ_REQUIRE_POSTGRES=1` / `AIMAQ_REQUIRE_NATS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod load;
mod replica;

use std::time::Duration;

use aimaq_e2e::scenario::{REGION, TIYN, program_with_envelope, this_year};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::ChangeEvent;
use aimaq_testing::territories::governance_with;
use aimaq_testing::{TestDatabase, TestTokens, test_nats_url, with_token};
use async_nats::jetstream;
use replica::Replica;

const REPLICAS: usize = 3;
/// The allocation holds this many projects of one cost.
const ROOM: i64 = 60;
const COST: i64 = 1_000 * TIYN;

fn main() {
    if replica::serves() {
        return;
    }
    if std::env::args().skip(1).any(|arg| arg == "--list") {
        println!("three_budget_replicas_behave_as_one: test");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(three_budget_replicas_behave_as_one());
    println!("test three_budget_replicas_behave_as_one ... ok");
}

async fn three_budget_replicas_behave_as_one() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let Some(nats) = test_nats_url().await else {
        return;
    };
    let prefix = format!("replicas{}", uuid::Uuid::new_v4().simple());
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let governance = governance_with(&tokens, aimaq_governance::run, &[]).await;
    let keys = tempfile::tempdir().unwrap();
    tokens.keys.publish(keys.path()).unwrap();
    let settings = replica::Settings {
        database: database.url.clone(),
        governance: governance.url(),
        keys: keys.path().to_path_buf(),
        log_key: aimaq_testing::test_log_key().log_signing_key.unwrap(),
        nats: nats.clone(),
        prefix: prefix.clone(),
    };
    // The first migrates; the others start on the migrated database.
    let mut replicas = vec![Replica::start(&settings).await];
    for _ in 1..REPLICAS {
        replicas.push(Replica::start(&settings).await);
    }
    let allocation = prepare(&replicas[0], &token).await;

    let outcome = load::race(&mut replicas, &allocation, &token).await;
    assert_eq!(outcome.killed, 1, "one replica was killed mid-load");
    assert!(outcome.retried > 0, "requests met the killed replica");
    eprintln!(
        "{} projects made, {} sends retried on another replica",
        outcome.created.len(),
        outcome.retried
    );
    let alive: Vec<&Replica> = replicas.iter().filter(|r| r.alive()).collect();
    let mut budget = BudgetServiceClient::new(alive[0].channel().await);
    let held = budget
        .get_allocation(with_token(
            GetAllocationRequest {
                allocation: allocation.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .allocation
        .unwrap();
    assert_eq!(
        outcome.created.len() as i64,
        ROOM,
        "the room is used, not more"
    );
    assert_eq!(held.committed_tiyn, ROOM * COST, "no overrun");
    assert!(held.committed_tiyn <= held.amount_tiyn);

    // Verifying first sequences what the killed replica committed and left.
    for replica in &alive {
        let verification = replica.verify(&token).await;
        assert!(verification.intact, "{verification:?}");
    }
    let feed = same_feed_everywhere(&alive, &token).await;
    let mut kinds = std::collections::BTreeMap::new();
    for event in &feed {
        *kinds.entry(event.resource_type.as_str()).or_insert(0) += 1;
    }
    eprintln!("feed: {kinds:?}");
    let created = feed
        .iter()
        .filter(|event| event.resource_type == "project")
        .count();
    assert_eq!(created as i64, ROOM, "each project created once");
    jetstream_holds_each_event_once(&nats, &prefix, &feed).await;
    drop(replicas);
}

/// A programme, its envelope and a region's allocation with room for ROOM
/// projects; the allocation's name.
async fn prepare(replica: &Replica, token: &str) -> String {
    let mut budget = BudgetServiceClient::new(replica.channel().await);
    program_with_envelope(&mut budget, token, 10 * ROOM * COST).await;
    let allocated = budget
        .allocate(with_token(
            AllocateRequest {
                request_id: "allocate".into(),
                program_code: "AUYL_EL_BESIGI".into(),
                fiscal_year: this_year(),
                territory_kato: REGION.into(),
                amount_tiyn: ROOM * COST,
            },
            token,
        ))
        .await
        .unwrap();
    allocated.into_inner().allocation.unwrap().name
}

/// The whole change feed read from each replica: gap-free and the same.
async fn same_feed_everywhere(replicas: &[&Replica], token: &str) -> Vec<ChangeEvent> {
    let mut feeds = Vec::new();
    for replica in replicas {
        feeds.push(replica.feed(token).await);
    }
    let first = &feeds[0];
    let sequences: Vec<u64> = first.iter().map(|event| event.sequence).collect();
    assert_eq!(
        sequences,
        (1..=first.len() as u64).collect::<Vec<_>>(),
        "a gap-free feed"
    );
    for other in &feeds[1..] {
        assert_eq!(other, first, "every replica serves the same feed");
    }
    feeds.remove(0)
}

/// The budget stream holds the feed's events, each once, in feed order (the
/// relay's lease moves off the killed replica once it lapses).
async fn jetstream_holds_each_event_once(nats: &str, prefix: &str, feed: &[ChangeEvent]) {
    let context = jetstream::new(async_nats::connect(nats).await.unwrap());
    let name = format!("{prefix}_BUDGET").to_uppercase();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut stream = loop {
        if let Ok(mut stream) = context.get_stream(&name).await
            && stream.info().await.unwrap().state.messages >= feed.len() as u64
        {
            break stream;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream did not catch up with the feed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored = stream.info().await.unwrap().state.messages;
    assert_eq!(stored, feed.len() as u64, "each event once");
    for (position, event) in feed.iter().enumerate() {
        let message = stream.get_raw_message(position as u64 + 1).await.unwrap();
        let sequence = message
            .headers
            .get("Aimaq-Sequence")
            .map(|value| value.as_str().to_owned());
        assert_eq!(sequence, Some(event.sequence.to_string()));
    }
    context.delete_stream(&name).await.unwrap();
}
