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
mod entities;
mod feed;
mod migration;
mod mutation;
mod sequencer;
#[cfg(test)]
mod tests;

pub use aimaq_storage::within;
pub use audit::AuditQuery;
pub use feed::ChangeFeed;
pub use migration::{CreatePendingRecords, CreateRecordTables, RecordCertificates};
pub use mutation::{Change, Mutation, Records, next_version};

pub use aimaq_proto::common::v1::ChangeAction;

/// What a recorded operation answers: the message stored with its request id
/// and given again to a retry. An operation returns domain values; the API turns
/// them into this answer inside the transaction that records it.
pub trait Answer: prost::Message + Default {}

impl<T: prost::Message + Default> Answer for T {}

/// Implements the platform RPCs, `WatchChanges`, `VerifyAuditLog` and
/// `ListAuditRecords`, inside a backend's `#[tonic::async_trait]` service impl:
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

        fn list_audit_records<'life0, 'async_trait>(
            &'life0 self,
            request: ::tonic::Request<ListAuditRecordsRequest>,
        ) -> ::std::pin::Pin<
            Box<
                dyn ::std::future::Future<
                        Output = Result<
                            ::tonic::Response<ListAuditRecordsResponse>,
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
                let caller = ::aimaq_auth::Caller::of(&request)?;
                let body = request.get_ref();
                let query = ::aimaq_records::AuditQuery::new(
                    body.after_sequence,
                    body.page_size,
                    &body.actor,
                    &body.resource_type,
                    &body.resource_name,
                )?;
                let (records, next_after_sequence) =
                    self.records.list_audit_records(caller, &query).await?;
                Ok(::tonic::Response::new(ListAuditRecordsResponse {
                    records,
                    next_after_sequence,
                }))
            })
        }
    };
}
