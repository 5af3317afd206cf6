//! Programmes and their yearly envelopes.

use aimaq_error::{Error, Violations};
use aimaq_types::Money;

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

impl ProgramKind {
    pub const ALL: [ProgramKind; 3] = [
        ProgramKind::RuralInfrastructure,
        ProgramKind::EntrepreneurshipMicroCredit,
        ProgramKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProgramKind::RuralInfrastructure => "rural_infrastructure",
            ProgramKind::EntrepreneurshipMicroCredit => "entrepreneurship_micro_credit",
            ProgramKind::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<ProgramKind> {
        ProgramKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundingSource {
    NationalBudget,
    LocalBudget,
}

impl FundingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            FundingSource::NationalBudget => "national_budget",
            FundingSource::LocalBudget => "local_budget",
        }
    }

    pub fn parse(text: &str) -> Option<FundingSource> {
        [FundingSource::NationalBudget, FundingSource::LocalBudget]
            .into_iter()
            .find(|s| s.as_str() == text)
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
        ));
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
