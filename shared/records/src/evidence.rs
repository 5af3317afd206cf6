//! The evidence of resources' stored state that anyone holding the log's
//! public key can check offline: each resource's rows, the audit record of
//! its last change with that record's events, and the record's inclusion
//! proof, all against one signed checkpoint.

use aimaq_error::Error;
use aimaq_proto::common::v1::{LogCheckpoint, ResourceEvidence};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{audit_record, change_event};
use crate::mutation::Records;

impl Records {
    /// The evidence of each `(type, name)` resource's current state. Every
    /// change committed so far is logged first; FAILED_PRECONDITION names a
    /// resource no recorded change (with a state digest) wrote, UNAVAILABLE
    /// one that changed while it was read.
    pub async fn evidence(
        &self,
        resources: &[(String, String)],
    ) -> Result<(LogCheckpoint, Vec<ResourceEvidence>), Error> {
        self.sequencer.flush().await?;
        let checkpoint = self.checkpoint().await?;
        let found = self.evidence_in(resources, checkpoint.tree_size).await?;
        Ok((checkpoint, found))
    }

    /// As [`Records::evidence`], with proofs against the log of `tree_size`
    /// records, which a checkpoint signed earlier names (a later page of
    /// evidence, proved against the first page's checkpoint). Nothing is
    /// signed here: a size past the current checkpoint's is refused.
    pub async fn evidence_at(
        &self,
        resources: &[(String, String)],
        tree_size: u64,
    ) -> Result<Vec<ResourceEvidence>, Error> {
        let current = self.checkpoint().await?.tree_size;
        if tree_size == 0 || tree_size > current {
            return Err(Error::invalid(
                "page_token",
                format!("names a log of {tree_size} records; it holds {current}"),
            ));
        }
        self.evidence_in(resources, tree_size).await
    }

    async fn evidence_in(
        &self,
        resources: &[(String, String)],
        tree_size: u64,
    ) -> Result<Vec<ResourceEvidence>, Error> {
        let transaction = self.database.begin_snapshot().await?;
        let mut found = Vec::with_capacity(resources.len());
        for (resource_type, name) in resources {
            let mut evidence = self
                .evidence_of(&transaction, resource_type, name, tree_size)
                .await?;
            let sequence = evidence.record.as_ref().map_or(0, |r| r.sequence);
            evidence.proof = Some(
                crate::log::inclusion_proof(&transaction, sequence.saturating_sub(1), tree_size)
                    .await?,
            );
            found.push(evidence);
        }
        transaction.commit().await?;
        Ok(found)
    }

    async fn evidence_of(
        &self,
        transaction: &DatabaseTransaction,
        resource_type: &str,
        name: &str,
        tree_size: u64,
    ) -> Result<ResourceEvidence, Error> {
        let unrecorded = || {
            Error::precondition(
                "UNRECORDED",
                name,
                format!("no change of {name} recorded its state: there is no evidence of it"),
            )
        };
        let last = change_event::Entity::find()
            .filter(change_event::Column::ResourceName.eq(name))
            .filter(change_event::Column::ResourceType.eq(resource_type))
            .order_by_desc(change_event::Column::Sequence)
            .one(transaction)
            .await?
            .filter(|event| !event.state_digest.is_empty())
            .ok_or_else(unrecorded)?;
        let record = audit_record::Entity::find()
            .filter(audit_record::Column::RequestId.eq(last.request_id.as_str()))
            .one(transaction)
            .await?
            .ok_or_else(unrecorded)?;
        let (rows, digest) = self
            .states
            .literal_rows(transaction, resource_type, name)
            .await?;
        if digest != last.state_digest {
            return Err(Error::precondition(
                "ALTERED",
                name,
                format!(
                    "the stored rows of {name} differ from what its last recorded change \
                     committed to: altered past the service (VerifyAuditLog names such rows), \
                     or changing now (retry)"
                ),
            ));
        }
        if !u64::try_from(record.sequence).is_ok_and(|s| s >= 1 && s <= tree_size) {
            return Err(Error::Unavailable(format!(
                "{name} changed after the checkpoint was signed; retry"
            )));
        }
        let events = change_event::Entity::find()
            .filter(change_event::Column::Sequence.between(
                record.first_change_sequence,
                record.first_change_sequence + i64::from(record.change_count) - 1,
            ))
            .order_by_asc(change_event::Column::Sequence)
            .all(transaction)
            .await?;
        Ok(ResourceEvidence {
            resource_type: resource_type.to_owned(),
            resource_name: name.to_owned(),
            rows,
            record: Some(crate::audit::to_proto(&record)),
            events: events.into_iter().map(crate::feed::to_proto).collect(),
            proof: None,
        })
    }
}
