//! Programmes and their yearly envelopes.

use aimaq_error::{Amount, Error, Violations};
use aimaq_types::Money;

use super::allocation::Holding;

/// The years a programme may cover.
pub const FIRST_YEAR: i32 = 1991;
pub const LAST_YEAR: i32 = 2100;
const MAX_CODE: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramKind {
    RuralInfrastructure,
    EntrepreneurshipMicroCredit,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundingSource {
    NationalBudget,
    LocalBudget,
}

/// A programme's title in the three languages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Title {
    pub kk: String,
    pub ru: String,
    pub en: String,
}

/// A programme as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub code: String,
    pub title: Title,
    pub kind: ProgramKind,
    pub funding_source: FundingSource,
    pub first_year: i32,
    pub last_year: i32,
    pub version: i64,
    pub created_at_micros: i64,
    /// Its place in the budget classification (`217 056` or `217 056 015`),
    /// empty when not recorded, and where that code comes from.
    pub budget_code: String,
    pub budget_code_source: String,
}

/// What a programme may spend in one year, and what region allocations draw
/// from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub program_code: String,
    pub fiscal_year: i32,
    pub amount: Money,
    pub allocated: Money,
    pub version: i64,
}

impl Envelope {
    pub fn holding(&self) -> Holding {
        Holding {
            amount: self.amount,
            committed: self.allocated,
        }
    }
}

/// A programme code: upper-case letters, digits and underscores, starting with a
/// letter, for example `AUYL_EL_BESIGI`.
pub fn check_code(code: &str) -> Result<(), String> {
    let well_formed = (3..=MAX_CODE).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "3 to {MAX_CODE} upper-case letters, digits and underscores, starting with a letter"
        ))
    }
}

/// A budget classification code as finance departments write it: the
/// administrator, the programme and optionally the subprogramme, three digits
/// each, separated by single spaces. Empty means not recorded; a code needs
/// its source, so that no one takes an illustrative code for the law's.
pub fn check_budget_code(violations: &mut Violations, code: &str, source: &str) {
    let groups: Vec<&str> = code.split(' ').collect();
    let well_formed = code.is_empty()
        || ((2..=3).contains(&groups.len())
            && groups
                .iter()
                .all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit())));
    violations.check(
        well_formed,
        "program.budget_code",
        "administrator, programme and optional subprogramme: three digits each, separated by spaces, such as \"217 056\"",
    );
    violations.check(
        code.is_empty() || !source.trim().is_empty(),
        "program.budget_code_source",
        "required with a budget code",
    );
    violations.check(
        source.chars().count() <= 2000,
        "program.budget_code_source",
        "at most 2000 characters",
    );
}

/// Checks the years of a programme.
pub fn check_years(violations: &mut Violations, first: i32, last: i32) {
    for (field, year) in [("program.first_year", first), ("program.last_year", last)] {
        violations.check(
            (FIRST_YEAR..=LAST_YEAR).contains(&year),
            field,
            format!("must be a year from {FIRST_YEAR} to {LAST_YEAR}"),
        );
    }
    violations.check(
        first <= last,
        "program.last_year",
        "must not be before first_year",
    );
}

/// A new ceiling for an envelope: not negative, inside the programme's years,
/// and not below what region allocations already draw from it.
pub fn check_envelope(
    program: &str,
    years: (i32, i32),
    fiscal_year: i32,
    amount: Money,
    allocated: Money,
) -> Result<(), Error> {
    let mut violations = Violations::new();
    violations.check(!amount.is_negative(), "amount_tiyn", "must not be negative");
    violations.check(
        (years.0..=years.1).contains(&fiscal_year),
        "fiscal_year",
        format!("{program} runs from {} to {}", years.0, years.1),
    );
    violations.into_result()?;
    if amount < allocated {
        return Err(Error::precondition(
            "ENVELOPE_ALLOCATED",
            format!("programs/{program}/envelopes/{fiscal_year}"),
            format!(
                "the envelope cannot go below what is allocated: asked {amount}, allocated {allocated}"
            ),
        )
        .with_amounts(&[(Amount::Asked, amount), (Amount::Allocated, allocated)]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(check_code("AUYL_EL_BESIGI").is_ok());
        assert!(check_code("AUYL_AMANATY").is_ok());
        for bad in ["", "AB", "auyl", "1AUYL", "AUYL-EL", "AUYL EL"] {
            assert!(check_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn budget_codes() {
        for (code, source) in [("", ""), ("217 056", "law"), ("217 056 015", "law")] {
            let mut violations = Violations::new();
            check_budget_code(&mut violations, code, source);
            assert!(violations.is_empty(), "{code:?}");
        }
        for (code, source, field) in [
            ("217056", "law", "program.budget_code"),
            ("217 56", "law", "program.budget_code"),
            ("217 056 015 001", "law", "program.budget_code"),
            ("217 05a", "law", "program.budget_code"),
            ("217 056", " ", "program.budget_code_source"),
        ] {
            let mut violations = Violations::new();
            check_budget_code(&mut violations, code, source);
            let Err(Error::InvalidArgument(found)) = violations.into_result() else {
                panic!("{code:?} is refused");
            };
            assert_eq!(found[0].field, field, "{code:?}");
        }
    }

    #[test]
    fn years() {
        let mut violations = Violations::new();
        check_years(&mut violations, 2019, 2024);
        assert!(violations.is_empty());
        let mut violations = Violations::new();
        check_years(&mut violations, 2025, 2019);
        assert!(!violations.is_empty());
    }

    #[test]
    fn envelopes() {
        let tenge = |t: i64| Money::from_tenge(t).unwrap();
        assert!(check_envelope("P", (2019, 2024), 2020, tenge(100), tenge(40)).is_ok());
        assert!(matches!(
            check_envelope("P", (2019, 2024), 2025, tenge(100), Money::ZERO),
            Err(Error::InvalidArgument(v)) if v[0].field == "fiscal_year"
        ));
        assert!(matches!(
            check_envelope("P", (2019, 2024), 2020, tenge(-1), Money::ZERO),
            Err(Error::InvalidArgument(v)) if v[0].field == "amount_tiyn"
        ));
        let Err(Error::FailedPrecondition { message, .. }) =
            check_envelope("P", (2019, 2024), 2020, tenge(10), tenge(40))
        else {
            panic!("lowering below the allocated amount is refused");
        };
        assert!(
            message.contains("10.00 KZT") && message.contains("40.00 KZT"),
            "{message}"
        );
    }
}
