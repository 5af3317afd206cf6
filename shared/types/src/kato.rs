use std::fmt;
use std::str::FromStr;

/// A code of the classifier of administrative-territorial objects: nine digits
/// `AB CD EF HIJ` = region, district (or city of regional significance), rural
/// district, settlement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kato(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KatoError {
    #[error("a KATO code is exactly 9 digits, got {0:?}")]
    Format(String),
    #[error("a KATO code starts with a region number other than 00")]
    NoRegion,
}

/// How many trailing digits are zeroed to form each possible parent, nearest first.
const PARENT_ZEROED_DIGITS: [u32; 4] = [2, 3, 5, 7];

impl Kato {
    pub const DIGITS: usize = 9;

    pub fn parse(text: &str) -> Result<Kato, KatoError> {
        if text.len() != Self::DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KatoError::Format(text.chars().take(32).collect()));
        }
        let value: u32 = text
            .parse()
            .map_err(|_| KatoError::Format(text.to_owned()))?;
        if value < 10_000_000 {
            return Err(KatoError::NoRegion);
        }
        Ok(Kato(value))
    }

    /// Depth by the code's structure: 1 region, 2 district or city of regional
    /// significance, 3 rural district, 4 settlement.
    pub fn level(self) -> u8 {
        if self.0.is_multiple_of(10_000_000) {
            1
        } else if self.0.is_multiple_of(100_000) {
            2
        } else if self.0.is_multiple_of(1_000) {
            3
        } else {
            4
        }
    }

    /// The codes that may be this code's parent, nearest first: the code with its
    /// last 2, 3, 5 and 7 digits zeroed (skipping those equal to the code itself).
    /// The parent is the first of them that exists in the registry.
    pub fn parent_candidates(self) -> impl Iterator<Item = Kato> {
        let code = self.0;
        let mut previous = code;
        PARENT_ZEROED_DIGITS.into_iter().filter_map(move |digits| {
            let unit = 10u32.pow(digits);
            let candidate = code - code % unit;
            if candidate == previous {
                None
            } else {
                previous = candidate;
                Some(Kato(candidate))
            }
        })
    }

    /// The parent by the classifier's rule, given which codes exist.
    pub fn parent_in(self, exists: impl Fn(Kato) -> bool) -> Option<Kato> {
        self.parent_candidates()
            .find(|candidate| exists(*candidate))
    }

    /// Whether `self` can be an ancestor of `other`: every ancestor of a code is one
    /// of its parent candidates, and every existing candidate is on its parent chain.
    pub fn is_ancestor_of(self, other: Kato) -> bool {
        other.parent_candidates().any(|candidate| candidate == self)
    }

    /// The region (first level) the code belongs to.
    pub fn region(self) -> Kato {
        Kato(self.0 - self.0 % 10_000_000)
    }

    /// The district (second level) the code belongs to, or the region itself for a
    /// region's code.
    pub fn district(self) -> Kato {
        Kato(self.0 - self.0 % 100_000)
    }

    /// The digits every descendant of this code starts with: the code without its
    /// last k digits, for the largest k among 2, 3, 5, 7 whose digits are all zero
    /// (a descendant has this code among its parent candidates). `None` when no
    /// code can descend from it.
    pub fn descendant_prefix(self) -> Option<String> {
        let digits = PARENT_ZEROED_DIGITS
            .into_iter()
            .rev()
            .find(|k| self.0.is_multiple_of(10u32.pow(*k)))?;
        let text = self.to_string();
        Some(text[..Self::DIGITS - digits as usize].to_owned())
    }

    /// The digits every code of this code's subtree starts with, itself
    /// included: its descendants' prefix, or the whole code for a settlement.
    pub fn subtree_prefix(self) -> String {
        self.descendant_prefix().unwrap_or_else(|| self.to_string())
    }

    /// The subtree prefix of an optional code: none when `text` is empty, the
    /// usual filter of list and report requests.
    pub fn parse_subtree(text: &str) -> Result<Option<String>, KatoError> {
        if text.is_empty() {
            return Ok(None);
        }
        Kato::parse(text).map(|kato| Some(kato.subtree_prefix()))
    }

    /// Whether the code starts with `prefix` (a string of up to 9 digits), the form
    /// in which a token limits where its holder may write.
    pub fn has_prefix(self, prefix: &str) -> bool {
        self.to_string().starts_with(prefix)
    }
}

impl fmt::Display for Kato {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:09}", self.0)
    }
}

impl FromStr for Kato {
    type Err = KatoError;

    fn from_str(text: &str) -> Result<Kato, KatoError> {
        Kato::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn kato(text: &str) -> Kato {
        Kato::parse(text).unwrap()
    }

    #[test]
    fn parses_nine_digits_only() {
        assert_eq!(kato("613633100").to_string(), "613633100");
        for bad in [
            "",
            "61363310",
            "6136331000",
            "61363310a",
            " 61363310",
            "٦١٣٦٣٣١٠٠",
        ] {
            assert!(
                matches!(Kato::parse(bad), Err(KatoError::Format(_))),
                "{bad}"
            );
        }
        assert_eq!(Kato::parse("001000000"), Err(KatoError::NoRegion));
    }

    #[test]
    fn design_example_chain() {
        // Turkestan region → Baidibek district → Agybet rural district → Agybet village.
        let region = kato("610000000");
        let district = kato("613600000");
        let rural = kato("613633000");
        let village = kato("613633100");
        assert_eq!(
            [region, district, rural, village].map(Kato::level),
            [1, 2, 3, 4]
        );
        let registry: HashSet<Kato> = [region, district, rural, village].into();
        let exists = |k: Kato| registry.contains(&k);
        assert_eq!(village.parent_in(exists), Some(rural));
        assert_eq!(rural.parent_in(exists), Some(district));
        assert_eq!(district.parent_in(exists), Some(region));
        assert_eq!(region.parent_in(exists), None);
        assert!(region.is_ancestor_of(village));
        assert!(rural.is_ancestor_of(village));
        assert!(!village.is_ancestor_of(village));
        assert!(!kato("613634000").is_ancestor_of(village));
        assert_eq!(village.region(), region);
        assert_eq!(village.district(), district);
        assert_eq!(region.district(), region);
        assert!(village.has_prefix("6136"));
        assert_eq!(district.subtree_prefix(), "6136");
        assert_eq!(village.subtree_prefix(), "6136331");
        assert_eq!(kato("613633101").subtree_prefix(), "613633101");
        assert_eq!(Kato::parse_subtree(""), Ok(None));
        assert_eq!(Kato::parse_subtree("613600000"), Ok(Some("6136".into())));
        assert!(Kato::parse_subtree("61").is_err());
        assert!(!village.has_prefix("6137"));
    }

    #[test]
    fn descendants_share_a_prefix() {
        let prefix = |code: &str| kato(code).descendant_prefix();
        assert_eq!(prefix("610000000").as_deref(), Some("61"));
        assert_eq!(prefix("613600000").as_deref(), Some("6136"));
        assert_eq!(prefix("613633000").as_deref(), Some("613633"));
        assert_eq!(prefix("613633100").as_deref(), Some("6136331"));
        // Four trailing zeros: only the last three can be zeroed by the rule.
        assert_eq!(prefix("101010000").as_deref(), Some("101010"));
        assert_eq!(prefix("613633110"), None);
    }

    #[test]
    fn candidates_skip_the_code_itself() {
        let got: Vec<String> = kato("613633000")
            .parent_candidates()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(got, ["613600000", "610000000"]);
        assert_eq!(kato("610000000").parent_candidates().count(), 0);
    }

    /// The rule reproduces every parent link of the real classifier.
    #[test]
    fn parent_rule_matches_the_national_classifier() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/kato-2022.csv"
        );
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_path(path)
            .unwrap();
        let mut code_by_row: HashMap<String, Kato> = HashMap::new();
        let mut parent_row: Vec<(Kato, String)> = Vec::new();
        for record in reader.records() {
            let record = record.unwrap();
            let code = kato(&record[2]);
            code_by_row.insert(record[0].to_owned(), code);
            parent_row.push((code, record[1].to_owned()));
        }
        assert_eq!(parent_row.len(), 16_264);
        let registry: HashSet<Kato> = code_by_row.values().copied().collect();
        assert_eq!(registry.len(), 16_264, "codes are unique");
        for (code, parent) in &parent_row {
            let expected = code_by_row.get(parent).copied();
            let got = code.parent_in(|k| registry.contains(&k));
            assert_eq!(got, expected, "parent of {code}");
            if let Some(parent) = expected {
                assert!(parent.is_ancestor_of(*code));
                let prefix = parent.descendant_prefix().unwrap();
                assert!(code.has_prefix(&prefix), "{code} under {parent}");
            }
        }
    }
}
