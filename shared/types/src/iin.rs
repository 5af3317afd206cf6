use std::fmt;

use chrono::NaiveDate;

/// An individual identification number: `YYMMDD`, a century/sex digit, a 4-digit
/// serial and a check digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Iin([u8; 12]);

/// A business identification number: same length and check digit as an IIN, with
/// `YYMM` of registration and the entity type in place of the birth date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bin([u8; 12]);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IinError {
    #[error("must be exactly 12 digits")]
    Format,
    #[error("check digit does not match")]
    CheckDigit,
    #[error("digit 7 must be a century/sex digit 1-6, got {0}")]
    Century(u8),
    #[error("the first six digits are not a valid birth date")]
    BirthDate,
    #[error("digits 3-4 must be a month 01-12 and digit 5 an entity type 4-6")]
    BinStructure,
}

const FIRST_WEIGHTS: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const SECOND_WEIGHTS: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

fn digits(text: &str) -> Result<[u8; 12], IinError> {
    let bytes = text.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(IinError::Format);
    }
    let mut out = [0u8; 12];
    for (slot, byte) in out.iter_mut().zip(bytes) {
        *slot = byte - b'0';
    }
    Ok(out)
}

/// The check digit rule shared by IIN and BIN: weights 1..11 mod 11; if that gives
/// 10, weights 3..11,1,2 mod 11; if that also gives 10, the number is invalid.
fn check_digit(d: &[u8; 12]) -> Option<u8> {
    let weighted = |weights: &[u32; 11]| -> u32 {
        d.iter()
            .zip(weights)
            .map(|(digit, weight)| u32::from(*digit) * weight)
            .sum::<u32>()
            % 11
    };
    let first = weighted(&FIRST_WEIGHTS);
    let check = if first == 10 {
        weighted(&SECOND_WEIGHTS)
    } else {
        first
    };
    u8::try_from(check).ok().filter(|c| *c < 10)
}

fn checked(text: &str) -> Result<[u8; 12], IinError> {
    let d = digits(text)?;
    if check_digit(&d) != Some(d[11]) {
        return Err(IinError::CheckDigit);
    }
    Ok(d)
}

fn two(d: &[u8; 12], at: usize) -> u32 {
    u32::from(d[at]) * 10 + u32::from(d[at + 1])
}

impl Iin {
    /// The IIN whose first eleven digits are given, with its check digit computed;
    /// `None` when those digits admit no valid number (the rule yields 10 twice) or
    /// are no birth date. For generating test and demo data.
    pub fn complete(first_eleven: &str) -> Option<Iin> {
        let mut d = digits(&format!("{first_eleven}0")).ok()?;
        d[11] = check_digit(&d)?;
        let iin = Iin(d);
        iin.birth_date().ok()?;
        Some(iin)
    }

    /// Parses and validates the check digit, the century digit and the birth date.
    pub fn parse(text: &str) -> Result<Iin, IinError> {
        let iin = Iin(checked(text)?);
        iin.birth_date()?;
        Ok(iin)
    }

    fn century_start(self) -> Result<i32, IinError> {
        match self.0[6] {
            1 | 2 => Ok(1800),
            3 | 4 => Ok(1900),
            5 | 6 => Ok(2000),
            other => Err(IinError::Century(other)),
        }
    }

    pub fn birth_date(self) -> Result<NaiveDate, IinError> {
        let year = self.century_start()? + i32::try_from(two(&self.0, 0)).unwrap_or(0);
        NaiveDate::from_ymd_opt(year, two(&self.0, 2), two(&self.0, 4)).ok_or(IinError::BirthDate)
    }

    pub fn sex(self) -> Sex {
        if self.0[6] % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Age in whole years on `date` (0 before birth).
    pub fn age_on(self, date: NaiveDate) -> u32 {
        self.birth_date()
            .ok()
            .and_then(|born| date.years_since(born))
            .unwrap_or(0)
    }
}

impl Bin {
    /// Parses and validates the check digit, the registration month and entity type.
    pub fn parse(text: &str) -> Result<Bin, IinError> {
        let d = checked(text)?;
        let month = two(&d, 2);
        if !(1..=12).contains(&month) || !(4..=6).contains(&d[4]) {
            return Err(IinError::BinStructure);
        }
        Ok(Bin(d))
    }

    /// Year and month the entity was registered (two-digit year as written).
    pub fn registration_month(self) -> (u32, u32) {
        (two(&self.0, 0), two(&self.0, 2))
    }
}

fn write_digits(f: &mut fmt::Formatter<'_>, d: &[u8; 12]) -> fmt::Result {
    d.iter().try_for_each(|digit| write!(f, "{digit}"))
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_digits(f, &self.0)
    }
}

impl fmt::Display for Bin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_digits(f, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_examples() {
        let first = Iin::parse("900101300007").unwrap();
        assert_eq!(
            first.birth_date().unwrap(),
            NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
        );
        assert_eq!(first.sex(), Sex::Male);
        // Needs the second weighting pass.
        let second = Iin::parse("900101300811").unwrap();
        assert_eq!(second.to_string(), "900101300811");
        let d = digits("900101300811").unwrap();
        let first_pass: u32 = d
            .iter()
            .zip(&FIRST_WEIGHTS)
            .map(|(a, w)| u32::from(*a) * w)
            .sum();
        assert_eq!(first_pass % 11, 10);

        assert_eq!(Iin::parse("900101300008"), Err(IinError::CheckDigit));
        let bin = Bin::parse("940140000385").unwrap();
        assert_eq!(bin.registration_month(), (94, 1));
        // A BIN is not a person: its seventh digit is no century digit.
        assert_eq!(Iin::parse("940140000385"), Err(IinError::Century(0)));
    }

    #[test]
    fn complete_computes_the_check_digit() {
        assert_eq!(
            Iin::complete("90010130000").unwrap().to_string(),
            "900101300007"
        );
        assert_eq!(
            Iin::complete("90010130081").unwrap().to_string(),
            "900101300811"
        );
        assert!(Iin::complete("94014000038").is_none(), "not a birth date");
    }

    #[test]
    fn format_errors() {
        for bad in [
            "",
            "90010130000",
            "9001013000071",
            "90010130000a",
            "９00101300007",
        ] {
            assert_eq!(Iin::parse(bad), Err(IinError::Format), "{bad}");
        }
    }

    /// Completes eleven digits with the first serial that has a valid check digit.
    fn with_check_digit(first_ten: &str) -> String {
        (0..10)
            .find_map(|serial_end| {
                let mut d = digits(&format!("{first_ten}{serial_end}0")).ok()?;
                d[11] = check_digit(&d)?;
                Some(d.iter().map(|x| char::from(b'0' + x)).collect())
            })
            .unwrap()
    }

    #[test]
    fn century_sex_and_age() {
        let iin = Iin::parse(&with_check_digit("0503156000")).unwrap();
        assert_eq!(
            iin.birth_date().unwrap(),
            NaiveDate::from_ymd_opt(2005, 3, 15).unwrap()
        );
        assert_eq!(iin.sex(), Sex::Female);
        assert_eq!(
            iin.age_on(NaiveDate::from_ymd_opt(2030, 3, 14).unwrap()),
            24
        );
        assert_eq!(
            iin.age_on(NaiveDate::from_ymd_opt(2030, 3, 15).unwrap()),
            25
        );

        let old = Iin::parse(&with_check_digit("9912311000")).unwrap();
        assert_eq!(
            old.birth_date().unwrap(),
            NaiveDate::from_ymd_opt(1899, 12, 31).unwrap()
        );
        assert_eq!(old.sex(), Sex::Male);

        let iin = Iin::parse("900101300007").unwrap();
        assert_eq!(iin.age_on(NaiveDate::from_ymd_opt(2015, 1, 1).unwrap()), 25);
        assert_eq!(
            iin.age_on(NaiveDate::from_ymd_opt(2014, 12, 31).unwrap()),
            24
        );
        assert_eq!(iin.age_on(NaiveDate::from_ymd_opt(1980, 1, 1).unwrap()), 0);
    }

    #[test]
    fn century_digit_and_date_out_of_range() {
        assert_eq!(
            Iin::parse(&with_check_digit("9001017000")),
            Err(IinError::Century(7))
        );
        assert_eq!(
            Iin::parse(&with_check_digit("9002303000")),
            Err(IinError::BirthDate)
        );
        assert_eq!(
            Bin::parse(&with_check_digit("9413400000")),
            Err(IinError::BinStructure)
        );
    }
}
