//! What makes an Aimaq audit log a transparency log, in the forms others
//! check it with:
//!
//! - [`hash`]: RFC 9162 leaf and node hashes;
//! - [`record`]: the canonical encoding of an audit record, its leaf;
//! - [`verify`]: inclusion and consistency proof checks (RFC 9162 §2.1.3.2, §2.1.4.2);
//! - [`note`] and [`checkpoint`]: signed checkpoints and cosignatures as C2SP
//!   specifies them (compatible with Go's `sumdb/note` and `sumdb/tlog`);
//! - [`layout`]: which stored subtree hashes a proof is made of, for the log
//!   that serves it.
//!
//! The services use `hash`, `record`, `layout` and the signing half of `note`;
//! the verifier uses `hash`, `record`, `verify` and the checking half of `note`.

pub mod checkpoint;
pub mod hash;
pub mod layout;
pub mod note;
pub mod record;
pub mod state;
pub mod verify;

#[cfg(test)]
mod tests;

pub use checkpoint::Checkpoint;
pub use hash::{Hash, leaf_hash, node_hash};
pub use note::{KeyRole, Note, NoteError, NoteSigner, NoteVerifier};
pub use record::{AuditLeaf, EventFields, events_digest, resource_digest};
pub use verify::{ProofError, verify_consistency, verify_inclusion};
