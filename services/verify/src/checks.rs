//! The checks themselves, on values already fetched: nothing here reads a
//! database or shares code with the services beyond `aimaq_tlog`'s
//! definitions of hashes, notes and records.

use aimaq_proto::common::v1::{AuditRecord, ChangeEvent};
use aimaq_tlog::{
    AuditLeaf, Checkpoint, EventFields, Hash, Note, NoteVerifier, events_digest, resource_digest,
    verify_consistency, verify_inclusion,
};

/// Why the log cannot be trusted, or why the check could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Finding {
    #[error("the checkpoint is not validly signed by {key}: {reason}")]
    BadSignature { key: String, reason: String },
    #[error("the checkpoint names the log {found}, not {expected}")]
    WrongOrigin { expected: String, found: String },
    #[error("the log shrank: it held {saved} records, now {current} (rolled back or truncated)")]
    RolledBack { saved: u64, current: u64 },
    #[error(
        "the log at size {size} has two different roots (a fork, or its history was rewritten)"
    )]
    Forked { size: u64 },
    #[error(
        "the log at size {to} does not extend the saved one at size {from}: its history was rewritten ({reason})"
    )]
    Inconsistent { from: u64, to: u64, reason: String },
    #[error("record {sequence} is not in the log as checkpointed: {reason}")]
    NotIncluded { sequence: u64, reason: String },
    #[error("record {sequence}'s change events differ from those it committed to")]
    EventsDiffer { sequence: u64 },
    #[error("{resource}'s rows differ from the state its last change committed to")]
    StateDiffers { resource: String },
    #[error(
        "{found} of the witnesses given cosigned a checkpoint the log extends; {wanted} are required"
    )]
    TooFewCosigners { wanted: usize, found: usize },
    #[error("the recount differs from the certified results: {reason}")]
    RecountDiffers { reason: String },
    #[error("{0}")]
    Malformed(String),
}

/// A checkpoint whose signature by the log's key verified, with the
/// witnesses (of those given) whose cosignatures verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub note: String,
    pub checkpoint: Checkpoint,
    pub cosigned_by: Vec<String>,
}

/// Opens a signed checkpoint: the log key's signature must verify and name
/// the log (origin = key name); cosignatures of `witnesses` are counted.
pub fn open_checkpoint(
    note: &str,
    log_key: &NoteVerifier,
    witnesses: &[NoteVerifier],
) -> Result<Verified, Finding> {
    let bad = |reason: String| Finding::BadSignature {
        key: log_key.name().to_owned(),
        reason,
    };
    let parsed = Note::parse(note).map_err(|e| bad(e.to_string()))?;
    parsed
        .verified_by(log_key)
        .map_err(|e| bad(e.to_string()))?;
    let checkpoint = Checkpoint::parse(&parsed.text).map_err(|e| bad(e.to_string()))?;
    if checkpoint.origin != log_key.name() {
        return Err(Finding::WrongOrigin {
            expected: log_key.name().to_owned(),
            found: checkpoint.origin,
        });
    }
    let cosigned_by = witnesses
        .iter()
        .filter(|witness| parsed.verified_by(witness).is_ok())
        .map(|witness| witness.name().to_owned())
        .collect();
    Ok(Verified {
        note: note.to_owned(),
        checkpoint,
        cosigned_by,
    })
}

/// Checks that `current` extends `saved` by the consistency proof `proof`.
pub fn check_extends(
    saved: &Checkpoint,
    current: &Checkpoint,
    proof: &[Hash],
) -> Result<(), Finding> {
    if current.size < saved.size {
        return Err(Finding::RolledBack {
            saved: saved.size,
            current: current.size,
        });
    }
    if current.size == saved.size && current.root != saved.root {
        return Err(Finding::Forked { size: saved.size });
    }
    verify_consistency(saved.size, current.size, &saved.root, &current.root, proof).map_err(
        |error| Finding::Inconsistent {
            from: saved.size,
            to: current.size,
            reason: error.to_string(),
        },
    )
}

/// The leaf hash of a record as served, recomputed from its fields.
pub fn record_leaf(record: &AuditRecord) -> Hash {
    aimaq_tlog::leaf_hash(&record_leaf_data(record))
}

/// The canonical encoding of a record as served: its leaf's data.
pub fn record_leaf_data(record: &AuditRecord) -> Vec<u8> {
    let time = record.time.unwrap_or_default();
    let micros = time.seconds * 1_000_000 + i64::from(time.nanos) / 1000;
    AuditLeaf {
        sequence: record.sequence,
        occurred_at_micros: micros,
        actor: &record.actor,
        agency: &record.agency,
        method: &record.method,
        resource_type: &record.resource_type,
        resource_name: &record.resource_name,
        request_id: &record.request_id,
        request_digest: &record.request_digest,
        certificate: &record.certificate,
        first_change_sequence: record.first_change_sequence,
        change_count: record.change_count,
        events_digest: &record.events_digest,
    }
    .encode()
}

/// Checks that `record` is leaf `sequence - 1` of the checkpointed tree, by
/// the inclusion proof `proof` (hashes of the audit path).
pub fn check_included(
    record: &AuditRecord,
    checkpoint: &Checkpoint,
    proof: &[Hash],
) -> Result<(), Finding> {
    let sequence = record.sequence;
    let index = sequence
        .checked_sub(1)
        .ok_or_else(|| Finding::NotIncluded {
            sequence,
            reason: "a record's sequence starts at 1".into(),
        })?;
    verify_inclusion(
        index,
        checkpoint.size,
        &record_leaf(record),
        proof,
        &checkpoint.root,
    )
    .map_err(|error| Finding::NotIncluded {
        sequence,
        reason: error.to_string(),
    })
}

/// A change event as read from the feed (and kept in an export).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedEvent {
    pub sequence: u64,
    pub resource_type: String,
    pub resource_name: String,
    pub action: i32,
    pub resource_version: i64,
    /// The digest of the resource's state the event committed to (may be
    /// empty); exports from before it was kept read as empty.
    #[serde(default)]
    pub state_digest: String,
    /// The digest of the resource the event carried (empty when none);
    /// exports from before events carried resources read as empty.
    #[serde(default)]
    pub resource_digest: String,
}

impl From<&ChangeEvent> for FeedEvent {
    fn from(event: &ChangeEvent) -> FeedEvent {
        FeedEvent {
            sequence: event.sequence,
            resource_type: event.resource_type.clone(),
            resource_name: event.resource_name.clone(),
            action: event.action,
            resource_version: event.resource_version,
            state_digest: event.state_digest.clone(),
            resource_digest: event
                .resource
                .as_ref()
                .map(|any| resource_digest(&any.type_url, &any.value))
                .unwrap_or_default(),
        }
    }
}

/// Checks that the feed's events of `record` are those it committed to.
pub fn check_events(record: &AuditRecord, events: &[FeedEvent]) -> Result<(), Finding> {
    let wanted =
        record.first_change_sequence..record.first_change_sequence + u64::from(record.change_count);
    let mine: Vec<&FeedEvent> = events
        .iter()
        .filter(|e| wanted.contains(&e.sequence))
        .collect();
    let digest = events_digest(mine.iter().map(|event| EventFields {
        sequence: event.sequence,
        resource_type: &event.resource_type,
        resource_name: &event.resource_name,
        action: event.action,
        resource_version: event.resource_version,
        state_digest: &event.state_digest,
        resource_digest: &event.resource_digest,
    }));
    if mine.len() != record.change_count as usize || digest != record.events_digest {
        return Err(Finding::EventsDiffer {
            sequence: record.sequence,
        });
    }
    Ok(())
}

/// Hashes from their wire form.
pub fn hashes(list: &[Vec<u8>]) -> Result<Vec<Hash>, Finding> {
    list.iter()
        .map(|bytes| {
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| Finding::Malformed("a proof hash is not 32 bytes".into()))
        })
        .collect()
}
