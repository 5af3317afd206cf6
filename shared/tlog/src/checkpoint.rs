//! Checkpoints (C2SP `tlog-checkpoint`): the note text a log signs, naming
//! itself, its size and its root.
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, base64>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::Hash;
use crate::note::NoteError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name: its signing key's name.
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text of the checkpoint.
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Reads a checkpoint's note text (extension lines are allowed and ignored).
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::Malformed("a checkpoint has three lines"));
        };
        if origin.is_empty() {
            return Err(NoteError::Malformed("a checkpoint names its origin"));
        }
        let canonical = size == "0" || (!size.starts_with('0') && !size.starts_with('+'));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or(NoteError::Malformed("a tree size is a decimal number"))?;
        let root: Hash = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(NoteError::Malformed("a root hash is 32 bytes in base64"))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}
