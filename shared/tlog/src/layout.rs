//! Which subtree hashes a proof is made of, for a log that keeps the hash of
//! every complete (perfect, aligned) subtree: the node at `level` and `index`
//! covers leaves `index·2^level .. (index+1)·2^level`. A proof names ranges of
//! leaves (RFC 9162 §2.1.3.1 and §2.1.4.1); each range is the fold of at most
//! log₂ n stored nodes, so a proof reads O(log² n) hashes at worst and
//! O(log n) usually.

use crate::hash::{Hash, largest_power_of_two_below, node_hash};

/// A stored node: `(level, index)`.
pub type Node = (u32, u64);

/// A range of leaves, `start..end`, whose Merkle tree hash a proof carries.
pub type Span = (u64, u64);

/// The spans of the inclusion proof of leaf `index` in a tree of `size`
/// leaves, from the leaf's sibling up to the root's other child. `index <
/// size` is the caller's to check.
pub fn inclusion_spans(index: u64, size: u64) -> Vec<Span> {
    let mut spans = Vec::new();
    inclusion_into(index, 0, size, &mut spans);
    spans
}

fn inclusion_into(index: u64, start: u64, end: u64, spans: &mut Vec<Span>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let split = start + largest_power_of_two_below(n);
    if index < split {
        inclusion_into(index, start, split, spans);
        spans.push((split, end));
    } else {
        inclusion_into(index, split, end, spans);
        spans.push((start, split));
    }
}

/// The spans of the consistency proof from a tree of `from` leaves to one of
/// `to` leaves (0 < from ≤ to, the caller's to check).
pub fn consistency_spans(from: u64, to: u64) -> Vec<Span> {
    let mut spans = Vec::new();
    consistency_into(from, 0, to, true, &mut spans);
    spans
}

fn consistency_into(m: u64, start: u64, end: u64, whole: bool, spans: &mut Vec<Span>) {
    let n = end - start;
    if m == n {
        if !whole {
            spans.push((start, end));
        }
        return;
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        consistency_into(m, start, start + k, whole, spans);
        spans.push((start + k, end));
    } else {
        consistency_into(m - k, start + k, end, false, spans);
        spans.push((start, start + k));
    }
}

/// The stored nodes that make up `span`, left to right: the largest aligned
/// subtrees that fit, which shrink toward the right end.
pub fn span_nodes(span: Span) -> Vec<Node> {
    let (mut start, end) = span;
    let mut nodes = Vec::new();
    while start < end {
        // The largest aligned subtree starting at `start` that ends by `end`.
        let mut level = if start == 0 {
            63
        } else {
            start.trailing_zeros()
        };
        while level > 0 && start.checked_add(1u64 << level).is_none_or(|e| e > end) {
            level -= 1;
        }
        nodes.push((level, start >> level));
        start += 1 << level;
    }
    nodes
}

/// The hash of a span from the hashes of its [`span_nodes`], in order: folded
/// from the right, as the tree joins a smaller right part to a larger left one.
pub fn fold_span(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    )
}

/// The nodes that a log appending leaf `index` completes, besides the leaf
/// itself: each is the parent of the previous one while that was a right
/// child.
pub fn completed_by(index: u64) -> impl Iterator<Item = Node> {
    let mut level = 0u32;
    let mut at = index;
    std::iter::from_fn(move || {
        if at & 1 == 0 {
            return None;
        }
        at >>= 1;
        level += 1;
        Some((level, at))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, root_of};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// The hash of every stored node of a tree of `leaves`.
    fn node(leaves: &[Hash], (level, index): Node) -> Hash {
        let width = 1usize << level;
        let start = usize::try_from(index).unwrap_or(usize::MAX) * width;
        root_of(&leaves[start..start + width])
    }

    fn span_hash(leaves: &[Hash], span: Span) -> Hash {
        let parts: Vec<Hash> = span_nodes(span).iter().map(|n| node(leaves, *n)).collect();
        fold_span(&parts).unwrap_or_else(crate::hash::empty_root)
    }

    #[test]
    fn a_span_is_its_aligned_subtrees() {
        assert_eq!(span_nodes((0, 7)), vec![(2, 0), (1, 2), (0, 6)]);
        assert_eq!(span_nodes((4, 7)), vec![(1, 2), (0, 6)]);
        assert_eq!(span_nodes((8, 16)), vec![(3, 1)]);
        assert_eq!(span_nodes((0, 1)), vec![(0, 0)]);
    }

    #[test]
    fn spans_fold_to_the_tree_hash_of_their_leaves() {
        let all = leaves(70);
        for end in 1..=70u64 {
            assert_eq!(span_hash(&all, (0, end)), root_of(&all[..end as usize]));
        }
        for (start, end) in [(64, 70), (32, 47), (8, 13)] {
            assert_eq!(
                span_hash(&all, (start, end)),
                root_of(&all[start as usize..end as usize])
            );
        }
    }

    #[test]
    fn appending_completes_the_parents_of_right_children() {
        assert_eq!(completed_by(0).count(), 0);
        assert_eq!(completed_by(1).collect::<Vec<_>>(), vec![(1, 0)]);
        assert_eq!(
            completed_by(7).collect::<Vec<_>>(),
            vec![(1, 3), (2, 1), (3, 0)]
        );
        assert_eq!(completed_by(10).count(), 0);
    }

    #[test]
    fn proofs_are_logarithmic() {
        assert_eq!(inclusion_spans(0, 1).len(), 0);
        assert_eq!(inclusion_spans(0, 1_000_000).len(), 20);
        assert!(inclusion_spans(999_999, 1_000_000).len() <= 20);
        assert!(consistency_spans(500_000, 1_000_000).len() <= 21);
        assert!(consistency_spans(5, 5).is_empty());
    }
}
