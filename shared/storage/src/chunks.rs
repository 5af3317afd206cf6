//! Rows split for multi-row statements so that the statements take few
//! shapes. A connection prepares and keeps one statement per distinct SQL
//! text, and a statement's text grows with its row count: batches of any size
//! from 1 to 500 would leave hundreds of large prepared statements on every
//! connection (the grants service held 300 MiB of them after 150,000
//! applications on PostgreSQL). Chunks whose lengths are powers of two keep
//! the shapes to about ten per statement.

/// `rows` in order, in chunks whose lengths are powers of two, each the
/// largest that fits what is left and at most `max` (itself a power of two).
pub fn in_powers_of_two<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1).next_power_of_two();
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let fits = rest.len().min(max);
        // The largest power of two not above `fits`.
        let length = 1usize << (usize::BITS - 1 - fits.leading_zeros());
        let (chunk, after) = rest.split_at(length);
        rest = after;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::in_powers_of_two;
    use proptest::prelude::*;

    #[test]
    fn a_batch_is_cut_largest_first() {
        let rows: Vec<u32> = (0..500).collect();
        let lengths: Vec<usize> = in_powers_of_two(&rows, 512).map(<[u32]>::len).collect();
        assert_eq!(lengths, [256, 128, 64, 32, 16, 4]);
        let lengths: Vec<usize> = in_powers_of_two(&rows, 128).map(<[u32]>::len).collect();
        assert_eq!(lengths, [128, 128, 128, 64, 32, 16, 4]);
        assert_eq!(in_powers_of_two(&rows[..0], 512).count(), 0);
    }

    proptest! {
        #[test]
        fn every_row_once_in_order_in_few_shapes(len in 0usize..3000, max_log in 0u32..11) {
            let rows: Vec<usize> = (0..len).collect();
            let max = 1usize << max_log;
            let chunks: Vec<&[usize]> = in_powers_of_two(&rows, max).collect();
            let joined: Vec<usize> = chunks.concat();
            prop_assert_eq!(&joined, &rows);
            for chunk in &chunks {
                prop_assert!(chunk.len().is_power_of_two() && chunk.len() <= max);
            }
            // Lengths never grow: at most one chunk of each length below the largest.
            for pair in chunks.windows(2) {
                prop_assert!(pair[1].len() <= pair[0].len());
            }
        }
    }
}
