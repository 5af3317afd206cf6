//! Witnesses' cosignatures of the log's checkpoints, served back with its
//! checkpoint (C2SP `tlog-cosignature/v1`). A witness that cosigned a
//! checkpoint hands the cosigned note to the log (`AddCosignature`); the log
//! keeps the latest one of each witness it is configured to accept, once the
//! note is a checkpoint it signed of its own tree and the cosignature
//! verifies. `GetCheckpoint` then shows them beside the latest checkpoint, so
//! that a verifier holding the witnesses' keys learns, from the log alone,
//! which of its checkpoints others saw, and checks that the log extends them.
//! A stored note proves nothing by itself: whoever reads it checks the
//! signatures again.

use aimaq_error::Error;
use aimaq_proto::common::v1::LogCheckpoint;
use aimaq_tlog::{Checkpoint, Note, NoteVerifier};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{EntityTrait, QueryOrder, Set};

use crate::Records;
use crate::entities::log_cosignature;

/// The longest note taken: a checkpoint with a few signature lines.
const MAX_NOTE_BYTES: usize = 4096;

impl Records {
    /// `AddCosignature`: keeps the cosignature of each accepted witness that
    /// `note` (a checkpoint of this log) carries, unless the witness's kept
    /// one is of a larger tree. Returns the witnesses whose cosignature
    /// verified.
    pub async fn add_cosignature(&self, note: &str) -> Result<Vec<String>, Error> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(Error::invalid(
                "note",
                format!("at most {MAX_NOTE_BYTES} bytes"),
            ));
        }
        let parsed = Note::parse(note).map_err(|e| Error::invalid("note", e.to_string()))?;
        let log_key = NoteVerifier::parse(&self.keys.verifier_key())
            .map_err(|e| Error::internal(format!("the log's key: {e}")))?;
        let (Some(log_line), Ok(checkpoint)) =
            (parsed.line_of(&log_key), Checkpoint::parse(&parsed.text))
        else {
            return Err(Error::invalid(
                "note",
                "not a checkpoint signed by this log's current key",
            ));
        };
        self.check_own_tree(&checkpoint).await?;
        let mut kept = Vec::new();
        for witness in self.keys.cosigners() {
            let Some(cosignature) = parsed.line_of(witness) else {
                continue;
            };
            let note = format!("{}\n{}{}", parsed.text, log_line.line, cosignature.line);
            self.keep(witness.name(), checkpoint.size, note).await?;
            kept.push(witness.name().to_owned());
        }
        if kept.is_empty() {
            return Err(Error::invalid(
                "note",
                "carries no valid cosignature of a witness this log accepts (--log-cosigner)",
            ));
        }
        tracing::info!(witnesses = ?kept, tree_size = checkpoint.size, "cosignatures kept");
        Ok(kept)
    }

    /// The latest checkpoint each accepted witness cosigned, with its
    /// cosignature, by witness name.
    pub async fn cosigned_checkpoints(&self) -> Result<Vec<LogCheckpoint>, Error> {
        let rows = log_cosignature::Entity::find()
            .order_by_asc(log_cosignature::Column::Witness)
            .all(self.database.connection())
            .await?;
        rows.iter()
            .filter(|row| {
                self.keys
                    .cosigners()
                    .iter()
                    .any(|witness| witness.name() == row.witness)
            })
            .map(|row| crate::log::to_proto(&row.note))
            .collect()
    }

    /// Refuses a checkpoint this log's key signed whose tree is not the log's
    /// own: larger than it, or with another root at that size (a fork).
    async fn check_own_tree(&self, checkpoint: &Checkpoint) -> Result<(), Error> {
        let current = self.checkpoint().await?.tree_size;
        if checkpoint.size > current {
            return Err(Error::invalid(
                "note",
                format!(
                    "a checkpoint of {} records; the log holds {current}",
                    checkpoint.size
                ),
            ));
        }
        let root = crate::log::root(self.database.connection(), checkpoint.size).await?;
        if root != checkpoint.root {
            tracing::error!(
                tree_size = checkpoint.size,
                "ALERT: a checkpoint signed by this log's key has a root its tree does not"
            );
            return Err(Error::precondition(
                "OWN_TREE",
                "note",
                "signed by this log's key, but its root is not the log's at that size",
            ));
        }
        Ok(())
    }

    /// Keeps `note` as `witness`'s latest, in one statement: a kept note of
    /// a larger tree stays (two hand-backs racing never move it back).
    async fn keep(&self, witness: &str, tree_size: u64, note: String) -> Result<(), Error> {
        let tree_size = i64::try_from(tree_size)
            .map_err(|_| Error::invalid("note", "a tree size out of range"))?;
        let row = log_cosignature::ActiveModel {
            witness: Set(witness.to_owned()),
            tree_size: Set(tree_size),
            note: Set(note),
            added_at_micros: Set(crate::mutation::now_micros()),
        };
        let kept = (log_cosignature::Entity, log_cosignature::Column::TreeSize);
        log_cosignature::Entity::insert(row)
            .on_conflict(
                OnConflict::column(log_cosignature::Column::Witness)
                    .update_columns([
                        log_cosignature::Column::TreeSize,
                        log_cosignature::Column::Note,
                        log_cosignature::Column::AddedAtMicros,
                    ])
                    .action_and_where(Expr::col(kept).lte(tree_size))
                    .to_owned(),
            )
            .exec_without_returning(self.database.connection())
            .await?;
        Ok(())
    }
}
