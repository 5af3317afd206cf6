use aimaq_error::Error;
use aimaq_proto::common::v1::{AuditRecord, AuditVerification};
use aimaq_storage::Database;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

use crate::entities::{audit_record, record_head};

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
        }
    }
}

const PAGE: u64 = 1000;

/// Recomputes the whole chain, a page at a time, and reports the first record that
/// does not match its content, its predecessor, or the recorded head.
pub(crate) async fn verify_audit_log(database: &Database) -> Result<AuditVerification, Error> {
    let connection = database.connection();
    let mut previous_hash = String::new();
    let mut previous_sequence = 0i64;
    let mut checked = 0u64;
    let broken = |sequence: i64, checked: u64, reason: String| AuditVerification {
        intact: false,
        records_checked: checked,
        first_broken_sequence: u64::try_from(sequence).unwrap_or(0),
        reason,
        head_hash: String::new(),
    };
    loop {
        let page = audit_record::Entity::find()
            .filter(audit_record::Column::Sequence.gt(previous_sequence))
            .order_by_asc(audit_record::Column::Sequence)
            .limit(PAGE)
            .all(connection)
            .await?;
        let last_page = (page.len() as u64) < PAGE;
        for row in &page {
            checked += 1;
            if row.sequence != previous_sequence + 1 {
                return Ok(broken(
                    previous_sequence + 1,
                    checked,
                    format!("record {} is missing", previous_sequence + 1),
                ));
            }
            if row.prev_hash != previous_hash {
                return Ok(broken(
                    row.sequence,
                    checked,
                    "previous hash mismatch".into(),
                ));
            }
            if chain_hash(&previous_hash, &AuditFields::from(row)) != row.hash {
                return Ok(broken(
                    row.sequence,
                    checked,
                    "hash does not match the record's content".into(),
                ));
            }
            previous_hash = row.hash.clone();
            previous_sequence = row.sequence;
        }
        if last_page {
            break;
        }
    }
    let head = record_head::Entity::find_by_id(1)
        .one(connection)
        .await?
        .ok_or_else(|| Error::internal("record_heads is empty"))?;
    if head.audit_sequence != previous_sequence || head.audit_hash != previous_hash {
        return Ok(broken(
            previous_sequence + 1,
            checked,
            format!(
                "the log ends at record {previous_sequence} but the head records {}",
                head.audit_sequence
            ),
        ));
    }
    Ok(AuditVerification {
        intact: true,
        records_checked: checked,
        first_broken_sequence: 0,
        reason: String::new(),
        head_hash: previous_hash,
    })
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

fn to_proto(row: &audit_record::Model) -> AuditRecord {
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
    } = AuditFields::from(row);
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
