//! The witness file: one JSON line per cosigned checkpoint, appended.

use std::io::Write;
use std::path::Path;

use aimaq_verify::witnessed::Witnessed;

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
    use aimaq_verify::witnessed::read_witnessed;

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
