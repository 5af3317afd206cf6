//! The relay against a real NATS server with JetStream: every change event
//! reaches the stream once and in feed order, across a relay that crashes
//! after publishing but before recording how far it got, and a failover to
//! another replica's relay. Skips without NATS unless `AIMAQ_REQUIRE_NATS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aimaq_proto::common::v1::ChangeEvent;
use aimaq_records::{
    Change, ChangeAction, CreatePendingRecords, CreateRecordTables, Mutation, RecordCertificates,
    Records, StateDigests, TransparencyLog,
};
use aimaq_relay::{Destination, FeedRelays, Lease, Relay};
use aimaq_storage::Database;
use aimaq_testing::{TestDatabase, on_both_backends, test_nats_url};
use async_nats::jetstream;
use prost::Message;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use tokio::sync::watch;

struct RecordsAndRelay;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for RecordsAndRelay {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateRecordTables),
            Box::new(CreatePendingRecords),
            Box::new(RecordCertificates),
            Box::new(TransparencyLog),
            Box::new(StateDigests),
            Box::new(aimaq_records::TraceParents),
            Box::new(aimaq_records::ChangeResources),
            Box::new(aimaq_records::LogCosignatures),
            Box::new(FeedRelays),
        ]
    }
}

const LEASE: Duration = Duration::from_millis(600);

async fn replica(url: &str, shutdown: &watch::Receiver<bool>) -> Records {
    let database = Database::connect(url).await.unwrap();
    database.migrate::<RecordsAndRelay>().await.unwrap();
    let key = aimaq_testing::test_log_key().log_signing_key.unwrap();
    let keys = aimaq_records::LogKeys::load(&key).unwrap();
    Records::new(database, shutdown.clone(), keys)
        .await
        .unwrap()
}

/// A relay of `records` as replica `holder`, running until aborted or drained.
fn relay(
    destination: &Destination,
    records: &Records,
    context: &jetstream::Context,
    holder: &str,
    draining: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let lease = Lease {
        relay: "jetstream".into(),
        holder: holder.into(),
        length: LEASE,
    };
    let relay = Relay::new(
        destination.clone(),
        records.clone(),
        context.clone(),
        lease,
        1,
    );
    tokio::spawn(relay.run(draining.clone()))
}

/// One mutation with one or two changes; how many.
async fn put(records: &Records, request_id: &str, n: usize) -> usize {
    let changes: Vec<Change> = (0..1 + n % 2)
        .map(|k| Change {
            resource_type: "thing",
            resource_name: format!("things/{request_id}-{k}"),
            action: if k == 0 {
                ChangeAction::Created
            } else {
                ChangeAction::Updated
            },
            version: 1,
            resource: None,
        })
        .collect();
    let count = changes.len();
    let mutation = Mutation {
        method: "/aimaq.test.v1.TestService/Put".into(),
        request_id: request_id.into(),
        request_digest: format!("{:0>64}", n),
        actor: "tester".into(),
        agency: "test agency".into(),
        certificate: String::new(),
        trace_parent: format!("00-{:0>32x}-{:0>16x}-01", n + 1, n + 1),
    };
    records
        .apply(&mutation, |transaction: DatabaseTransaction| {
            let changes = changes.clone();
            aimaq_records::within(transaction, async move |_: &DatabaseTransaction| {
                Ok(((), changes))
            })
        })
        .await
        .unwrap();
    count
}

/// Writes `requests` mutations through each replica at once; the events written.
async fn write(replicas: &[&Records], round: &str, requests: usize) -> usize {
    let writers: Vec<_> = replicas
        .iter()
        .enumerate()
        .map(|(r, records)| {
            let records = (*records).clone();
            let round = round.to_owned();
            tokio::spawn(async move {
                let mut events = 0;
                for n in 0..requests {
                    events += put(&records, &format!("{round}-r{r}-n{n}"), n).await;
                }
                events
            })
        })
        .collect();
    let mut events = 0;
    for writer in writers {
        events += writer.await.unwrap();
    }
    events
}

/// Waits until the stream holds `count` messages; then reads them all.
async fn stored(
    stream: &mut jetstream::stream::Stream,
    count: u64,
) -> Vec<(String, String, ChangeEvent)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let messages = stream.info().await.unwrap().state.messages;
        if messages >= count {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream holds {messages} of {count} events"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut messages = Vec::new();
    for sequence in 1..=count {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default();
        let event = ChangeEvent::decode(message.payload).unwrap();
        let traceparent = message
            .headers
            .get("traceparent")
            .map(|v| v.as_str().to_owned());
        assert_eq!(traceparent.as_deref(), Some(event.trace_parent.as_str()));
        assert!(
            event.trace_parent.starts_with("00-"),
            "each event its request's trace"
        );
        messages.push((message.subject.to_string(), id, event));
    }
    messages
}

async fn holder(records: &Records) -> String {
    let row = records
        .database()
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            records.database().connection().get_database_backend(),
            "SELECT holder FROM feed_relays WHERE name = 'jetstream'",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "holder").unwrap()
}

async fn every_event_once_in_order_across_a_crash_and_a_failover(database: TestDatabase) {
    let Some(url) = test_nats_url().await else {
        return;
    };
    let client = async_nats::connect(url.as_str()).await.unwrap();
    let context = jetstream::new(client);
    let destination = Destination::new(&format!("relaytest{}", uuid_like()), "things").unwrap();

    let (stop, shutdown) = watch::channel(false);
    let first = replica(&database.url, &shutdown).await;
    let second = replica(&database.url, &shutdown).await;
    let relays = [
        relay(&destination, &first, &context, "first", &shutdown),
        relay(&destination, &second, &context, "second", &shutdown),
    ];
    let mut events = write(&[&first, &second], "before", 30).await;
    let mut stream = wait_for_stream(&context, &destination).await;
    stored(&mut stream, events as u64).await;

    // The holder crashes after JetStream acknowledged its last events but
    // before it recorded them: the position goes back ten events.
    let crashed = holder(&first).await;
    let index = usize::from(crashed == "second");
    relays[index].abort();
    first
        .database()
        .connection()
        .execute_unprepared(&format!(
            "UPDATE feed_relays SET sequence = {} WHERE name = 'jetstream'",
            events - 10
        ))
        .await
        .unwrap();
    events += write(&[&first, &second], "after", 30).await;
    let messages = stored(&mut stream, events as u64).await;

    let survivor = holder(&first).await;
    assert_ne!(survivor, crashed, "the other replica took over");
    let sequences: Vec<u64> = messages
        .iter()
        .map(|(_, _, event)| event.sequence)
        .collect();
    assert_eq!(
        sequences,
        (1..=events as u64).collect::<Vec<_>>(),
        "each event once, in feed order"
    );
    for (subject, id, event) in &messages {
        assert_eq!(id, &destination.message_id(event));
        let action = if event.action == ChangeAction::Created as i32 {
            "created"
        } else {
            "updated"
        };
        assert_eq!(
            subject,
            &format!("{}.things.thing.{action}", prefix(&destination))
        );
    }
    // Nothing more arrives: the republished ten were duplicates.
    tokio::time::sleep(LEASE).await;
    assert_eq!(stream.info().await.unwrap().state.messages, events as u64);

    stop.send(true).unwrap();
    for relay in relays {
        let _ = relay.await;
    }
    context
        .delete_stream(destination.stream_name())
        .await
        .unwrap();
}

/// The subjects' first token, as the stream's name gives it.
fn prefix(destination: &Destination) -> String {
    destination.subjects().split('.').next().unwrap().to_owned()
}

async fn wait_for_stream(
    context: &jetstream::Context,
    destination: &Destination,
) -> jetstream::stream::Stream {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(stream) = context.get_stream(destination.stream_name()).await {
            return stream;
        }
        assert!(tokio::time::Instant::now() < deadline, "no stream made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Unique to this test: streams of other tests and runs are left alone.
fn uuid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

on_both_backends!(every_event_once_in_order_across_a_crash_and_a_failover);
