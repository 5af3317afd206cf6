//! The sums a refusal is about (what was asked, what is free, what is
//! committed), kept as numbers beside the English text: clients read them from
//! the `google.rpc.ErrorInfo` metadata in tiyn, and the localized message
//! writes them as people in Kazakhstan write money.

use std::collections::HashMap;

use aimaq_types::{Language, Money};
use tonic_types::ErrorDetails;

/// What a sum in a refusal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// What an allocation or envelope holds.
    Holds,
    /// What is committed below it.
    Committed,
    /// What is already allocated from it.
    Allocated,
    /// What the request asks.
    Asked,
    /// What is still free.
    Free,
    /// A project's cost.
    Cost,
    /// What is already paid.
    Disbursed,
    /// What is left to pay.
    Left,
}

impl Amount {
    pub const ALL: [Amount; 8] = [
        Amount::Holds,
        Amount::Committed,
        Amount::Allocated,
        Amount::Asked,
        Amount::Free,
        Amount::Cost,
        Amount::Disbursed,
        Amount::Left,
    ];

    /// Its key in the `ErrorInfo` metadata, whose value is tiyn.
    pub fn key(self) -> &'static str {
        match self {
            Amount::Holds => "holds_tiyn",
            Amount::Committed => "committed_tiyn",
            Amount::Allocated => "allocated_tiyn",
            Amount::Asked => "asked_tiyn",
            Amount::Free => "free_tiyn",
            Amount::Cost => "cost_tiyn",
            Amount::Disbursed => "disbursed_tiyn",
            Amount::Left => "left_tiyn",
        }
    }

    /// The word before the sum.
    fn word(self, language: Language) -> &'static str {
        let (kk, ru, en) = match self {
            Amount::Holds => ("барлығы", "всего", "holds"),
            Amount::Committed => ("міндеттелгені", "задействовано", "committed"),
            Amount::Allocated => ("бөлінгені", "выделено", "allocated"),
            Amount::Asked => ("сұралғаны", "запрошено", "asked"),
            Amount::Free => ("бос қалғаны", "свободно", "free"),
            Amount::Cost => ("құны", "стоимость", "cost"),
            Amount::Disbursed => ("төленгені", "выплачено", "disbursed"),
            Amount::Left => ("қалғаны", "осталось", "left"),
        };
        match language {
            Language::Kk => kk,
            Language::Ru => ru,
            Language::En => en,
        }
    }
}

/// The `ErrorInfo` metadata of `amounts`.
pub(crate) fn metadata(amounts: &[(Amount, Money)]) -> HashMap<String, String> {
    amounts
        .iter()
        .map(|(amount, money)| (amount.key().to_owned(), money.tiyn().to_string()))
        .collect()
}

/// The sums of a refusal's details, written in `language` ("запрошено
/// 5 175 000,00 ₸; свободно 1 000,00 ₸"), in a fixed order; empty without.
pub(crate) fn written(language: Language, details: &ErrorDetails) -> String {
    let Some(info) = details.error_info() else {
        return String::new();
    };
    Amount::ALL
        .iter()
        .filter_map(|amount| {
            let tiyn: i64 = info.metadata.get(amount.key())?.parse().ok()?;
            let money = Money::from_tiyn(tiyn).written(language);
            Some(format!("{} {money}", amount.word(language)))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_written_in_the_callers_language() {
        let mut details = ErrorDetails::new();
        let amounts = [
            (Amount::Free, Money::from_tiyn(100_000)),
            (Amount::Asked, Money::from_tiyn(517_500_000)),
        ];
        details.set_error_info("HEADROOM", "aimaq", metadata(&amounts));
        assert_eq!(
            written(Language::Ru, &details),
            "запрошено 5 175 000,00 ₸; свободно 1 000,00 ₸"
        );
        assert_eq!(
            written(Language::En, &details),
            "asked 5,175,000.00 KZT; free 1,000.00 KZT"
        );
        assert_eq!(written(Language::Kk, &ErrorDetails::new()), "");
    }
}
