//! Record keeping every Aimaq service shares, written in the same transaction as
//! the mutation it records:
//!
//! - **idempotency**: the `request_id` of every accepted mutation is stored with a
//!   digest of the request and the encoded response; a retry returns that response
//!   and changes nothing, a different request under the same id is refused;
//! - **audit log**: who, when, which RPC, which resource, the request digest, and a
//!   SHA-256 hash chained to the previous record ([`verify_audit_log`] recomputes it);
//! - **change feed**: events with a per-service sequence that grows by one and
//!   becomes visible in order, replayed and then tailed live by [`ChangeFeed`].
//!
//! The mutation's transaction stores its audit record and change events unsequenced;
//! right after commit a sequencer gives them their sequences and hashes, many at a
//! time, under the single `record_heads` row lock (see `sequencer.rs`). Writers do
//! not queue on that lock, and nothing committed can miss its records.

mod audit;
mod cosignatures;
mod entities;
mod evidence;
mod feed;
mod keys;
mod log;
mod logcheck;
mod logpass;
mod migration;
mod mutation;
mod pending;
mod platform;
mod refusal;
mod resources;
mod sequencer;
mod statecheck;
mod states;
#[cfg(test)]
mod tests;

pub use aimaq_storage::within;
pub use audit::AuditQuery;
pub use feed::{ChangeFeed, FeedQueries};
pub use keys::LogKeys;
pub use migration::{
    ChangeResources, CreatePendingRecords, CreateRecordTables, LogCosignatures, RecordCertificates,
    StateDigests, TraceParents, TransparencyLog,
};
pub use mutation::{Change, Mutation, Records, next_version};
pub use resources::{Held, ResourceMessages};
pub use states::{ResourceStates, StateTable, name_fields, name_number};

pub use aimaq_proto::common::v1::ChangeAction;

/// What a recorded operation answers: the message stored with its request id
/// and given again to a retry. An operation returns domain values; the API turns
/// them into this answer inside the transaction that records it.
pub trait Answer: prost::Message + Default {}

impl<T: prost::Message + Default> Answer for T {}

/// Implements the platform RPCs, `WatchChanges`, `VerifyAuditLog`,
/// `ListAuditRecords`, `GetCheckpoint`, `AddCosignature`, `GetInclusionProof`
/// and `GetConsistencyProof`, inside a backend's `#[tonic::async_trait]` service impl:
/// the same code for every service, typed by its own proto package. Needs
/// `self.records: Records` and the package's `WatchChanges*`,
/// `VerifyAuditLog*` and `ListAuditRecords*` messages in scope. The methods
/// are written in the form `async_trait` gives them, since it does not see
/// inside macros.
#[macro_export]
macro_rules! platform_rpcs {
    ($read_scope:expr) => {
        type WatchChangesStream = ::tonic::codegen::BoxStream<WatchChangesResponse>;

        fn watch_changes<'life0, 'async_trait>(
            &'life0 self,
            request: ::tonic::Request<WatchChangesRequest>,
        ) -> ::std::pin::Pin<
            Box<
                dyn ::std::future::Future<
                        Output = Result<
                            ::tonic::Response<Self::WatchChangesStream>,
                            ::tonic::Status,
                        >,
                    > + Send
                    + 'async_trait,
            >,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let body = request.get_ref();
                let stream = self.records.watch(
                    ::aimaq_auth::Caller::of(&request)?,
                    $read_scope,
                    body.after_sequence,
                    body.resource_types.clone(),
                    |event| WatchChangesResponse { event: Some(event) },
                )?;
                Ok(::tonic::Response::new(
                    Box::pin(stream) as ::tonic::codegen::BoxStream<WatchChangesResponse>
                ))
            })
        }

        fn verify_audit_log<'life0, 'async_trait>(
            &'life0 self,
            request: ::tonic::Request<VerifyAuditLogRequest>,
        ) -> ::std::pin::Pin<
            Box<
                dyn ::std::future::Future<
                        Output = Result<::tonic::Response<VerifyAuditLogResponse>, ::tonic::Status>,
                    > + Send
                    + 'async_trait,
            >,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let caller = ::aimaq_auth::Caller::of(&request)?;
                let verification = self.records.verify_audit_log(caller).await?;
                Ok(::tonic::Response::new(VerifyAuditLogResponse {
                    verification: Some(verification),
                }))
            })
        }

        $crate::platform_unary!(
            list_audit_records,
            ListAuditRecordsRequest,
            ListAuditRecordsResponse,
            |records, caller, body| {
                let query = ::aimaq_records::AuditQuery::new(
                    body.after_sequence,
                    body.page_size,
                    &body.actor,
                    &body.resource_type,
                    &body.resource_name,
                )?;
                let (records, next_after_sequence) =
                    records.list_audit_records(caller, &query).await?;
                ListAuditRecordsResponse {
                    records,
                    next_after_sequence,
                }
            }
        );

        $crate::platform_unary!(
            get_checkpoint,
            GetCheckpointRequest,
            GetCheckpointResponse,
            |records, _caller, _body| {
                GetCheckpointResponse {
                    checkpoint: Some(records.checkpoint().await?),
                    cosigned: records.cosigned_checkpoints().await?,
                }
            }
        );

        $crate::platform_unary!(
            add_cosignature,
            AddCosignatureRequest,
            AddCosignatureResponse,
            |records, _caller, body| {
                AddCosignatureResponse {
                    witnesses: records.add_cosignature(&body.note).await?,
                }
            }
        );

        $crate::platform_unary!(
            get_inclusion_proof,
            GetInclusionProofRequest,
            GetInclusionProofResponse,
            |records, _caller, body| {
                GetInclusionProofResponse {
                    proof: Some(
                        records
                            .inclusion_proof(body.sequence, body.tree_size)
                            .await?,
                    ),
                }
            }
        );

        $crate::platform_unary!(
            get_consistency_proof,
            GetConsistencyProofRequest,
            GetConsistencyProofResponse,
            |records, _caller, body| {
                GetConsistencyProofResponse {
                    proof: Some(
                        records
                            .consistency_proof(body.from_size, body.to_size)
                            .await?,
                    ),
                }
            }
        );
    };
}

/// One unary platform RPC in the form `async_trait` gives it (it does not see
/// inside macros): `$answer` computes the response from `self.records`, the
/// verified caller and the request body, `?` turning errors into statuses.
#[doc(hidden)]
#[macro_export]
macro_rules! platform_unary {
    ($method:ident, $request:ident, $response:ident, |$records:ident, $caller:ident, $body:ident| $answer:block) => {
        fn $method<'life0, 'async_trait>(
            &'life0 self,
            request: ::tonic::Request<$request>,
        ) -> ::std::pin::Pin<
            Box<
                dyn ::std::future::Future<
                        Output = Result<::tonic::Response<$response>, ::tonic::Status>,
                    > + Send
                    + 'async_trait,
            >,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let $caller = ::aimaq_auth::Caller::of(&request)?;
                let $body = request.get_ref();
                let $records = &self.records;
                let answer: $response = $answer;
                Ok(::tonic::Response::new(answer))
            })
        }
    };
}
