//! Three replicas of a backend, each a process of its own, against one
//! PostgreSQL database, behave as one. For governance, budget and grants in
//! turn, callers race requests against a limit (two protocols for each
//! polling station, projects against an allocation, approvals against a
//! region's quota) through all three, retry each request
//! on another replica, and one replica is killed with SIGKILL mid-load. Then
//! no limit is overrun, no request is applied twice, the audit log verifies
//! and the change feed is gap-free and identical as read from every replica,
//! and JetStream holds each event exactly once.
//!
//! A test without the libtest harness: the binary is run again as each
//! replica (see `replica.rs`). Skips without PostgreSQL or NATS unless
//! `AIMAQ_REQUIRE_POSTGRES=1` / `AIMAQ_REQUIRE_NATS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod budget;
mod governance;
mod grants;
mod load;
mod replica;

use std::time::Duration;

use aimaq_proto::common::v1::ChangeEvent;
use aimaq_testing::territories::governance_with;
use aimaq_testing::{TestDatabase, TestServer, TestTokens, test_nats_url};
use async_nats::jetstream;
use replica::{Replica, Settings};

const REPLICAS: usize = 3;

fn main() {
    if replica::serves() {
        return;
    }
    if std::env::args().skip(1).any(|arg| arg == "--list") {
        println!("three_governance_replicas_behave_as_one: test");
        println!("three_budget_replicas_behave_as_one: test");
        println!("three_grants_replicas_behave_as_one: test");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(shared) = Shared::start().await else {
            return;
        };
        governance::three_replicas_behave_as_one(&shared).await;
        println!("test three_governance_replicas_behave_as_one ... ok");
        budget::three_replicas_behave_as_one(&shared).await;
        println!("test three_budget_replicas_behave_as_one ... ok");
        grants::three_replicas_behave_as_one(&shared).await;
        println!("test three_grants_replicas_behave_as_one ... ok");
    });
}

/// What the replicas of both services share: governance (in this process),
/// the token keys, the log key and the NATS server.
pub struct Shared {
    pub tokens: TestTokens,
    pub token: String,
    governance: TestServer,
    keys: tempfile::TempDir,
    nats: String,
}

impl Shared {
    /// None (with a message) without PostgreSQL or NATS.
    async fn start() -> Option<Shared> {
        TestDatabase::postgres().await?;
        let nats = test_nats_url().await?;
        let tokens = TestTokens::new();
        let governance = governance_with(&tokens, aimaq_governance::run, &[]).await;
        let keys = tempfile::tempdir().unwrap();
        tokens.keys.publish(keys.path()).unwrap();
        Some(Shared {
            token: tokens.admin(),
            tokens,
            governance,
            keys,
            nats,
        })
    }

    /// Three replicas of `service` on a fresh PostgreSQL database, the first
    /// migrating it, each relaying to JetStream under `prefix`.
    pub async fn replicas(
        &self,
        service: &str,
        database: &TestDatabase,
        prefix: &str,
    ) -> Vec<Replica> {
        let settings = Settings {
            service: service.into(),
            database: database.url.clone(),
            governance: self.governance.url(),
            keys: self.keys.path().to_path_buf(),
            log_key: aimaq_testing::test_log_key().log_signing_key.unwrap(),
            nats: self.nats.clone(),
            prefix: prefix.into(),
        };
        let mut replicas = vec![Replica::start(&settings).await];
        for _ in 1..REPLICAS {
            replicas.push(Replica::start(&settings).await);
        }
        replicas
    }

    /// The checks after the race: the audit log verifies on every replica
    /// left (which also sequences what the killed one committed and left),
    /// each serves the same gap-free feed, and JetStream holds each of its
    /// events once. The feed.
    pub async fn behave_as_one(&self, alive: &[&Replica], stream: &str) -> Vec<ChangeEvent> {
        for replica in alive {
            let verification = replica.verify(&self.token).await;
            assert!(verification.intact, "{verification:?}");
        }
        let feed = same_feed_everywhere(alive, &self.token).await;
        let mut kinds = std::collections::BTreeMap::new();
        for event in &feed {
            *kinds.entry(event.resource_type.as_str()).or_insert(0) += 1;
        }
        eprintln!("{stream}: {kinds:?}");
        jetstream_holds_each_event_once(&self.nats, stream, &feed).await;
        feed
    }
}

/// A prefix of the feed's subjects and streams unique to this run.
pub fn unique_prefix() -> String {
    format!("replicas{}", uuid::Uuid::new_v4().simple())
}

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

/// The stream holds the feed's events, each once, in feed order (the
/// relay's lease moves off the killed replica once it lapses).
async fn jetstream_holds_each_event_once(nats: &str, name: &str, feed: &[ChangeEvent]) {
    let context = jetstream::new(async_nats::connect(nats).await.unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut stream = loop {
        if let Ok(mut stream) = context.get_stream(name).await
            && stream.info().await.unwrap().state.messages >= feed.len() as u64
        {
            break stream;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} did not catch up with the feed"
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
    context.delete_stream(name).await.unwrap();
}
