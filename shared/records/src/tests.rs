use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aimaq_error::Error;
use aimaq_proto::common::v1::{ChangeEvent, LocalizedText};
use aimaq_storage::Database;
use aimaq_testing::{TestDatabase, on_both_backends};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, PaginatorTrait, Statement,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use tokio::sync::watch;
use tokio_stream::StreamExt;

mod feed;
mod resources;

use crate::entities::{audit_record, pending_record};
use crate::{
    Change, ChangeAction, CreatePendingRecords, CreateRecordTables, Mutation, RecordCertificates,
    Records,
};

struct RecordsOnly;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for RecordsOnly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateRecordTables),
            Box::new(CreatePendingRecords),
            Box::new(RecordCertificates),
            Box::new(crate::TransparencyLog),
            Box::new(crate::StateDigests),
            Box::new(crate::TraceParents),
            Box::new(crate::ChangeResources),
            Box::new(crate::LogCosignatures),
        ]
    }
}

fn records_keys() -> crate::LogKeys {
    crate::LogKeys::load(
        aimaq_testing::test_log_key()
            .log_signing_key
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

async fn replica(url: &str, shutdown: &watch::Receiver<bool>) -> Records {
    let database = Database::connect(url).await.unwrap();
    database.migrate::<RecordsOnly>().await.unwrap();
    Records::new(database, shutdown.clone(), records_keys())
        .await
        .unwrap()
}

fn mutation(request_id: &str) -> Mutation {
    Mutation {
        method: "/aimaq.test.v1.TestService/Put".into(),
        request_id: request_id.into(),
        request_digest: format!("{:0>64}", request_id.len()),
        actor: "tester".into(),
        agency: "test agency".into(),
        certificate: "CN=tester".into(),
        trace_parent: String::new(),
    }
}

/// The n-th request of a writer changes n % 3 resources (none, one or two).
fn changes(request_id: &str, n: usize) -> Vec<Change> {
    (0..n % 3)
        .map(|k| Change {
            resource_type: "thing",
            resource_name: format!("things/{request_id}-{k}"),
            action: ChangeAction::Created,
            version: 1,
            resource: None,
        })
        .collect()
}

async fn put(records: &Records, request_id: &str, n: usize) {
    let changes = changes(request_id, n);
    records
        .apply(&mutation(request_id), |transaction: DatabaseTransaction| {
            let changes = changes.clone();
            crate::within(transaction, async move |_: &DatabaseTransaction| {
                Ok(((), changes))
            })
        })
        .await
        .unwrap();
}

async fn events(records: &Records, expected: usize) -> Vec<ChangeEvent> {
    let mut stream = records.feed().watch(0, Vec::new(), |event| event);
    next_items(&mut stream, expected).await
}

/// The next `count` items of a change stream, or a panic naming how many came.
async fn next_items<T, S>(stream: &mut S, count: usize) -> Vec<T>
where
    S: tokio_stream::Stream<Item = Result<T, tonic::Status>> + Unpin,
{
    let mut items = Vec::with_capacity(count);
    while items.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} events arrived", items.len()));
        items.push(next.unwrap().unwrap());
    }
    items
}

const WRITERS_PER_REPLICA: usize = 4;
const REQUESTS_PER_WRITER: usize = 25;

async fn two_replicas_sequence_every_mutation_once_and_in_order(database: TestDatabase) {
    let (stop, shutdown) = watch::channel(false);
    let first = replica(&database.url, &shutdown).await;
    let second = replica(&database.url, &shutdown).await;

    let writers: Vec<_> = [&first, &second]
        .into_iter()
        .enumerate()
        .flat_map(|(r, records)| {
            (0..WRITERS_PER_REPLICA).map(move |w| {
                let records = records.clone();
                tokio::spawn(async move {
                    for n in 0..REQUESTS_PER_WRITER {
                        put(&records, &format!("r{r}-w{w}-n{n}"), n).await;
                    }
                    // A retry is answered from the stored answer and records nothing.
                    put(&records, &format!("r{r}-w{w}-n1"), 1).await;
                })
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    let requests = 2 * WRITERS_PER_REPLICA * REQUESTS_PER_WRITER;
    let expected_events: usize =
        2 * WRITERS_PER_REPLICA * (0..REQUESTS_PER_WRITER).map(|n| n % 3).sum::<usize>();
    let events = events(&first, expected_events).await;
    let sequences: Vec<u64> = events.iter().map(|event| event.sequence).collect();
    assert_eq!(
        sequences,
        (1..=expected_events as u64).collect::<Vec<_>>(),
        "one gapless order"
    );
    // A request's events are adjacent and in the order the request listed them.
    let mut by_request: HashMap<&str, Vec<&ChangeEvent>> = HashMap::new();
    for event in &events {
        by_request.entry(&event.request_id).or_default().push(event);
    }
    for (request_id, listed) in &by_request {
        let names: Vec<String> = listed.iter().map(|e| e.resource_name.clone()).collect();
        let expected: Vec<String> = (0..names.len())
            .map(|k| format!("things/{request_id}-{k}"))
            .collect();
        assert_eq!(names, expected);
        assert!(
            listed
                .windows(2)
                .all(|pair| pair[1].sequence == pair[0].sequence + 1)
        );
    }

    second.sequence_pending().await.unwrap();
    let verification = crate::audit::verify_audit_log(first.database(), &first.keys, &first.states)
        .await
        .unwrap();
    assert!(verification.intact, "{verification:?}");
    assert_eq!(verification.records_checked, requests as u64);
    let pending = pending_record::Entity::find()
        .count(first.database().connection())
        .await
        .unwrap();
    assert_eq!(pending, 0);
    stop.send(true).unwrap();
}

/// A replica that committed and stopped before sequencing leaves pending rows; a
/// replica that starts later sequences them without being asked.
async fn records_left_pending_are_sequenced_at_start(database: TestDatabase) {
    let stopped = Database::connect(&database.url).await.unwrap();
    stopped.migrate::<RecordsOnly>().await.unwrap();
    // Committed as a mutation would be, with no sequencer running.
    stopped
        .write(|transaction| {
            crate::within(transaction, async |transaction: &DatabaseTransaction| {
                crate::mutation::record(
                    transaction,
                    &mutation("orphan"),
                    &(),
                    crate::pending::pending_row(
                        &records_keys(),
                        &mutation("orphan"),
                        &changes("orphan", 2),
                        Vec::new(),
                    ),
                    false,
                )
                .await
            })
        })
        .await
        .unwrap();
    stopped.close().await;

    let (_stop, shutdown) = watch::channel(false);
    let started = replica(&database.url, &shutdown).await;
    let events = events(&started, 2).await;
    assert_eq!(events[0].request_id, "orphan");
    assert_eq!(events[1].resource_name, "things/orphan-1");
    // Sequenced records join the tree within a quarter of a second; a flush
    // adds them at once.
    started.sequence_pending().await.unwrap();
    let verification =
        crate::audit::verify_audit_log(started.database(), &started.keys, &started.states)
            .await
            .unwrap();
    assert!(verification.intact, "{verification:?}");
    assert_eq!(verification.records_checked, 1);
}

/// What a mutation records arrives as it was sent, whatever its characters: the
/// SQLite path sends two statements in one script with their values bound.
async fn recorded_text_and_answers_survive_quoting(database: TestDatabase) {
    let (_stop, shutdown) = watch::channel(false);
    let records = replica(&database.url, &shutdown).await;
    let awkward = "Akimat 'Turkestan' \\ \"Сайрам\" -- ; DROP TABLE audit_log; Қ'ғ";
    let mutation = Mutation {
        agency: awkward.into(),
        actor: format!("o'{awkward}"),
        ..mutation("quoted")
    };
    let answer = LocalizedText {
        kk: awkward.into(),
        ru: "with \0 inside: a\0b".into(),
        en: "'".repeat(3),
    };
    let change = Change {
        resource_type: "thing",
        resource_name: format!("things/{awkward}"),
        action: ChangeAction::Created,
        version: 1,
        resource: None,
    };
    for _attempt in 0..2 {
        let replied = records
            .apply(&mutation, |transaction: DatabaseTransaction| {
                let (answer, change) = (answer.clone(), change.clone());
                crate::within(transaction, async move |_: &DatabaseTransaction| {
                    Ok((answer, vec![change]))
                })
            })
            .await
            .unwrap();
        assert_eq!(replied, answer, "the first answer, and the same on retry");
    }
    let events = events(&records, 1).await;
    assert_eq!(events[0].resource_name, change.resource_name);
    assert_eq!(events[0].actor, mutation.actor);
    records.sequence_pending().await.unwrap();
    let audit = audit_record::Entity::find()
        .all(records.database().connection())
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].agency, awkward);
    assert_eq!(audit[0].resource_name, change.resource_name);
    let verification =
        crate::audit::verify_audit_log(records.database(), &records.keys, &records.states)
            .await
            .unwrap();
    assert!(verification.intact, "{verification:?}");
}

/// What a test mutation does: `Checked` counts a tally up once and refuses when
/// it has been counted (as a decision refuses a decided application); `Unchecked`
/// adds a thing under a new id each time it runs, and so succeeds every time.
#[derive(Clone, Copy, Debug)]
enum Work {
    Checked,
    Unchecked,
}

/// The tables `Work` writes to.
async fn create_work_tables(db: &impl ConnectionTrait) {
    db.execute_unprepared(
        "CREATE TABLE tallies (id BIGINT PRIMARY KEY, value BIGINT NOT NULL); \
         INSERT INTO tallies (id, value) VALUES (1, 0); \
         CREATE TABLE things (id BIGINT PRIMARY KEY)",
    )
    .await
    .unwrap();
}

async fn apply_work(
    records: &Records,
    mutation: &Mutation,
    work: Work,
    next_thing: &AtomicI64,
) -> Result<LocalizedText, Error> {
    records
        .apply(mutation, |transaction: DatabaseTransaction| {
            crate::within(transaction, async move |tx: &DatabaseTransaction| {
                let answer = match work {
                    Work::Checked => {
                        let lock = match tx.get_database_backend() {
                            DatabaseBackend::Postgres => " FOR UPDATE",
                            _ => "",
                        };
                        let row = tx
                            .query_one_raw(Statement::from_string(
                                tx.get_database_backend(),
                                format!("SELECT value FROM tallies WHERE id = 1{lock}"),
                            ))
                            .await?
                            .ok_or_else(|| Error::internal("no tally"))?;
                        let value: i64 = row.try_get("", "value")?;
                        if value > 0 {
                            return Err(Error::precondition("TALLIED", "tallies/1", "counted"));
                        }
                        tx.execute_unprepared("UPDATE tallies SET value = value + 1 WHERE id = 1")
                            .await?;
                        "tallied".to_owned()
                    }
                    Work::Unchecked => {
                        let id = next_thing.fetch_add(1, Ordering::Relaxed);
                        tx.execute_unprepared(&format!("INSERT INTO things (id) VALUES ({id})"))
                            .await?;
                        format!("thing {id}")
                    }
                };
                let change = Change {
                    resource_type: "thing",
                    resource_name: format!("things/{answer}"),
                    action: ChangeAction::Created,
                    version: 1,
                    resource: None,
                };
                Ok((
                    LocalizedText {
                        en: answer,
                        ..LocalizedText::default()
                    },
                    vec![change],
                ))
            })
        })
        .await
}

/// One request sent eight times at once to two replicas, then once more: every
/// caller gets the first run's answer and it is applied once, whether the
/// duplicates fail the checks the first run changed or would succeed on their
/// own. Another request under the same id is refused and changes nothing.
async fn a_request_sent_many_times_at_once_is_applied_once(database: TestDatabase) {
    let (_stop, shutdown) = watch::channel(false);
    let replicas = [
        replica(&database.url, &shutdown).await,
        replica(&database.url, &shutdown).await,
    ];
    let db = replicas[0].database().connection();
    create_work_tables(db).await;
    let next_thing = Arc::new(AtomicI64::new(1));
    for work in [Work::Checked, Work::Unchecked] {
        let mutation = mutation(&format!("{work:?}"));
        let duplicates: Vec<_> = (0..8)
            .map(|n| {
                let (records, mutation) = (replicas[n % 2].clone(), mutation.clone());
                let next_thing = next_thing.clone();
                tokio::spawn(
                    async move { apply_work(&records, &mutation, work, &next_thing).await },
                )
            })
            .collect();
        let mut answers = Vec::new();
        for duplicate in duplicates {
            answers.push(duplicate.await.unwrap().unwrap());
        }
        answers.push(
            apply_work(&replicas[1], &mutation, work, &next_thing)
                .await
                .unwrap(),
        );
        assert!(
            answers.iter().all(|a| *a == answers[0]),
            "{work:?}: {answers:?}"
        );

        let other = Mutation {
            request_digest: "f".repeat(64),
            ..mutation.clone()
        };
        let refused = apply_work(&replicas[0], &other, work, &next_thing).await;
        assert!(
            matches!(refused, Err(Error::AlreadyExists { .. })),
            "{refused:?}"
        );
    }
    let count = |sql: &'static str| async move {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    assert_eq!(count("SELECT value FROM tallies WHERE id = 1").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM things").await, 1);
    for records in &replicas {
        records.sequence_pending().await.unwrap();
    }
    let recorded = audit_record::Entity::find().count(db).await.unwrap();
    assert_eq!(recorded, 2, "one audit record per request");
}

/// The records of a request whose id was claimed before its work (the attempts
/// after one found the id taken) fill in the claimed id's answer.
async fn a_claimed_request_id_gets_its_answer(database: TestDatabase) {
    let (_stop, shutdown) = watch::channel(false);
    let records = replica(&database.url, &shutdown).await;
    create_work_tables(records.database().connection()).await;
    let claimed = mutation("claimed");
    let answer = LocalizedText {
        en: "the answer".into(),
        ..LocalizedText::default()
    };
    let stored = records
        .database()
        .write(|transaction| {
            let (claimed, answer) = (claimed.clone(), answer.clone());
            crate::within(transaction, async move |tx: &DatabaseTransaction| {
                assert!(crate::mutation::claim(tx, &claimed).await?);
                assert!(!crate::mutation::claim(tx, &claimed).await?, "taken once");
                crate::mutation::record(
                    tx,
                    &claimed,
                    &answer,
                    crate::pending::pending_row(
                        &records_keys(),
                        &claimed,
                        &changes("claimed", 1),
                        Vec::new(),
                    ),
                    true,
                )
                .await
            })
        })
        .await
        .unwrap();
    assert!(stored);
    let next_thing = AtomicI64::new(1);
    let replayed = apply_work(&records, &claimed, Work::Unchecked, &next_thing).await;
    assert_eq!(replayed, Ok(answer));
    assert_eq!(
        next_thing.load(Ordering::Relaxed),
        2,
        "the work ran, and was undone"
    );
}

/// A log kept before the transparency log existed (a database migrated from
/// the plain chain: no tree, no checkpoint): its records join the tree in
/// order when a replica starts, before any new record.
async fn records_from_before_the_log_join_its_tree(database: TestDatabase) {
    let (stop, shutdown) = watch::channel(false);
    let first = replica(&database.url, &shutdown).await;
    for n in 0..7 {
        put(&first, &format!("old-{n}"), n).await;
    }
    first.sequence_pending().await.unwrap();
    stop.send(true).unwrap();
    let connection = first.database().connection();
    connection
        .execute_unprepared("DELETE FROM log_nodes")
        .await
        .unwrap();
    connection
        .execute_unprepared("UPDATE record_heads SET tree_size = 0, checkpoint = ''")
        .await
        .unwrap();

    let (_stop, shutdown) = watch::channel(false);
    let later = replica(&database.url, &shutdown).await;
    put(&later, "new", 1).await;
    later.sequence_pending().await.unwrap();
    let verification = crate::audit::verify_audit_log(later.database(), &later.keys, &later.states)
        .await
        .unwrap();
    assert!(verification.intact, "{verification:?}");
    assert_eq!(verification.checkpoint.unwrap().tree_size, 8);
}

/// A genuine pending row copied, MAC and all, is chained once: the copy is
/// refused and reported, as a forged row is.
async fn a_copied_pending_row_is_refused(database: TestDatabase) {
    let (_stop, shutdown) = watch::channel(false);
    let records = replica(&database.url, &shutdown).await;
    put(&records, "first", 1).await;
    records.sequence_pending().await.unwrap();
    let copy = crate::pending::pending_row(
        &records_keys(),
        &mutation("copied"),
        &changes("copied", 1),
        Vec::new(),
    );
    for _ in 0..2 {
        let row = pending_record::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            ..sea_orm::IntoActiveModel::into_active_model(copy.clone())
        };
        pending_record::Entity::insert(row)
            .exec(records.database().connection())
            .await
            .unwrap();
    }
    // And one of an earlier request, already in the log.
    let replayed = crate::pending::pending_row(
        &records_keys(),
        &mutation("first"),
        &changes("first", 1),
        Vec::new(),
    );
    pending_record::Entity::insert(pending_record::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        ..sea_orm::IntoActiveModel::into_active_model(replayed)
    })
    .exec(records.database().connection())
    .await
    .unwrap();
    records.sequence_pending().await.unwrap();
    let verification =
        crate::audit::verify_audit_log(records.database(), &records.keys, &records.states)
            .await
            .unwrap();
    assert!(!verification.intact);
    assert_eq!(verification.refused_records, 2, "{verification:?}");
    assert!(
        verification.reason.contains("copied"),
        "{}",
        verification.reason
    );
    let logged = audit_record::Entity::find()
        .count(records.database().connection())
        .await
        .unwrap();
    assert_eq!(logged, 2, "first and one copy of copied");
}

on_both_backends!(
    a_copied_pending_row_is_refused,
    records_from_before_the_log_join_its_tree,
    a_claimed_request_id_gets_its_answer,
    a_request_sent_many_times_at_once_is_applied_once,
    two_replicas_sequence_every_mutation_once_and_in_order,
    records_left_pending_are_sequenced_at_start,
    recorded_text_and_answers_survive_quoting,
);
