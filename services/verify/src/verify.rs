//! A whole verification, online: the current checkpoint, its consistency
//! with a saved one, and the records of a range with their change events.

use std::ops::RangeInclusive;

use aimaq_tlog::NoteVerifier;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost::Message;

use crate::checks::{
    FeedEvent, Finding, Verified, check_events, check_extends, check_included, open_checkpoint,
};
use crate::source::{GrpcLog, SourceError};

/// What to check.
pub struct Options {
    pub log_key: NoteVerifier,
    /// Cosigners whose signatures are counted (none required).
    pub witnesses: Vec<NoteVerifier>,
    /// A checkpoint saved before (its note), which the current must extend.
    pub saved: Option<String>,
    /// A checkpoint a witness cosigned (its note, from the witness's file),
    /// which the current must extend too; its cosigners among `witnesses`
    /// are reported. Without it, the cosigned checkpoints the log serves
    /// back are checked so.
    pub witnessed: Option<String>,
    /// Of `witnesses`, how many must have cosigned a checkpoint the current
    /// one extends.
    pub min_cosigners: usize,
    /// Records whose inclusion is checked.
    pub records: Option<RangeInclusive<u64>>,
    /// Whether those records' change events are compared with the feed.
    pub events: bool,
}

/// What was verified.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub cosigned_by: Vec<String>,
    /// The saved checkpoint's size the log was shown to extend.
    pub extends_saved_size: Option<u64>,
    /// The witnessed checkpoint's size the log was shown to extend.
    pub extends_witnessed_size: Option<u64>,
    pub records_included: u64,
    pub events_checked: u64,
    /// The checkpoint, to be saved for the next run.
    #[serde(skip)]
    pub checkpoint_note: String,
}

impl Report {
    fn of(verified: &Verified) -> Report {
        Report {
            origin: verified.checkpoint.origin.clone(),
            tree_size: verified.checkpoint.size,
            root_hash: BASE64.encode(verified.checkpoint.root),
            cosigned_by: verified.cosigned_by.clone(),
            extends_saved_size: None,
            extends_witnessed_size: None,
            records_included: 0,
            events_checked: 0,
            checkpoint_note: verified.note.clone(),
        }
    }
}

/// Runs the checks against `log`; the first finding ends them.
pub async fn verify(log: &GrpcLog, options: &Options) -> Result<Report, SourceError> {
    let served = log.checkpoints().await?;
    let current = open_checkpoint(&served.latest, &options.log_key, &options.witnesses)?;
    let mut report = Report::of(&current);
    if let Some(saved) = &options.saved {
        let saved = open_checkpoint(saved, &options.log_key, &[])?.checkpoint;
        let proof = extension_proof(log, &saved, &current.checkpoint).await?;
        check_extends(&saved, &current.checkpoint, &proof)?;
        report.extends_saved_size = Some(saved.size);
    }
    if let Some(witnessed) = &options.witnessed {
        let witnessed = open_checkpoint(witnessed, &options.log_key, &options.witnesses)?;
        let proof = extension_proof(log, &witnessed.checkpoint, &current.checkpoint).await?;
        check_extends(&witnessed.checkpoint, &current.checkpoint, &proof)?;
        report.extends_witnessed_size = Some(witnessed.checkpoint.size);
        report.cosigned_by = witnessed.cosigned_by;
    } else if !options.witnesses.is_empty() {
        let (size, cosigned_by) =
            served_cosignatures(log, options, &served.cosigned, &current.checkpoint).await?;
        report.extends_witnessed_size = size;
        report.cosigned_by = cosigned_by;
    }
    if report.cosigned_by.len() < options.min_cosigners {
        return Err(Finding::TooFewCosigners {
            wanted: options.min_cosigners,
            found: report.cosigned_by.len(),
        }
        .into());
    }
    if let Some(range) = &options.records {
        let (included, events) = verify_records(log, &current, range, options.events).await?;
        report.records_included = included;
        report.events_checked = events;
    }
    Ok(report)
}

/// The cosigned checkpoints the log serves back, each checked: signed by the
/// log, cosigned by one of the witnesses given (others are passed over),
/// and extended by `current`. The largest such size, and the witnesses.
async fn served_cosignatures(
    log: &GrpcLog,
    options: &Options,
    notes: &[String],
    current: &aimaq_tlog::Checkpoint,
) -> Result<(Option<u64>, Vec<String>), SourceError> {
    let (mut largest, mut cosigned_by) = (None, Vec::new());
    for note in notes {
        let cosigned = open_checkpoint(note, &options.log_key, &options.witnesses)?;
        if cosigned.cosigned_by.is_empty() {
            continue;
        }
        let proof = extension_proof(log, &cosigned.checkpoint, current).await?;
        check_extends(&cosigned.checkpoint, current, &proof)?;
        largest = largest.max(Some(cosigned.checkpoint.size));
        cosigned_by.extend(cosigned.cosigned_by);
    }
    cosigned_by.sort_unstable();
    cosigned_by.dedup();
    Ok((largest, cosigned_by))
}

/// The consistency proof from `older` to `current`, when one is needed.
async fn extension_proof(
    log: &GrpcLog,
    older: &aimaq_tlog::Checkpoint,
    current: &aimaq_tlog::Checkpoint,
) -> Result<Vec<aimaq_tlog::Hash>, SourceError> {
    if older.size < current.size {
        log.consistency(older.size, current.size).await
    } else {
        Ok(Vec::new())
    }
}

async fn verify_records(
    log: &GrpcLog,
    current: &Verified,
    range: &RangeInclusive<u64>,
    with_events: bool,
) -> Result<(u64, u64), SourceError> {
    let last = (*range.end()).min(current.checkpoint.size);
    let mut after = range.start().saturating_sub(1);
    let (mut included, mut events) = (0, 0);
    while after < last {
        let (records, next) = log.records(after, 1000).await?;
        let page: Vec<_> = records
            .into_iter()
            .take_while(|r| r.sequence <= last)
            .collect();
        let feed = if with_events {
            log.events_of(&page).await?
        } else {
            Vec::new()
        };
        for record in &page {
            if record.sequence != after + 1 {
                return Err(Finding::NotIncluded {
                    sequence: after + 1,
                    reason: "the service did not return it".into(),
                }
                .into());
            }
            let proof = log
                .inclusion(record.sequence, current.checkpoint.size)
                .await?;
            check_included(record, &current.checkpoint, &proof)?;
            included += 1;
            if with_events && record.change_count > 0 {
                check_events(record, &feed)?;
                events += u64::from(record.change_count);
            }
            after = record.sequence;
        }
        if next == 0 || page.is_empty() {
            break;
        }
    }
    if after < last {
        return Err(Finding::NotIncluded {
            sequence: after + 1,
            reason: "the service did not return it".into(),
        }
        .into());
    }
    Ok((included, events))
}

/// A range of records saved with their proofs, checkable offline.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Export {
    /// The signed checkpoint the proofs are against.
    pub checkpoint: String,
    pub records: Vec<ExportedRecord>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExportedRecord {
    pub sequence: u64,
    /// The `aimaq.common.v1.AuditRecord`, protobuf-encoded, base64.
    pub record: String,
    /// The audit path, base64 hashes.
    pub proof: Vec<String>,
    /// The change events the feed holds for the record, checked offline
    /// against what the record committed to.
    #[serde(default)]
    pub events: Vec<FeedEvent>,
}

/// Saves the records of `range` with inclusion proofs against the current
/// checkpoint (which is itself checked first).
pub async fn export(
    log: &GrpcLog,
    log_key: &NoteVerifier,
    range: &RangeInclusive<u64>,
) -> Result<Export, SourceError> {
    let note = log.checkpoint().await?;
    let current = open_checkpoint(&note, log_key, &[])?;
    let last = (*range.end()).min(current.checkpoint.size);
    let mut after = range.start().saturating_sub(1);
    let mut records = Vec::new();
    while after < last {
        let (page, next) = log.records(after, 1000).await?;
        let page: Vec<_> = page
            .into_iter()
            .take_while(|r| r.sequence <= last)
            .collect();
        let feed = log.events_of(&page).await?;
        for record in &page {
            let proof = log
                .inclusion(record.sequence, current.checkpoint.size)
                .await?;
            let emitted = record.first_change_sequence
                ..record.first_change_sequence + u64::from(record.change_count);
            records.push(ExportedRecord {
                sequence: record.sequence,
                record: BASE64.encode(record.encode_to_vec()),
                proof: proof.iter().map(|hash| BASE64.encode(hash)).collect(),
                events: feed
                    .iter()
                    .filter(|event| emitted.contains(&event.sequence))
                    .cloned()
                    .collect(),
            });
            after = record.sequence;
        }
        if next == 0 || page.is_empty() {
            break;
        }
    }
    Ok(Export {
        checkpoint: note,
        records,
    })
}

/// Checks an export offline: its checkpoint's signature (a saved checkpoint
/// of the same size must have the same root, and none may be larger), each
/// record's leaf and proof, its change events against what it committed
/// to, and that the range has no gap.
pub fn verify_export(
    export: &Export,
    log_key: &NoteVerifier,
    saved: Option<&str>,
) -> Result<Report, Finding> {
    let current = open_checkpoint(&export.checkpoint, log_key, &[])?;
    let mut report = Report::of(&current);
    if let Some(saved) = saved {
        let saved = open_checkpoint(saved, log_key, &[])?.checkpoint;
        if saved.size > current.checkpoint.size {
            return Err(Finding::RolledBack {
                saved: saved.size,
                current: current.checkpoint.size,
            });
        }
        if saved.size == current.checkpoint.size {
            check_extends(&saved, &current.checkpoint, &[])?;
            report.extends_saved_size = Some(saved.size);
        }
    }
    let first = export.records.first().map_or(0, |r| r.sequence);
    for (expected, exported) in (first..).zip(&export.records) {
        let malformed =
            |what: &str| Finding::Malformed(format!("record {}: {what}", exported.sequence));
        let bytes = BASE64
            .decode(&exported.record)
            .map_err(|_| malformed("not base64"))?;
        let record = aimaq_proto::common::v1::AuditRecord::decode(bytes.as_slice())
            .map_err(|_| malformed("not an AuditRecord"))?;
        if record.sequence != expected || record.sequence != exported.sequence {
            return Err(Finding::NotIncluded {
                sequence: expected,
                reason: "missing from the export".into(),
            });
        }
        let proof = exported
            .proof
            .iter()
            .map(|hash| {
                BASE64
                    .decode(hash)
                    .map_err(|_| malformed("a proof hash is not base64"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_included(
            &record,
            &current.checkpoint,
            &crate::checks::hashes(&proof)?,
        )?;
        report.records_included += 1;
        if record.change_count > 0 {
            check_events(&record, &exported.events)?;
            report.events_checked += u64::from(record.change_count);
        }
    }
    Ok(report)
}
