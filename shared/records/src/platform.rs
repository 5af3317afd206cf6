//! The platform RPCs every service serves from its record keeping: the change
//! feed, the audit log's records and verification, and its transparency
//! log's checkpoint and proofs.

use aimaq_auth::{Caller, Scope};
use aimaq_error::Error;
use aimaq_proto::common::v1::{
    AuditRecord, AuditVerification, ChangeEvent, ConsistencyProof, InclusionProof, LogCheckpoint,
};
use aimaq_server::Permitted;
use sea_orm::EntityTrait;
use tokio_stream::wrappers::ReceiverStream;

use crate::Records;
use crate::entities::record_head;

impl Records {
    /// `WatchChanges` for a caller holding `read_scope` (or `audit`): events after
    /// `after_sequence`, wrapped in the service's response message.
    pub fn watch<T: Send + 'static>(
        &self,
        caller: &Caller,
        read_scope: Scope,
        after_sequence: u64,
        resource_types: Vec<String>,
        wrap: fn(ChangeEvent) -> T,
    ) -> Result<Permitted<ReceiverStream<Result<T, tonic::Status>>>, Error> {
        if !caller.has(Scope::Audit) {
            caller.require(read_scope)?;
        }
        let permit = self.open_stream(caller)?;
        let stream = self.feed().watch(after_sequence, resource_types, wrap);
        Ok(Permitted::new(stream, permit))
    }

    /// `VerifyAuditLog` for a caller holding the `audit` scope.
    pub async fn verify_audit_log(&self, caller: &Caller) -> Result<AuditVerification, Error> {
        caller.require(Scope::Audit)?;
        // What is committed is verified, including records not yet sequenced;
        // a pass that refuses a rewritten tree leaves the finding to the check.
        if let Err(error) = self.sequencer.flush().await {
            tracing::warn!(%error, "sequencing before verifying the audit log");
        }
        crate::audit::verify_audit_log(&self.database, &self.keys, &self.states).await
    }

    /// `ListAuditRecords` for a caller holding the `audit` scope: a page of
    /// the log, and where the next one starts (0: none).
    pub async fn list_audit_records(
        &self,
        caller: &Caller,
        query: &crate::AuditQuery,
    ) -> Result<(Vec<AuditRecord>, u64), Error> {
        caller.require(Scope::Audit)?;
        // What is committed is listed, including records not yet sequenced;
        // when a pass is refused (a rewritten tree), what is logged still is.
        if let Err(error) = self.sequencer.flush().await {
            tracing::warn!(%error, "sequencing before listing the audit log");
        }
        crate::audit::list_audit_records(&self.database, query).await
    }

    /// The public key the log's checkpoints verify with.
    pub fn log_verifier_key(&self) -> String {
        self.keys.verifier_key()
    }

    /// `GetCheckpoint`: the latest checkpoint, signed by the current key
    /// (signed now when the stored one is not: a new log, a rotated key).
    /// Any verified caller: it discloses a size and a hash.
    pub async fn checkpoint(&self) -> Result<LogCheckpoint, Error> {
        let note = self.signed_checkpoint().await?;
        crate::log::to_proto(&note)
    }

    async fn signed_checkpoint(&self) -> Result<String, Error> {
        // What is committed is checkpointed: a caller sees its own writes (a
        // pass at most: a log still being built answers with the part built).
        // A pass refused (a rewritten tree) leaves the last signed one.
        if let Err(error) = self.sequencer.pass_if_pending().await {
            tracing::warn!(%error, "sequencing before a checkpoint");
        }
        if let Some(note) = self.stored_checkpoint().await? {
            return Ok(note);
        }
        self.sequencer.flush().await?;
        self.stored_checkpoint().await?.ok_or_else(|| {
            Error::internal("the audit log has no checkpoint signed by this service's key")
        })
    }

    /// The stored checkpoint when it is signed by the current key; the last
    /// one found so is remembered, so that proofs do not verify it again.
    async fn stored_checkpoint(&self) -> Result<Option<String>, Error> {
        let stored = record_head::Entity::find_by_id(1)
            .one(self.database.connection())
            .await?
            .ok_or_else(|| Error::internal("record_heads is empty"))?
            .checkpoint;
        let mut checked = self
            .checked_checkpoint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *checked == stored {
            return Ok(Some(stored));
        }
        if crate::log::signed_by(&self.keys, &stored).is_none() {
            return Ok(None);
        }
        checked.clone_from(&stored);
        Ok(Some(stored))
    }

    /// The size of the latest signed checkpoint, read unless `wanted` (a
    /// size a caller holds) is within the largest seen: the log only grows.
    /// Proofs are asked for sizes a caller holds, so nothing is sequenced.
    async fn logged_size(&self, wanted: u64) -> Result<u64, Error> {
        let known = self.logged.load(std::sync::atomic::Ordering::Relaxed);
        if wanted != 0 && wanted <= known {
            return Ok(known);
        }
        let note = match self.stored_checkpoint().await? {
            Some(note) => note,
            None => self.signed_checkpoint().await?,
        };
        let size = crate::log::to_proto(&note)?.tree_size;
        self.logged
            .fetch_max(size, std::sync::atomic::Ordering::Relaxed);
        Ok(size)
    }

    /// `GetInclusionProof`: record `sequence` in the log at `tree_size`
    /// (0: the latest checkpoint's size). Any caller.
    pub async fn inclusion_proof(
        &self,
        sequence: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, Error> {
        let latest = self.logged_size(tree_size).await?;
        let size = if tree_size == 0 { latest } else { tree_size };
        if size > latest {
            return Err(Error::invalid(
                "tree_size",
                format!("at most {latest}, the size of the latest checkpoint"),
            ));
        }
        if sequence == 0 || sequence > size {
            return Err(Error::invalid(
                "sequence",
                format!("a record of the log at size {size}: 1 to {size}"),
            ));
        }
        crate::log::inclusion_proof(self.database.connection(), sequence - 1, size).await
    }

    /// `GetConsistencyProof`: from the log at `from_size` to the log at
    /// `to_size` (0: the latest checkpoint's size). Any caller.
    pub async fn consistency_proof(
        &self,
        from_size: u64,
        to_size: u64,
    ) -> Result<ConsistencyProof, Error> {
        let latest = self.logged_size(to_size).await?;
        let to = if to_size == 0 { latest } else { to_size };
        if to > latest {
            return Err(Error::invalid(
                "to_size",
                format!("at most {latest}, the size of the latest checkpoint"),
            ));
        }
        if from_size > to {
            return Err(Error::invalid(
                "from_size",
                format!("at most to_size ({to})"),
            ));
        }
        crate::log::consistency_proof(self.database.connection(), from_size, to).await
    }
}
