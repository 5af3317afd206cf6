use aimaq_error::Error;
use aimaq_proto::common::v1::{AuditRecord, AuditVerification};
use aimaq_storage::Database;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

use crate::entities::{audit_record, record_head};
use crate::keys::LogKeys;
use crate::states::ResourceStates;

/// The content of an audit record that its hash covers.
pub(crate) struct AuditFields {
    pub sequence: i64,
    pub occurred_at_micros: i64,
    pub actor: String,
    pub agency: String,
    pub method: String,
    pub resource_type: String,
    pub resource_name: String,
    pub request_id: String,
    pub request_digest: String,
    pub certificate: String,
    /// Covered by the record's leaf in the log, not by the older chain hash.
    pub first_change_sequence: i64,
    pub change_count: i32,
    pub events_digest: String,
}

impl AuditFields {
    /// What the record's leaf in the transparency log commits to.
    pub fn leaf(&self) -> aimaq_tlog::AuditLeaf<'_> {
        aimaq_tlog::AuditLeaf {
            sequence: u64::try_from(self.sequence).unwrap_or(0),
            occurred_at_micros: self.occurred_at_micros,
            actor: &self.actor,
            agency: &self.agency,
            method: &self.method,
            resource_type: &self.resource_type,
            resource_name: &self.resource_name,
            request_id: &self.request_id,
            request_digest: &self.request_digest,
            certificate: &self.certificate,
            first_change_sequence: u64::try_from(self.first_change_sequence).unwrap_or(0),
            change_count: u32::try_from(self.change_count).unwrap_or(0),
            events_digest: &self.events_digest,
        }
    }
}

/// SHA-256 over the previous hash and every field, each length-prefixed so that no
/// two different records encode alike. The certificate subject is hashed when
/// there is one, so records from before it was kept verify as they did.
pub(crate) fn chain_hash(prev_hash: &str, fields: &AuditFields) -> String {
    let mut hasher = Sha256::new();
    let sequence = fields.sequence.to_string();
    let occurred = fields.occurred_at_micros.to_string();
    for part in [
        prev_hash,
        &sequence,
        &occurred,
        &fields.actor,
        &fields.agency,
        &fields.method,
        &fields.resource_type,
        &fields.resource_name,
        &fields.request_id,
        &fields.request_digest,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    if !fields.certificate.is_empty() {
        hasher.update(b"certificate");
        hasher.update((fields.certificate.len() as u64).to_be_bytes());
        hasher.update(fields.certificate.as_bytes());
    }
    hex::encode(hasher.finalize())
}

impl From<&audit_record::Model> for AuditFields {
    fn from(row: &audit_record::Model) -> AuditFields {
        AuditFields {
            sequence: row.sequence,
            occurred_at_micros: row.occurred_at_micros,
            actor: row.actor.clone(),
            agency: row.agency.clone(),
            method: row.method.clone(),
            resource_type: row.resource_type.clone(),
            resource_name: row.resource_name.clone(),
            request_id: row.request_id.clone(),
            request_digest: row.request_digest.clone(),
            certificate: row.certificate.clone(),
            first_change_sequence: row.first_change_sequence,
            change_count: row.change_count,
            events_digest: row.events_digest.clone(),
        }
    }
}

const PAGE: u64 = 1000;

/// Recomputes the whole chain, a page at a time, checks each record against
/// its leaf and its change events, then the tree against the signed
/// checkpoint; reports the first record that fails, and refused forgeries.
pub(crate) async fn verify_audit_log(
    database: &Database,
    keys: &LogKeys,
    states: &ResourceStates,
) -> Result<AuditVerification, Error> {
    let connection = database.connection();
    let mut walk = ChainWalk::default();
    loop {
        let page = audit_record::Entity::find()
            .filter(audit_record::Column::Sequence.gt(walk.sequence))
            .order_by_asc(audit_record::Column::Sequence)
            .limit(PAGE)
            .all(connection)
            .await?;
        if let Some(finding) = walk.follow(&page) {
            return walk.broken(finding);
        }
        if let Some(finding) = crate::logcheck::check_page(connection, &page).await? {
            return walk.broken(finding);
        }
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    let head = record_head::Entity::find_by_id(1)
        .one(connection)
        .await?
        .ok_or_else(|| Error::internal("record_heads is empty"))?;
    if head.audit_sequence != walk.sequence || head.audit_hash != walk.hash {
        let reason = format!(
            "the log ends at record {} but the head records {}",
            walk.sequence, head.audit_sequence
        );
        return walk.broken((walk.sequence + 1, reason));
    }
    if let Some(finding) =
        crate::logcheck::check_tree(connection, keys, &head, walk.sequence).await?
    {
        return walk.broken(finding);
    }
    let checkpoint = Some(crate::log::to_proto(&head.checkpoint)?);
    let (refused_records, first_refused) = crate::logcheck::refused(connection).await?;
    if let Some(first) = first_refused {
        let reason = format!(
            "{refused_records} pending record(s) written past the service were refused (the first: request {} by {}, {})",
            first.request_id, first.actor, first.reason
        );
        return Ok(AuditVerification {
            refused_records,
            checkpoint,
            ..walk.broken((walk.sequence + 1, reason))?
        });
    }
    let states = crate::statecheck::check_states(database, keys, states).await?;
    let found = AuditVerification {
        resources_checked: states.checked,
        resources_without_digest: states.without_digest,
        checkpoint,
        ..AuditVerification::default()
    };
    if let Some((resource, reason)) = states.altered {
        return Ok(AuditVerification {
            records_checked: walk.checked,
            reason,
            altered_resource: resource,
            ..found
        });
    }
    Ok(AuditVerification {
        intact: true,
        records_checked: walk.checked,
        head_hash: walk.hash,
        ..found
    })
}

/// Where a walk along the chain has come to.
#[derive(Default)]
struct ChainWalk {
    sequence: i64,
    hash: String,
    checked: u64,
}

impl ChainWalk {
    /// Follows the chain through `page`; the first record that breaks it.
    fn follow(&mut self, page: &[audit_record::Model]) -> Option<(i64, String)> {
        for row in page {
            self.checked += 1;
            if row.sequence != self.sequence + 1 {
                let missing = self.sequence + 1;
                return Some((missing, format!("record {missing} is missing")));
            }
            if row.prev_hash != self.hash {
                return Some((row.sequence, "previous hash mismatch".into()));
            }
            if chain_hash(&self.hash, &AuditFields::from(row)) != row.hash {
                return Some((
                    row.sequence,
                    "hash does not match the record's content".into(),
                ));
            }
            self.hash = row.hash.clone();
            self.sequence = row.sequence;
        }
        None
    }

    fn broken(&self, (sequence, reason): (i64, String)) -> Result<AuditVerification, Error> {
        Ok(AuditVerification {
            intact: false,
            records_checked: self.checked,
            first_broken_sequence: u64::try_from(sequence).unwrap_or(0),
            reason,
            ..AuditVerification::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> AuditFields {
        AuditFields {
            sequence: 7,
            occurred_at_micros: 1_700_000_000_000_000,
            actor: "akimat-61".into(),
            agency: "Turkestan region akimat".into(),
            method: "/aimaq.governance.v1.GovernanceService/UpsertTerritory".into(),
            resource_type: "territory".into(),
            resource_name: "territories/613633100".into(),
            request_id: "r-1".into(),
            request_digest: "ab".repeat(32),
            certificate: String::new(),
            first_change_sequence: 0,
            change_count: 0,
            events_digest: String::new(),
        }
    }

    #[test]
    fn the_hash_covers_every_field_and_the_predecessor() {
        let base = chain_hash("prev", &fields());
        assert_eq!(base, chain_hash("prev", &fields()), "deterministic");
        assert_eq!(base.len(), 64);
        assert_ne!(base, chain_hash("other", &fields()));
        let mut changed = fields();
        changed.actor = "mallory".into();
        assert_ne!(base, chain_hash("prev", &changed));
        let mut changed = fields();
        changed.occurred_at_micros += 1;
        assert_ne!(base, chain_hash("prev", &changed));
        let mut changed = fields();
        changed.certificate = "CN=akimat-61".into();
        assert_ne!(base, chain_hash("prev", &changed));
        let mut other = fields();
        other.certificate = "CN=mallory".into();
        assert_ne!(chain_hash("prev", &changed), chain_hash("prev", &other));
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let mut a = fields();
        a.actor = "ab".into();
        a.agency = "c".into();
        let mut b = fields();
        b.actor = "a".into();
        b.agency = "bc".into();
        assert_ne!(chain_hash("", &a), chain_hash("", &b));
    }
}

/// What `ListAuditRecords` asks, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub after_sequence: u64,
    pub page_size: u64,
    pub actor: String,
    pub resource_type: String,
    pub resource_name: String,
}

/// Records a page holds when the caller does not say.
const DEFAULT_PAGE: u64 = 100;

impl AuditQuery {
    /// The query, or INVALID_ARGUMENT naming `page_size` outside 0–1000.
    pub fn new(
        after_sequence: u64,
        page_size: i32,
        actor: &str,
        resource_type: &str,
        resource_name: &str,
    ) -> Result<AuditQuery, Error> {
        let page_size = match u64::try_from(page_size) {
            Ok(0) => DEFAULT_PAGE,
            Ok(size) if size <= PAGE => size,
            _ => return Err(Error::invalid("page_size", format!("0 to {PAGE}"))),
        };
        Ok(AuditQuery {
            after_sequence,
            page_size,
            actor: actor.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_name: resource_name.to_owned(),
        })
    }
}

/// A page of records after `query.after_sequence`, and where the next page
/// starts (0: none). Filters are exact matches; an audit of one actor reads
/// the log in sequence order, as an auditor would.
pub(crate) async fn list_audit_records(
    database: &Database,
    query: &AuditQuery,
) -> Result<(Vec<AuditRecord>, u64), Error> {
    let after = i64::try_from(query.after_sequence).unwrap_or(i64::MAX);
    let mut select = audit_record::Entity::find().filter(audit_record::Column::Sequence.gt(after));
    for (column, value) in [
        (audit_record::Column::Actor, &query.actor),
        (audit_record::Column::ResourceType, &query.resource_type),
        (audit_record::Column::ResourceName, &query.resource_name),
    ] {
        if !value.is_empty() {
            select = select.filter(column.eq(value.as_str()));
        }
    }
    let mut rows = select
        .order_by_asc(audit_record::Column::Sequence)
        .limit(query.page_size + 1)
        .all(database.connection())
        .await?;
    let more = rows.len() as u64 > query.page_size;
    rows.truncate(usize::try_from(query.page_size).unwrap_or(usize::MAX));
    let next = match (more, rows.last()) {
        (true, Some(last)) => u64::try_from(last.sequence).unwrap_or(0),
        _ => 0,
    };
    Ok((rows.iter().map(to_proto).collect(), next))
}

pub(crate) fn to_proto(row: &audit_record::Model) -> AuditRecord {
    let fields = AuditFields::from(row);
    let leaf_hash = fields.leaf().hash().to_vec();
    let AuditFields {
        sequence,
        occurred_at_micros,
        actor,
        agency,
        method,
        resource_type,
        resource_name,
        request_id,
        request_digest,
        certificate,
        first_change_sequence,
        change_count,
        events_digest,
    } = fields;
    AuditRecord {
        sequence: u64::try_from(sequence).unwrap_or(0),
        time: Some(aimaq_proto::timestamp_from_micros(occurred_at_micros)),
        actor,
        agency,
        method,
        resource_type,
        resource_name,
        request_id,
        request_digest,
        certificate,
        previous_hash: row.prev_hash.clone(),
        hash: row.hash.clone(),
        first_change_sequence: u64::try_from(first_change_sequence).unwrap_or(0),
        change_count: u32::try_from(change_count).unwrap_or(0),
        events_digest,
        leaf_hash,
    }
}

#[cfg(test)]
mod query_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pages_are_bounded() {
        assert_eq!(
            AuditQuery::new(0, 0, "", "", "").unwrap().page_size,
            DEFAULT_PAGE
        );
        assert_eq!(
            AuditQuery::new(5, 1000, "a", "", "").unwrap().page_size,
            1000
        );
        for refused in [-1, 1001] {
            let error = AuditQuery::new(0, refused, "", "", "").unwrap_err();
            assert!(error.to_string().contains("page_size"), "{error}");
        }
    }
}
