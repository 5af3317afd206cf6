//! A KATO subtree as an index range. Every code of a subtree starts with its
//! prefix, and digit strings sort the same way under every collation, so the
//! subtree is the half-open range `prefix <= code < next(prefix)`: a B-tree
//! index answers it on SQLite and on PostgreSQL alike, which `LIKE 'prefix%'`
//! is not (SQLite's `LIKE` ignores case, PostgreSQL's non-C collations cannot
//! use the index for it).

use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef};

/// The first digit string after every code starting with `prefix`: the
/// prefix with its last digit below 9 raised by one and what follows it
/// dropped (`6136` → `6137`, `6139` → `614`); none for `9…9`, which has no
/// upper end.
pub fn upper_bound(prefix: &str) -> Option<String> {
    let bytes = prefix.as_bytes();
    let last = bytes.iter().rposition(|b| (b'0'..=b'8').contains(b))?;
    let mut bound = prefix[..last].to_owned();
    bound.push(char::from(bytes[last] + 1));
    Some(bound)
}

/// The condition that `column` (a KATO code) lies in the subtree of
/// `prefix`; an empty prefix is every code.
pub fn within(column: impl IntoColumnRef + Clone, prefix: impl AsRef<str>) -> Expr {
    let prefix = prefix.as_ref();
    let from = Expr::col(column.clone()).gte(prefix);
    match upper_bound(prefix) {
        Some(to) => from.and(Expr::col(column).lt(to)),
        None => from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upper_bound_follows_every_code_of_the_subtree() {
        assert_eq!(upper_bound("6136").as_deref(), Some("6137"));
        assert_eq!(upper_bound("6139").as_deref(), Some("614"));
        assert_eq!(upper_bound("1999").as_deref(), Some("2"));
        assert_eq!(upper_bound("99"), None);
        assert_eq!(upper_bound(""), None);
        for (prefix, inside, outside) in [
            ("6136", "613699999", "613700000"),
            ("6139", "613999999", "614000000"),
            ("19", "199999999", "200000000"),
        ] {
            let to = upper_bound(prefix).unwrap();
            assert!(prefix <= inside && inside < to.as_str(), "{prefix}");
            assert!(outside >= to.as_str(), "{prefix}");
        }
    }
}
