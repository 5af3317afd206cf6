use std::fmt;

/// An amount of tenge held as an exact integer number of tiyn (1 tenge = 100 tiyn).
/// Arithmetic is checked: an overflow is an error, never a wrap or a saturation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount overflows the range of tiyn")]
    Overflow,
}

impl Money {
    pub const ZERO: Money = Money(0);
    pub const TIYN_PER_TENGE: i64 = 100;

    pub const fn from_tiyn(tiyn: i64) -> Money {
        Money(tiyn)
    }

    pub fn from_tenge(tenge: i64) -> Result<Money, MoneyError> {
        tenge
            .checked_mul(Self::TIYN_PER_TENGE)
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    pub const fn tiyn(self) -> i64 {
        self.0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    /// The amount times a whole number, for example an MCI value times the allowance
    /// in MCI.
    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        self.0
            .checked_mul(factor)
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    /// Sums amounts, failing on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(amounts: I) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |total, amount| total.checked_add(amount))
    }
}

/// The languages Aimaq writes to people in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Language {
    Kk,
    Ru,
    #[default]
    En,
}

impl Language {
    /// The language of a request header's value: `kk`, `ru` or `en`, or the
    /// first of an `Accept-Language` list (`ru-RU,ru;q=0.9`); English for
    /// anything else.
    pub fn from_header(value: &str) -> Language {
        let first = value.split(',').next().unwrap_or_default();
        let tag = first.split([';', '-', '_']).next().unwrap_or_default();
        match tag.trim().to_ascii_lowercase().as_str() {
            "kk" => Language::Kk,
            "ru" => Language::Ru,
            _ => Language::En,
        }
    }

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Language::Kk => "kk",
            Language::Ru => "ru",
            Language::En => "en",
        }
    }
}

impl Money {
    /// The amount as people in Kazakhstan write it: `5 175 000,00 ₸` in Kazakh
    /// and Russian, `5,175,000.00 KZT` in English.
    pub fn written(self, language: Language) -> String {
        let (group, decimal, currency) = match language {
            Language::Kk | Language::Ru => (' ', ',', "₸"),
            Language::En => (',', '.', "KZT"),
        };
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = Self::TIYN_PER_TENGE.unsigned_abs();
        let digits = (abs / per).to_string();
        let mut tenge = String::with_capacity(digits.len() * 4 / 3);
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                tenge.push(group);
            }
            tenge.push(digit);
        }
        format!("{sign}{tenge}{decimal}{:02} {currency}", abs % per)
    }
}

impl fmt::Display for Money {
    /// As written in English: `5,175,000.00 KZT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written(Language::En))
    }
}

/// `part / whole` in basis points (1 bp = 0.01%), rounded half up; 0 when `whole` is
/// not positive. Used for shares and sufficiency figures, which are never floats.
pub fn basis_points(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let scaled = i128::from(part) * 10_000;
    let whole = i128::from(whole);
    let rounded = (2 * scaled + whole).div_euclid(2 * whole);
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let max = Money::from_tiyn(i64::MAX);
        assert_eq!(
            max.checked_add(Money::from_tiyn(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_tiyn(i64::MIN).checked_sub(Money::from_tiyn(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(Money::from_tenge(i64::MAX / 10), Err(MoneyError::Overflow));
        assert_eq!(
            Money::checked_sum([max, Money::from_tiyn(1)]),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn tenge_and_tiyn() {
        // 701 billion tenge, the 'Auyl – El Besigi' 2019–2024 total, fits with room.
        let total = Money::from_tenge(701_000_000_000).unwrap();
        assert_eq!(total.tiyn(), 70_100_000_000_000);
        assert_eq!(Money::from_tiyn(123_405).to_string(), "1,234.05 KZT");
        assert_eq!(Money::from_tiyn(-5).to_string(), "-0.05 KZT");
    }

    #[test]
    fn amounts_are_written_as_people_write_them() {
        let amount = Money::from_tiyn(517_500_000);
        assert_eq!(amount.written(Language::Ru), "5 175 000,00 ₸");
        assert_eq!(amount.written(Language::Kk), "5 175 000,00 ₸");
        assert_eq!(amount.written(Language::En), "5,175,000.00 KZT");
        assert_eq!(Money::from_tiyn(99_999).written(Language::Ru), "999,99 ₸");
        assert_eq!(
            Money::from_tiyn(100_000).written(Language::En),
            "1,000.00 KZT"
        );
        assert_eq!(
            Money::from_tiyn(i64::MIN).written(Language::En),
            "-92,233,720,368,547,758.08 KZT"
        );
        assert_eq!(
            Money::from_tiyn(-12_345_678).written(Language::Ru),
            "-123 456,78 ₸"
        );
    }

    #[test]
    fn the_language_comes_from_a_header() {
        assert_eq!(Language::from_header("ru"), Language::Ru);
        assert_eq!(Language::from_header("kk-KZ,ru;q=0.8"), Language::Kk);
        assert_eq!(Language::from_header(" RU_ru "), Language::Ru);
        assert_eq!(Language::from_header("de"), Language::En);
        assert_eq!(Language::from_header(""), Language::En);
        assert_eq!(Language::Kk.tag(), "kk");
    }

    #[test]
    fn basis_points_round_half_up() {
        assert_eq!(basis_points(64, 100), 6400);
        assert_eq!(basis_points(1, 3), 3333);
        assert_eq!(basis_points(2, 3), 6667);
        assert_eq!(basis_points(1, 0), 0);
        assert_eq!(basis_points(35, 10), 35_000);
    }

    proptest! {
        #[test]
        fn checked_add_agrees_with_wide_arithmetic(a in any::<i64>(), b in any::<i64>()) {
            let wide = i128::from(a) + i128::from(b);
            let result = Money::from_tiyn(a).checked_add(Money::from_tiyn(b));
            match i64::try_from(wide) {
                Ok(sum) => prop_assert_eq!(result, Ok(Money::from_tiyn(sum))),
                Err(_) => prop_assert_eq!(result, Err(MoneyError::Overflow)),
            }
        }
    }
}
