//! The audit log as a transparency log at national scale: 1,000,000 records.
//! A database holding them as the plain hash chain kept them is brought into
//! the tree by the service's own sequencer (timed); then, through gRPC at one
//! caller and at 32, beside a health check on the same server:
//! `GetInclusionProof` of a random record and `GetConsistencyProof` from a
//! random earlier size, against the whole log. Also the proofs' sizes.
//!
//!     cargo bench -p aimaq-governance --bench log
//!
//! Runs on SQLite, and on PostgreSQL when `AIMAQ_TEST_POSTGRES_URL` (default
//! postgres://postgres@127.0.0.1:5432/test) is reachable. Prints Markdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aimaq_bench::{Load, Measurement, channels};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    GetCheckpointRequest, GetConsistencyProofRequest, GetInclusionProofRequest,
};
use aimaq_testing::{TestDatabase, TestServer, TestTokens, with_token};
use prost::Message;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, StatementBuilder, TransactionTrait};
use sea_orm_migration::MigratorTrait;
use tokio::runtime::Handle;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const RECORDS: u64 = 1_000_000;
const ROWS_PER_INSERT: u64 = 1000;
const CONNECTIONS: usize = 4;

fn load(callers: usize) -> Load {
    Load {
        callers,
        warm_up: Duration::from_secs(1),
        window: Duration::from_secs(5),
    }
}

/// Writes `RECORDS` audit records as a log from before the tree holds them:
/// rows, and a head that says so (no tree, no checkpoint), in a database
/// migrated and not yet served.
async fn fill(url: &str) {
    let db = sea_orm::Database::connect(url).await.unwrap();
    aimaq_governance::Migrator::up(&db, None).await.unwrap();
    let backend = db.get_database_backend();
    let transaction = db.begin().await.unwrap();
    let columns = [
        "sequence",
        "occurred_at_micros",
        "actor",
        "agency",
        "method",
        "resource_type",
        "resource_name",
        "request_id",
        "request_digest",
        "prev_hash",
        "hash",
        "certificate",
    ];
    for start in (1..=RECORDS).step_by(ROWS_PER_INSERT as usize) {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("audit_log"))
            .columns(columns.map(Alias::new));
        for sequence in start..start + ROWS_PER_INSERT {
            insert.values_panic([
                (sequence as i64).into(),
                (1_700_000_000_000_000 + sequence as i64 * 1000).into(),
                "akimat-61".into(),
                "Turkestan region akimat".into(),
                "/aimaq.governance.v1.GovernanceService/UpsertTerritory".into(),
                "territory".into(),
                format!("territories/61{:07}", sequence % 10_000_000).into(),
                format!("bench-{sequence}").into(),
                "ab".repeat(32).into(),
                "cd".repeat(32).into(),
                "ef".repeat(32).into(),
                "CN=akimat-61".into(),
            ]);
        }
        transaction
            .execute_raw(StatementBuilder::build(&insert, &backend))
            .await
            .unwrap();
    }
    let head = Query::update()
        .table(Alias::new("record_heads"))
        .values([
            (Alias::new("audit_sequence"), (RECORDS as i64).into()),
            (Alias::new("audit_hash"), "ef".repeat(32).into()),
            (Alias::new("tree_size"), 0i64.into()),
            (Alias::new("checkpoint"), "".into()),
        ])
        .to_owned();
    transaction
        .execute_raw(StatementBuilder::build(&head, &backend))
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    db.execute_unprepared("DELETE FROM log_nodes")
        .await
        .unwrap();
}

/// A different number every call, spread over 1..=RECORDS (xorshift).
fn spread(counter: &AtomicU64) -> u64 {
    let mut x = counter.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    1 + x % RECORDS
}

async fn logged_size(channel: &Channel, token: &str) -> u64 {
    GovernanceServiceClient::new(channel.clone())
        .get_checkpoint(with_token(GetCheckpointRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .checkpoint
        .unwrap()
        .tree_size
}

async fn measure(callers: usize, pick: Arc<Vec<Channel>>, token: &str) -> [Measurement; 3] {
    let health = {
        let pick = pick.clone();
        load(callers)
            .measure(move |caller| {
                let mut client = HealthClient::new(pick[caller % CONNECTIONS].clone());
                async move { client.check(HealthCheckRequest::default()).await.is_ok() }
            })
            .await
    };
    let counter = Arc::new(AtomicU64::new(1));
    let inclusion = {
        let (pick, token, counter) = (pick.clone(), token.to_owned(), counter.clone());
        load(callers)
            .measure(move |caller| {
                let mut client = GovernanceServiceClient::new(pick[caller % CONNECTIONS].clone());
                let request = with_token(
                    GetInclusionProofRequest {
                        sequence: spread(&counter),
                        tree_size: RECORDS,
                    },
                    &token,
                );
                async move { client.get_inclusion_proof(request).await.is_ok() }
            })
            .await
    };
    let consistency = {
        let (pick, token) = (pick.clone(), token.to_owned());
        load(callers)
            .measure(move |caller| {
                let mut client = GovernanceServiceClient::new(pick[caller % CONNECTIONS].clone());
                let request = with_token(
                    GetConsistencyProofRequest {
                        from_size: spread(&counter) - 1,
                        to_size: RECORDS,
                    },
                    &token,
                );
                async move { client.get_consistency_proof(request).await.is_ok() }
            })
            .await
    };
    [health, inclusion, consistency]
}

async fn run(database: TestDatabase, label: &str, servers: Handle) {
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let filled = Instant::now();
    fill(&database.url).await;
    let fill_time = filled.elapsed();
    let built = Instant::now();
    let server =
        TestServer::start_on(servers.clone(), database, &tokens, aimaq_governance::run).await;
    let channels = Arc::new(channels(&server, CONNECTIONS).await);
    while logged_size(&channels[0], &token).await < RECORDS {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let build_time = built.elapsed();

    let mut client = GovernanceServiceClient::new(channels[0].clone());
    let inclusion = client
        .get_inclusion_proof(with_token(
            GetInclusionProofRequest {
                sequence: 123_457,
                tree_size: RECORDS,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let consistency = client
        .get_consistency_proof(with_token(
            GetConsistencyProofRequest {
                from_size: 654_321,
                to_size: RECORDS,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    println!("\n### {label}\n");
    println!(
        "{RECORDS} records written in {:.1} s; brought into the tree by the sequencer in {:.1} s.\n",
        fill_time.as_secs_f64(),
        build_time.as_secs_f64()
    );
    println!(
        "Proof sizes at {RECORDS} records: inclusion of record 123,457 {} hashes ({} bytes encoded), consistency from 654,321 {} hashes ({} bytes encoded).\n",
        inclusion.proof.as_ref().unwrap().hashes.len(),
        inclusion.encoded_len(),
        consistency.proof.as_ref().unwrap().hashes.len(),
        consistency.encoded_len(),
    );
    let [inclusion_made, consistency_made] = in_process(&server.database.url).await;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "Generated in the server's process ({IN_PROCESS_CALLS} each, random, one at a time): inclusion p50 {:.2} ms, p99 {:.2} ms; consistency p50 {:.2} ms, p99 {:.2} ms.\n",
        ms(inclusion_made.0),
        ms(inclusion_made.1),
        ms(consistency_made.0),
        ms(consistency_made.1)
    );
    println!("| workload | calls | calls/s | ratio to health check | p50 | p99 | failures |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for callers in [1, 32] {
        let [health, inclusion, consistency] = measure(callers, channels.clone(), &token).await;
        let base = health.per_second;
        println!(
            "{}",
            health.row(
                &format!("health check, {callers} caller(s) (baseline)"),
                base
            )
        );
        println!(
            "{}",
            inclusion.row(
                &format!("GetInclusionProof, random record, {callers} caller(s)"),
                base
            )
        );
        println!(
            "{}",
            consistency.row(
                &format!("GetConsistencyProof, random size, {callers} caller(s)"),
                base
            )
        );
    }
}

/// p50 and p99 of `calls` proofs made in this process on the server's
/// database, without gRPC: the generation itself.
async fn in_process(url: &str) -> [(Duration, Duration); 2] {
    let key = aimaq_testing::test_log_key().log_signing_key.unwrap();
    let keys = aimaq_records::LogKeys::load(&key).unwrap();
    let database = aimaq_storage::Database::connect(url).await.unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let records = aimaq_records::Records::new(database, shutdown, keys)
        .await
        .unwrap();
    let counter = AtomicU64::new(7);
    let mut inclusion = Vec::with_capacity(IN_PROCESS_CALLS);
    let mut consistency = Vec::with_capacity(IN_PROCESS_CALLS);
    for _ in 0..IN_PROCESS_CALLS {
        let started = Instant::now();
        records
            .inclusion_proof(spread(&counter), RECORDS)
            .await
            .unwrap();
        inclusion.push(started.elapsed());
        let started = Instant::now();
        records
            .consistency_proof(spread(&counter) - 1, RECORDS)
            .await
            .unwrap();
        consistency.push(started.elapsed());
    }
    [percentiles(inclusion), percentiles(consistency)]
}

const IN_PROCESS_CALLS: usize = 10_000;

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

fn main() {
    println!(
        "## The transparency log at {RECORDS} records (`cargo bench -p aimaq-governance --bench log`)"
    );
    aimaq_bench::on_both_backends(run);
}
