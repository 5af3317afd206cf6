//! A witness's file, as `aimaq-witness` appends it: one JSON line per
//! checkpoint it cosigned, the log's note with the cosignature added. An
//! auditor hands it to `aimaq-verify check --witnessed`.

use std::collections::HashMap;
use std::path::Path;

use aimaq_tlog::{Checkpoint, Note};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checks::Finding;

/// A checkpoint a witness cosigned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Witnessed {
    pub origin: String,
    pub tree_size: u64,
    /// Base64, as in the checkpoint.
    pub root_hash: String,
    /// The log's note with this witness's cosignature added.
    pub note: String,
}

impl Witnessed {
    pub fn of(checkpoint: &Checkpoint, note: String) -> Witnessed {
        Witnessed {
            origin: checkpoint.origin.clone(),
            tree_size: checkpoint.size,
            root_hash: BASE64.encode(checkpoint.root),
            note,
        }
    }

    /// The checkpoint the note states (its signatures are not checked here).
    pub fn checkpoint(&self) -> Result<Checkpoint, Finding> {
        let note = Note::parse(&self.note).map_err(|e| Finding::Malformed(e.to_string()))?;
        Checkpoint::parse(&note.text).map_err(|e| Finding::Malformed(e.to_string()))
    }
}

/// The last checkpoint cosigned of each origin in the file (none if there
/// is no file yet).
pub fn read_witnessed(path: &Path) -> std::io::Result<HashMap<String, Witnessed>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(error) => return Err(error),
    };
    let mut seen = HashMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let witnessed: Witnessed = serde_json::from_str(line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        seen.insert(witnessed.origin.clone(), witnessed);
    }
    Ok(seen)
}
