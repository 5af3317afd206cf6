use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use aimaq_auth::Caller;
use aimaq_error::Error;
use aimaq_proto::common::v1::ChangeAction;
use aimaq_server::{StreamLimits, StreamPermit};
use aimaq_storage::Database;
use aimaq_telemetry::RpcMethod;
use prost::Message;
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, InsertStatement, OnConflict, Query,
    SqliteQueryBuilder, SubQueryStatement, UpdateStatement, Values, WithClause,
};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, Statement, StatementBuilder,
};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tonic::Request;

use crate::entities::{idempotency_key, pending_record, record_head};
use crate::feed::ChangeFeed;
use crate::keys::LogKeys;
use crate::pending::{pending_insert, pending_row, pending_values};
use crate::resources::{Held, ResourceMessages};
use crate::sequencer::Sequencer;
use crate::states::ResourceStates;

/// One accepted mutation as the API layer describes it before running it.
#[derive(Debug, Clone)]
pub struct Mutation {
    /// Full gRPC method, for example `/aimaq.governance.v1.GovernanceService/UpsertTerritory`.
    pub method: String,
    pub request_id: String,
    /// Hex SHA-256 of the method, the caller and the encoded request.
    pub request_digest: String,
    pub actor: String,
    pub agency: String,
    /// The subject of the caller's client certificate; empty without one.
    pub certificate: String,
    /// The request's W3C traceparent, for its change events; empty untraced.
    pub trace_parent: String,
}

/// A resource the mutation changed; the first one is the audit record's resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub resource_type: &'static str,
    pub resource_name: String,
    pub action: ChangeAction,
    pub version: i64,
    /// A value the change's event is to carry as its resource, when the
    /// resource's row alone does not make its message (see `resources.rs`).
    pub resource: Option<Held>,
}

const MAX_REQUEST_ID: usize = 128;

impl Mutation {
    /// Describes the mutation a verified request asks for: `body` is what the
    /// request asks (for a stream, its messages combined). INVALID_ARGUMENT naming
    /// `request_id` when it is missing or malformed.
    pub fn of<T, M: Message>(
        request: &Request<T>,
        body: &M,
        request_id: &str,
    ) -> Result<Mutation, Error> {
        let caller = Caller::of(request)?;
        let method = request
            .extensions()
            .get::<RpcMethod>()
            .map(|method| method.0.clone())
            .ok_or_else(|| Error::internal("the request carries no gRPC method"))?;
        let well_formed = !request_id.is_empty()
            && request_id.len() <= MAX_REQUEST_ID
            && request_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if !well_formed {
            return Err(Error::invalid(
                "request_id",
                "required: 1 to 128 characters of letters, digits and . _ : -",
            ));
        }
        // The caller is part of the request: another system reusing an id neither
        // replays nor sees the first caller's answer.
        let mut hasher = Sha256::new();
        for part in [method.as_bytes(), caller.subject.as_bytes()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.update(body.encode_to_vec());
        Ok(Mutation {
            method,
            request_id: request_id.to_owned(),
            request_digest: hex::encode(hasher.finalize()),
            actor: caller.subject.clone(),
            agency: caller.agency.clone(),
            certificate: caller.certificate_subject().to_owned(),
            trace_parent: aimaq_telemetry::current_traceparent(),
        })
    }
}

/// A service's record keeping: applies mutations with their records and feeds the
/// change stream.
#[derive(Clone)]
pub struct Records {
    pub(crate) database: Database,
    pub(crate) keys: std::sync::Arc<LogKeys>,
    feed: ChangeFeed,
    pub(crate) sequencer: Sequencer,
    /// The last stored checkpoint whose signature was checked.
    pub(crate) checked_checkpoint: std::sync::Arc<std::sync::Mutex<String>>,
    /// The largest log size a signed checkpoint was seen at.
    pub(crate) logged: std::sync::Arc<std::sync::atomic::AtomicU64>,
    wake_sequencer: mpsc::Sender<()>,
    streams: StreamLimits,
    /// The resource types whose state the change events commit to.
    pub(crate) states: ResourceStates,
    /// How the change events' resources become messages.
    messages: ResourceMessages,
}

impl Records {
    /// `shutdown` turning true ends the live change streams, so a draining server
    /// is not held open by them.
    /// `keys` sign the audit log's checkpoints and MAC its pending records.
    pub async fn new(
        database: Database,
        shutdown: watch::Receiver<bool>,
        keys: LogKeys,
    ) -> Result<Records, Error> {
        let keys = std::sync::Arc::new(keys);
        let head = record_head::Entity::find_by_id(1)
            .one(database.connection())
            .await?
            .ok_or_else(|| Error::internal("record_heads is empty: migrations did not run"))?;
        let (committed, _) = watch::channel(u64::try_from(head.change_sequence).unwrap_or(0));
        let sequencer = Sequencer::new(database.for_passes(), committed.clone(), keys.clone());
        let wake_sequencer = sequencer.clone().start(shutdown.clone());
        let feed = ChangeFeed::start(
            database.clone(),
            committed.subscribe(),
            shutdown,
            head.change_sequence,
        );
        Ok(Records {
            database,
            keys,
            feed,
            sequencer,
            checked_checkpoint: std::sync::Arc::default(),
            logged: std::sync::Arc::default(),
            wake_sequencer,
            streams: StreamLimits::default(),
            states: ResourceStates::default(),
            messages: ResourceMessages::default(),
        })
    }

    /// Commits each change of the resource types `states` describes to the
    /// state of the resource's rows after it (see `states.rs`).
    pub fn with_states(mut self, states: ResourceStates) -> Records {
        self.states = states;
        self
    }

    /// Each change event carries its resource as `messages` encode it.
    pub fn with_messages(mut self, messages: ResourceMessages) -> Records {
        self.messages = messages;
        self
    }

    /// Caps the change-feed streams (and other streams the service opens with
    /// [`Records::open_stream`]) as the server's limits say.
    pub fn with_stream_limits(mut self, streams: StreamLimits) -> Records {
        self.streams = streams;
        self
    }

    /// A place for one more long-lived stream of `caller`, or RESOURCE_EXHAUSTED.
    pub fn open_stream(&self, caller: &Caller) -> Result<StreamPermit, Error> {
        self.streams.open(&caller.subject)
    }

    /// Gives every mutation committed so far its audit and change sequence; a
    /// draining service calls it last, after its final request.
    pub async fn sequence_pending(&self) -> Result<(), Error> {
        self.sequencer.flush().await
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The change feed of this service.
    pub fn feed(&self) -> ChangeFeed {
        self.feed.clone()
    }

    /// Applies a mutation once. In one transaction: a stored answer for the same
    /// `request_id` is returned as it was (ALREADY_EXISTS if the request differs);
    /// otherwise `work` runs, and its response, audit record and change events are
    /// stored with it. `work` may run more than once if the transaction loses a
    /// race, so it must do nothing outside the transaction.
    pub async fn apply<R, F, Fut>(&self, mutation: &Mutation, work: F) -> Result<R, Error>
    where
        R: Message + Default,
        F: Fn(DatabaseTransaction) -> Fut,
        Fut: Future<Output = (DatabaseTransaction, Result<(R, Vec<Change>), Error>)>,
    {
        let work = &work;
        // The request id is taken with the answer, after the work: a new request
        // (the usual case) spends no statement on it. An attempt that finds the id
        // taken then, or that fails while it is taken (a retry failing the checks
        // its first run changed), is rolled back, and the attempts after it claim
        // the id first and so meet the stored answer.
        let claim_first = &AtomicBool::new(false);
        let (response, recorded) = self
            .database
            .write(|transaction| async move {
                let claimed = claim_first.load(Ordering::Relaxed);
                if claimed {
                    match claim(&transaction, mutation).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let replay = replay(&transaction, mutation).await;
                            return (transaction, replay.map(|response| (response, false)));
                        }
                        Err(error) => return (transaction, Err(error)),
                    }
                }
                let (transaction, outcome) = work(transaction).await;
                let taken = || {
                    claim_first.store(true, Ordering::Relaxed);
                    Error::Conflict(format!(
                        "request_id {} is taken: answering from it",
                        mutation.request_id
                    ))
                };
                let outcome = match outcome {
                    Ok((response, changes)) => {
                        let states = self.states.after(&transaction, &changes, &self.messages);
                        match states.await {
                            Ok(states) => {
                                let pending = pending_row(&self.keys, mutation, &changes, states);
                                match record(&transaction, mutation, &response, pending, claimed)
                                    .await
                                {
                                    Ok(true) => Ok((response, true)),
                                    Ok(false) => Err(taken()),
                                    Err(error) => Err(error),
                                }
                            }
                            Err(error) => Err(error),
                        }
                    }
                    // With the id claimed there is nothing to look for; a conflict
                    // runs again anyway; after a database error the transaction
                    // may accept no more statements.
                    Err(error)
                        if claimed
                            || matches!(
                                error,
                                Error::Conflict(_) | Error::Internal(_) | Error::Unavailable(_)
                            ) =>
                    {
                        Err(error)
                    }
                    Err(error) => match is_taken(&transaction, mutation).await {
                        Ok(true) => Err(taken()),
                        Ok(false) | Err(_) => Err(error),
                    },
                };
                (transaction, outcome)
            })
            .await?;
        if recorded {
            // Full means a pass is already due, which will see this commit too.
            let _ = self.wake_sequencer.try_send(());
        }
        Ok(response)
    }
}

/// The stored answer to a request whose id is taken: ALREADY_EXISTS when the id
/// was used for another request, a conflict (the transaction runs again) when
/// the request that took it has not stored its answer.
async fn replay<R: Message + Default>(
    transaction: &DatabaseTransaction,
    mutation: &Mutation,
) -> Result<R, Error> {
    match stored_answer(transaction, mutation).await? {
        Some(bytes) => R::decode(bytes.as_slice())
            .map_err(|e| Error::internal(format!("stored response: {e}"))),
        None => Err(Error::Conflict(format!(
            "request_id {} was taken concurrently",
            mutation.request_id
        ))),
    }
}

/// Whether a request under this id has been applied (or is being applied, in
/// this transaction's view).
async fn is_taken(transaction: &DatabaseTransaction, mutation: &Mutation) -> Result<bool, Error> {
    Ok(
        idempotency_key::Entity::find_by_id(mutation.request_id.clone())
            .one(transaction)
            .await?
            .is_some(),
    )
}

/// The stored response for the request id, if the same request was applied before.
async fn stored_answer(
    transaction: &DatabaseTransaction,
    mutation: &Mutation,
) -> Result<Option<Vec<u8>>, Error> {
    let Some(stored) = idempotency_key::Entity::find_by_id(mutation.request_id.clone())
        .one(transaction)
        .await?
    else {
        return Ok(None);
    };
    if stored.method != mutation.method || stored.request_digest != mutation.request_digest {
        return Err(Error::already_exists(
            "request",
            &mutation.request_id,
            format!(
                "request_id {:?} was already used for a different request ({}); choose a new id",
                mutation.request_id, stored.method
            ),
        ));
    }
    tracing::info!(request_id = %mutation.request_id, "replaying the stored answer of a retried request");
    Ok(Some(stored.response))
}

/// Takes the request id before the work runs, once an attempt has found it
/// taken; false when it is taken. A concurrent request with the same id waits
/// here (PostgreSQL holds the new key until commit) and then finds the answer
/// stored.
pub(crate) async fn claim(
    transaction: &DatabaseTransaction,
    mutation: &Mutation,
) -> Result<bool, Error> {
    let claimed = transaction
        .execute(&key_insert(mutation, Vec::new()))
        .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Takes the request id with `response` unless it is taken.
fn key_insert(mutation: &Mutation, response: Vec<u8>) -> InsertStatement {
    Query::insert()
        .into_table(idempotency_key::Entity)
        .columns([
            idempotency_key::Column::RequestId,
            idempotency_key::Column::Method,
            idempotency_key::Column::RequestDigest,
            idempotency_key::Column::Response,
            idempotency_key::Column::Actor,
            idempotency_key::Column::CreatedAtMicros,
        ])
        .values_panic([
            mutation.request_id.clone().into(),
            mutation.method.clone().into(),
            mutation.request_digest.clone().into(),
            response.into(),
            mutation.actor.clone().into(),
            now_micros().into(),
        ])
        .on_conflict(
            OnConflict::column(idempotency_key::Column::RequestId)
                .do_nothing()
                .to_owned(),
        )
        .to_owned()
}

pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Stores the response under the request id, and the audit record and change
/// events as a pending row for the sequencer. `claimed`: the id was claimed
/// before the work and its answer is filled in; otherwise the id is taken here,
/// and false means another request holds it (nothing is stored then that the
/// caller's rollback would keep).
pub(crate) async fn record<R: Message>(
    transaction: &DatabaseTransaction,
    mutation: &Mutation,
    response: &R,
    pending: pending_record::Model,
    claimed: bool,
) -> Result<bool, Error> {
    let answer = if claimed {
        AnswerWrite::Fill(
            Query::update()
                .table(idempotency_key::Entity)
                .value(idempotency_key::Column::Response, response.encode_to_vec())
                .and_where(
                    Expr::col(idempotency_key::Column::RequestId).eq(mutation.request_id.clone()),
                )
                .to_owned(),
        )
    } else {
        AnswerWrite::Take(key_insert(mutation, response.encode_to_vec()))
    };
    let values = pending_values(pending);
    let backend = transaction.get_database_backend();
    let (statement, written_when) = if backend == DatabaseBackend::Postgres {
        // One round trip: the pending row is written only with the answer.
        let from_answer = Query::select()
            .exprs(values)
            .from(Alias::new("stored_answer"))
            .to_owned();
        let mut pending = pending_insert();
        pending
            .select_from(from_answer)
            .map_err(|e| Error::internal(format!("pending record: {e}")))?;
        let mut with = WithClause::new();
        with.cte(
            CommonTableExpression::new()
                .query(answer.returning_request_id())
                .table_name(Alias::new("stored_answer"))
                .to_owned(),
        );
        (StatementBuilder::build(&pending.with(with), &backend), 1)
    } else {
        // SQLite writers take turns, so every round trip to the connection's
        // thread lengthens the turn: both statements go in one, their values
        // bound in order, so that the text (and what SQLite prepares from it)
        // is the same every time. A taken id leaves the pending row alone in
        // the count.
        let (answer, mut bound) = answer.build(SqliteQueryBuilder);
        let (pending, pending_values) = pending_insert()
            .values_panic(values)
            .build(SqliteQueryBuilder);
        bound.0.extend(pending_values.0);
        let both = Statement::from_sql_and_values(backend, format!("{answer}; {pending}"), bound);
        (both, 2)
    };
    let written = transaction.execute_raw(statement).await?;
    Ok(written.rows_affected() == written_when)
}

/// How the answer is stored: filled in under an id claimed earlier, or taken
/// with the id now.
enum AnswerWrite {
    Fill(UpdateStatement),
    Take(InsertStatement),
}

impl AnswerWrite {
    /// The statement, yielding the request id of the row it wrote.
    fn returning_request_id(self) -> SubQueryStatement {
        match self {
            AnswerWrite::Fill(mut update) => update
                .returning_col(idempotency_key::Column::RequestId)
                .to_owned()
                .into(),
            AnswerWrite::Take(mut insert) => insert
                .returning_col(idempotency_key::Column::RequestId)
                .to_owned()
                .into(),
        }
    }

    fn build(&self, builder: SqliteQueryBuilder) -> (String, Values) {
        match self {
            AnswerWrite::Fill(update) => update.build(builder),
            AnswerWrite::Take(insert) => insert.build(builder),
        }
    }
}

impl Change {
    /// The change of a versioned resource that is now at `version`: created at
    /// version 1, updated after.
    pub fn versioned(resource_type: &'static str, resource_name: String, version: i64) -> Change {
        Change {
            resource_type,
            resource_name,
            action: if version == 1 {
                ChangeAction::Created
            } else {
                ChangeAction::Updated
            },
            version,
            resource: None,
        }
    }

    /// A change of `resource_type` whose event carries the resource as the
    /// service makes its message from `value`.
    pub fn holding<V: std::any::Any + Send + Sync>(mut self, value: V) -> Change {
        self.resource = Some(Held::new(value));
        self
    }

    /// As [`Change::holding`], where `row` is the resource's one stored row
    /// as it was just written: its state digest is made from `row` without
    /// reading it back. Only for a resource that has no other row.
    pub fn holding_with_row<V, R>(mut self, value: V, row: R) -> Change
    where
        V: std::any::Any + Send + Sync,
        R: std::any::Any + Send + Sync,
    {
        self.resource = Some(Held::with_row(value, row));
        self
    }
}

/// The version a create-or-update at `expected` leads to, given the `current` one:
/// 0 creates (ALREADY_EXISTS when the resource exists), the current version
/// updates (ABORTED when stale, NOT_FOUND when there is nothing to update).
pub fn next_version(
    resource_type: &str,
    name: &str,
    current: Option<i64>,
    expected: i64,
) -> Result<i64, Error> {
    match (current, expected) {
        (None, 0) => Ok(1),
        (None, _) => Err(Error::not_found(resource_type, name)),
        (Some(current), 0) => Err(Error::already_exists(
            resource_type,
            name,
            format!("{name} exists at version {current}; send that version to change it"),
        )),
        (Some(current), expected) if expected != current => {
            Err(Error::stale_version(name, expected, current))
        }
        (Some(current), _) => Ok(current + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_create_or_update() {
        assert_eq!(next_version("x", "xs/1", None, 0), Ok(1));
        assert!(matches!(
            next_version("x", "xs/1", None, 3),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            next_version("x", "xs/1", Some(2), 0),
            Err(Error::AlreadyExists { .. })
        ));
        assert!(matches!(
            next_version("x", "xs/1", Some(2), 1),
            Err(Error::Aborted(_))
        ));
        assert_eq!(next_version("x", "xs/1", Some(2), 2), Ok(3));
        assert_eq!(
            Change::versioned("x", "xs/1".into(), 1).action,
            ChangeAction::Created
        );
        assert_eq!(
            Change::versioned("x", "xs/1".into(), 4).action,
            ChangeAction::Updated
        );
    }
}
