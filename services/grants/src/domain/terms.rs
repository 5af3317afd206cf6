//! The programme's terms and the MCI, both dated data: whatever is in force on
//! a date decides the amounts of a decision taken that day.

use aimaq_error::{Error, Violations};
use aimaq_types::Money;
use chrono::NaiveDate;

/// The longest term and highest rate a loan schedule is computed for.
pub const MAX_TERM_MONTHS: i32 = 600;
pub const MAX_RATE_BP: i32 = 2000;
/// Ceilings far above any terms the programme has had (an allowance of 70 or
/// 100 MCI, a loan cap of 1,500 to 2,500 MCI; an MCI of 2,525 to 4,325 tenge),
/// so that every amount they give fits: at most 10^13 tiyn.
pub const MAX_ALLOWANCE_MCI: i32 = 10_000;
pub const MAX_LOAN_CAP_MCI: i32 = 100_000;
pub const MAX_MCI_TIYN: i64 = 100_000_000;

/// Checks an MCI value in tiyn.
pub fn check_mci_value(violations: &mut Violations, field: &str, value_tiyn: i64) {
    violations.check(
        (1..=MAX_MCI_TIYN).contains(&value_tiyn),
        field,
        format!("must be from 1 to {MAX_MCI_TIYN} tiyn"),
    );
}

/// Fields of work the programme supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Healthcare,
    Education,
    SocialSecurity,
    Culture,
    Sport,
    /// Agro-industrial complex, veterinary medicine included.
    AgroIndustrial,
    /// Civil servants of village and rural-district akim offices (not akims or
    /// their deputies).
    AkimOfficeCivilService,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Healthcare,
        Field::Education,
        Field::SocialSecurity,
        Field::Culture,
        Field::Sport,
        Field::AgroIndustrial,
        Field::AkimOfficeCivilService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Healthcare => "healthcare",
            Field::Education => "education",
            Field::SocialSecurity => "social_security",
            Field::Culture => "culture",
            Field::Sport => "sport",
            Field::AgroIndustrial => "agro_industrial",
            Field::AkimOfficeCivilService => "akim_office_civil_service",
        }
    }

    pub fn parse(text: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

/// The value of one MCI from a date on, as a legal act set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MciRate {
    pub effective_from: NaiveDate,
    pub value: Money,
    pub source: String,
    pub version: i64,
}

/// The programme's terms as a legal act set them from a date on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    pub effective_from: NaiveDate,
    pub terms: Policy,
    pub source: String,
    pub version: i64,
}

/// The programme's terms from a date on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub allowance_mci: i32,
    pub loan_cap_mci: i32,
    pub loan_rate_bp: i32,
    pub max_term_months: i32,
    pub obligation_months: i32,
    pub eligible_fields: Vec<Field>,
}

/// Checks a policy, naming each field under `policy.`.
pub fn check_policy(violations: &mut Violations, policy: &Policy) {
    violations.check(
        (1..=MAX_ALLOWANCE_MCI).contains(&policy.allowance_mci),
        "policy.allowance_mci",
        format!("must be from 1 to {MAX_ALLOWANCE_MCI}"),
    );
    violations.check(
        (1..=MAX_LOAN_CAP_MCI).contains(&policy.loan_cap_mci),
        "policy.loan_cap_mci",
        format!("must be from 1 to {MAX_LOAN_CAP_MCI}"),
    );
    violations.check(
        (0..=MAX_RATE_BP).contains(&policy.loan_rate_bp),
        "policy.loan_rate_bp",
        format!("between 0 and {MAX_RATE_BP} basis points"),
    );
    violations.check(
        (1..=MAX_TERM_MONTHS).contains(&policy.max_term_months),
        "policy.max_term_months",
        format!("between 1 and {MAX_TERM_MONTHS}"),
    );
    violations.check(
        (1..=MAX_TERM_MONTHS).contains(&policy.obligation_months),
        "policy.obligation_months",
        format!("between 1 and {MAX_TERM_MONTHS}"),
    );
    violations.check(
        !policy.eligible_fields.is_empty(),
        "policy.eligible_fields",
        "at least one field",
    );
}

/// What `mci` MCI are worth when one MCI is `mci_value`. Checked terms always
/// give an amount; stored ones out of bounds are refused as such.
pub fn in_money(mci: i32, mci_value: Money) -> Result<Money, Error> {
    mci_value
        .checked_mul(i64::from(mci))
        .ok()
        .filter(|amount| aimaq_types::bounds::amount(amount.tiyn()).is_ok())
        .ok_or_else(|| {
            Error::precondition(
                "BOUNDS",
                "policies",
                format!(
                    "{mci} MCI at {mci_value} is no amount the programme pays; correct the terms"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenge(t: i64) -> Money {
        Money::from_tenge(t).unwrap()
    }

    #[test]
    fn amounts_follow_the_mci_of_the_day() {
        // 2022: 3,063 tenge from 1 January, 3,180 from 1 April.
        assert_eq!(in_money(100, tenge(3063)).unwrap(), tenge(306_300));
        assert_eq!(in_money(100, tenge(3180)).unwrap(), tenge(318_000));
        assert_eq!(in_money(2500, tenge(3932)).unwrap(), tenge(9_830_000));
        assert!(in_money(i32::MAX, Money::from_tiyn(i64::MAX / 2)).is_err());
    }

    #[test]
    fn every_bad_term_is_named() {
        let mut violations = Violations::new();
        check_policy(
            &mut violations,
            &Policy {
                allowance_mci: 0,
                loan_cap_mci: -1,
                loan_rate_bp: MAX_RATE_BP + 1,
                max_term_months: 0,
                obligation_months: 0,
                eligible_fields: vec![],
            },
        );
        let Err(Error::InvalidArgument(fields)) = violations.into_result() else {
            panic!("accepted");
        };
        assert_eq!(fields.len(), 6);
    }

    #[test]
    fn fields_have_stable_names() {
        for field in Field::ALL {
            assert_eq!(Field::parse(field.as_str()), Some(field));
        }
    }
}
