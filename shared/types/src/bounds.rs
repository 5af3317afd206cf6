//! The ceilings and windows every value an agency sends must fit, in one place.
//! A value outside them is no fact of these programmes, and storing it would let
//! one caller break reads that others rely on (a sum that overflows, a date no
//! calendar query expects).

use chrono::{Datelike, NaiveDate};

/// The largest amount of money in any one field: 10 trillion tenge, in tiyn. The
/// whole of 'Auyl – El Besigi' over 2019–2024 was 701 billion tenge; no
/// allocation, envelope, revenue line or payment comes near this.
pub const MAX_AMOUNT_TIYN: i64 = 1_000_000_000_000_000;

/// The most people any count can hold (voters, ballots, residents, applicants):
/// above the country's population.
pub const MAX_PEOPLE: i64 = 25_000_000;

/// The first and last years any date or year may fall in: from independence to
/// the end of the century every plan and loan term fits in.
pub const FIRST_YEAR: i32 = 1991;
pub const LAST_YEAR: i32 = 2100;

/// The longest text in any field, in characters. Fields that are names or codes
/// have tighter limits of their own.
pub const MAX_TEXT_CHARS: usize = 1_000;

/// The most values in a repeated field of scalars (filters, lists of codes) and
/// of messages (rows of an import batch).
pub const MAX_LIST_VALUES: usize = 100;
pub const MAX_LIST_MESSAGES: usize = 10_000;

/// How much of a caller's value an error message may quote.
const QUOTED_CHARS: usize = 40;

/// An amount within ±[`MAX_AMOUNT_TIYN`].
pub fn amount(tiyn: i64) -> Result<i64, String> {
    if tiyn.unsigned_abs() <= MAX_AMOUNT_TIYN.unsigned_abs() {
        Ok(tiyn)
    } else {
        Err(format!(
            "must be within ±{MAX_AMOUNT_TIYN} tiyn (10 trillion tenge)"
        ))
    }
}

/// A count of people, `0..=MAX_PEOPLE`.
pub fn people(count: i64) -> Result<i64, String> {
    if (0..=MAX_PEOPLE).contains(&count) {
        Ok(count)
    } else {
        Err(format!("must be from 0 to {MAX_PEOPLE}"))
    }
}

/// A year within [`FIRST_YEAR`]`..=`[`LAST_YEAR`].
pub fn year(year: i32) -> Result<i32, String> {
    if (FIRST_YEAR..=LAST_YEAR).contains(&year) {
        Ok(year)
    } else {
        Err(format!("must be a year from {FIRST_YEAR} to {LAST_YEAR}"))
    }
}

/// A real calendar date within the years' window.
pub fn date(year: i32, month: i32, day: i32) -> Result<NaiveDate, String> {
    self::year(year)?;
    let real = u32::try_from(month)
        .ok()
        .zip(u32::try_from(day).ok())
        .and_then(|(month, day)| NaiveDate::from_ymd_opt(year, month, day));
    real.ok_or_else(|| "not a calendar date".to_owned())
}

/// Whether `date` lies in the years' window.
pub fn in_window(date: NaiveDate) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&date.year())
}

/// Why `text` is not acceptable in a field: too long, or holding control
/// characters (`multiline` fields may hold line breaks and tabs).
pub fn text(text: &str, max_chars: usize, multiline: bool) -> Result<(), String> {
    if let Some(bad) = text
        .chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(format!(
            "must not hold control characters (found U+{:04X})",
            u32::from(bad)
        ));
    }
    // Counting stops past the limit: a huge value costs no more than a small one.
    if text.chars().nth(max_chars).is_some() {
        return Err(format!("at most {max_chars} characters"));
    }
    Ok(())
}

/// `value` as an error message may quote it: at most a short prefix, with
/// control characters escaped.
pub fn quote(value: &str) -> String {
    let mut quoted: String = value
        .chars()
        .take(QUOTED_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().nth(QUOTED_CHARS).is_some() {
        quoted.push('…');
    }
    format!("\"{quoted}\"")
}

/// Adds amounts in a wider type, so that no number of stored rows can wrap it;
/// `None` when the total does not fit an amount field.
pub fn total<I: IntoIterator<Item = i64>>(amounts: I) -> Option<i64> {
    let wide: i128 = amounts.into_iter().map(i128::from).sum();
    i64::try_from(wide).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_a_ceiling_both_ways() {
        assert_eq!(amount(MAX_AMOUNT_TIYN), Ok(MAX_AMOUNT_TIYN));
        assert_eq!(amount(-MAX_AMOUNT_TIYN), Ok(-MAX_AMOUNT_TIYN));
        assert!(amount(MAX_AMOUNT_TIYN + 1).is_err());
        assert!(amount(i64::MIN).is_err());
        assert!(amount(i64::MAX).is_err());
    }

    #[test]
    fn counts_of_people() {
        assert!(people(0).is_ok());
        assert!(people(MAX_PEOPLE).is_ok());
        assert!(people(-1).is_err());
        assert!(people(i64::MAX).is_err());
    }

    #[test]
    fn dates_in_the_window_only() {
        assert_eq!(
            date(2024, 2, 29),
            NaiveDate::from_ymd_opt(2024, 2, 29).ok_or_else(String::new)
        );
        assert!(date(2023, 2, 29).is_err());
        assert!(date(262_142, 1, 1).is_err());
        assert!(date(-262_143, 1, 1).is_err());
        assert!(date(1990, 12, 31).is_err());
        assert!(date(2101, 1, 1).is_err());
        assert!(date(2024, -1, 1).is_err());
        assert!(date(2024, 1, i32::MAX).is_err());
        assert!(year(1991).is_ok() && year(2100).is_ok());
        assert!(year(0).is_err());
    }

    #[test]
    fn text_without_controls_and_within_length() {
        assert!(text("Агыбет", 6, false).is_ok());
        assert!(text("Агыбет!", 6, false).is_err());
        assert!(text("a\0b", 10, false).is_err());
        assert!(text("a\u{7f}", 10, false).is_err());
        assert!(text("a\u{85}", 10, false).is_err());
        assert!(text("line\nbreak", 20, false).is_err());
        assert!(text("line\r\nbreak\tand tab", 30, true).is_ok());
        assert!(text("a\0b", 10, true).is_err());
    }

    #[test]
    fn quotes_are_short_and_escaped() {
        assert_eq!(quote("abc"), "\"abc\"");
        let long = "x".repeat(2 << 20);
        assert!(quote(&long).chars().count() < 50);
        assert_eq!(quote("a\0b"), "\"a\\0b\"");
    }

    #[test]
    fn totals_never_wrap() {
        assert_eq!(total([1, 2, 3]), Some(6));
        assert_eq!(total([i64::MAX, 1]), None);
        assert_eq!(total([i64::MAX, 1, -2]), Some(i64::MAX - 1));
        assert_eq!(total(std::iter::repeat_n(MAX_AMOUNT_TIYN, 10_000)), None);
    }
}
