//! The witness file: one JSON line per cosigned checkpoint, appended.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use aimaq_tlog::Checkpoint;
use aimaq_verify::Finding;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A checkpoint this witness cosigned.
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

    pub fn checkpoint(&self) -> Result<Checkpoint, Finding> {
        crate::checkpoint_of(self)
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

/// Appends one cosigned checkpoint.
pub fn append(path: &Path, witnessed: &Witnessed) -> std::io::Result<()> {
    let line = serde_json::to_string(witnessed)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_last_checkpoint_of_each_log_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("witness.jsonl");
        assert!(read_witnessed(&path).unwrap().is_empty());
        let entry = |origin: &str, size| Witnessed {
            origin: origin.into(),
            tree_size: size,
            root_hash: String::new(),
            note: format!("{size}"),
        };
        for witnessed in [entry("a", 1), entry("b", 5), entry("a", 3)] {
            append(&path, &witnessed).unwrap();
        }
        let seen = read_witnessed(&path).unwrap();
        assert_eq!(seen["a"].tree_size, 3);
        assert_eq!(seen["b"].tree_size, 5);
    }
}
