//! The state digest a change event carries: what a resource's stored rows
//! were right after the change.
//!
//! A row hashes as SHA-256 of its table's name, then each column's name and
//! value (the value as an SQL literal: `'text'` with quotes doubled, `42`,
//! `TRUE`, `NULL`), each preceded by its length in bytes (u64, big-endian).
//! A resource's state digest is the hex SHA-256 of its type (length-prefixed)
//! and its rows' hashes in ascending order; a resource without rows has the
//! digest of none.

use sha2::{Digest, Sha256};

/// The hash of one stored row.
pub fn row_hash<'a>(
    table: &str,
    columns: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut put = |field: &[u8]| {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    };
    put(table.as_bytes());
    for (name, value) in columns {
        put(name.as_bytes());
        put(value.as_bytes());
    }
    hasher.finalize().into()
}

/// The state digest of a resource of `resource_type` from its rows' hashes,
/// in any order.
pub fn state_digest(resource_type: &str, mut rows: Vec<[u8; 32]>) -> String {
    rows.sort_unstable();
    let mut hasher = Sha256::new();
    hasher.update((resource_type.len() as u64).to_be_bytes());
    hasher.update(resource_type.as_bytes());
    for row in rows {
        hasher.update(row);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_digest_does_not_depend_on_row_order() {
        let rows = vec![[1; 32], [2; 32]];
        let swapped = vec![[2; 32], [1; 32]];
        assert_eq!(
            state_digest("project", rows.clone()),
            state_digest("project", swapped)
        );
        assert_ne!(
            state_digest("project", rows.clone()),
            state_digest("allocation", rows)
        );
        assert_ne!(
            state_digest("project", vec![]),
            state_digest("project", vec![[1; 32]])
        );
    }

    #[test]
    fn columns_cannot_trade_bytes() {
        let one = row_hash("t", [("a", "'1'"), ("b", "2")]);
        assert_ne!(one, row_hash("t", [("a", "'1'b"), ("", "2")]));
        assert_ne!(one, row_hash("u", [("a", "'1'"), ("b", "2")]));
        assert_eq!(one, row_hash("t", [("a", "'1'"), ("b", "2")]));
    }
}
