//! Applications: who may apply for what, the amounts fixed on approval, and
//! what is owed when a specialist leaves the village early.

use aimaq_error::{Error, Violations};
use aimaq_types::{Iin, Kato, Money};
use chrono::{Datelike, NaiveDate};

use super::terms::{Field, Policy, in_money};

/// Ages at which an application is plausible.
pub const MIN_AGE: u32 = 18;
pub const MAX_AGE: u32 = 70;
const TEXT_MAX_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationStatus {
    Submitted,
    Approved,
    Rejected,
    /// Paid; the work obligation runs.
    Active,
    Completed,
    /// Left before the obligation ended.
    Breached,
}

impl ApplicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Rejected => "rejected",
            ApplicationStatus::Active => "active",
            ApplicationStatus::Completed => "completed",
            ApplicationStatus::Breached => "breached",
        }
    }
}

/// The diploma an applicant holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diploma {
    /// The proto's diploma level value.
    pub level: i32,
    pub speciality: String,
    pub year: i32,
    pub institution: String,
}

/// What an approval fixed: the amounts at the MCI and terms in force on the
/// decision date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    pub allowance: Money,
    pub loan: Loan,
    pub loan_rate_bp: i32,
    pub obligation_months: i32,
    pub mci: Money,
    pub policy_effective_from: Option<NaiveDate>,
    pub age_band: Option<String>,
}

/// An application as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: i64,
    pub iin: Iin,
    pub full_name: String,
    pub field: Field,
    pub diploma: Diploma,
    pub settlement: Kato,
    pub employer: String,
    pub start_date: NaiveDate,
    pub allowance_requested: bool,
    pub loan_requested: Option<Loan>,
    pub status: ApplicationStatus,
    pub submitted_year: i32,
    pub decision_date: Option<NaiveDate>,
    pub granted: Granted,
    pub rejection_reason: String,
    pub allowance_paid: bool,
    pub loan_disbursed_on: Option<NaiveDate>,
    pub departure_date: Option<NaiveDate>,
    /// What the departure settled: months served (also when the obligation
    /// was fulfilled), and the rest when it was not.
    pub served_months: i32,
    pub settlement_due: Option<Settlement>,
    pub version: i64,
    pub submitted_at_micros: i64,
    pub updated_at_micros: i64,
}

/// One person who ever applied: what keeps one open application per person
/// and one allowance per life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub iin: Iin,
    pub open_application: Option<i64>,
    pub allowance_application: Option<i64>,
}

/// A region's quota for a year and what is approved against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub region: Kato,
    pub year: i32,
    pub allowance_count: i32,
    pub loan_amount: Money,
    pub allowances_approved: i32,
    pub loans_approved: Money,
    pub version: i64,
}

/// Checks a text field: required and not too long.
pub fn check_text(violations: &mut Violations, field: &str, text: &str) {
    violations.check(!text.trim().is_empty(), field, "required");
    check_length(violations, field, text);
}

/// Checks that an optional text field is not too long.
pub fn check_length(violations: &mut Violations, field: &str, text: &str) {
    violations.check(
        text.chars().count() <= TEXT_MAX_CHARS,
        field,
        format!("at most {TEXT_MAX_CHARS} characters"),
    );
}

/// The quota `current` (none when new) set to `allowance_count` allowances and
/// `loan_amount` for loans at `version`: never below what is approved against it.
pub fn reset_quota(
    name: &str,
    current: Option<&Quota>,
    (region, year): (Kato, i32),
    (allowance_count, loan_amount): (i32, Money),
    version: i64,
) -> Result<Quota, Error> {
    let (allowances, loans) = current.map_or((0, Money::ZERO), |c| {
        (c.allowances_approved, c.loans_approved)
    });
    if allowance_count < allowances || loan_amount < loans {
        return Err(Error::precondition(
            "QUOTA",
            name,
            format!(
                "{name} cannot go below what is approved: {allowances} allowances and {loans} for loans"
            ),
        ));
    }
    Ok(Quota {
        region,
        year,
        allowance_count,
        loan_amount,
        allowances_approved: allowances,
        loans_approved: loans,
        version,
    })
}

/// The applicant's IIN, valid and of a plausible age on `today`.
pub fn check_applicant(iin: &str, today: NaiveDate) -> Result<Iin, String> {
    let iin = Iin::parse(iin).map_err(|e| e.to_string())?;
    let age = iin.age_on(today);
    if (MIN_AGE..=MAX_AGE).contains(&age) {
        Ok(iin)
    } else {
        Err(format!(
            "the holder is {age} by its birth date; applicants are {MIN_AGE} to {MAX_AGE}"
        ))
    }
}

/// A requested or granted loan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loan {
    pub amount: Money,
    pub months: i32,
}

/// Checks a loan against the terms in force (`cap` in money), naming fields
/// under `part`.
pub fn check_loan(
    violations: &mut Violations,
    part: &str,
    loan: Loan,
    policy: &Policy,
    cap: Money,
) {
    violations.check(
        loan.amount > Money::ZERO,
        format!("{part}.amount_tiyn"),
        "must be positive",
    );
    violations.check(
        loan.amount <= cap,
        format!("{part}.amount_tiyn"),
        format!(
            "at most the cap of {} MCI ({cap}) in force",
            policy.loan_cap_mci
        ),
    );
    violations.check(
        (1..=policy.max_term_months).contains(&loan.months),
        format!("{part}.term_months"),
        format!("between 1 and {} months", policy.max_term_months),
    );
}

/// Checks the field against the terms in force.
pub fn check_field(violations: &mut Violations, field: Field, policy: &Policy) {
    violations.check(
        policy.eligible_fields.contains(&field),
        "field",
        format!(
            "{} is not an eligible field under the terms in force",
            field.as_str()
        ),
    );
}

/// The allowance the terms give when one MCI is `mci`.
pub fn allowance(policy: &Policy, mci: Money) -> Result<Money, Error> {
    in_money(policy.allowance_mci, mci)
}

/// Age bands the statistics use.
pub fn age_band(age: u32) -> &'static str {
    match age {
        0..25 => "under_25",
        25..30 => "25_to_29",
        30..35 => "30_to_34",
        _ => "35_and_over",
    }
}

/// Whole months from `from` to `to` (0 when `to` is earlier).
pub fn whole_months(from: NaiveDate, to: NaiveDate) -> i32 {
    if to <= from {
        return 0;
    }
    let mut months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    if to.day() < from.day() {
        months -= 1;
    }
    months.max(0)
}

/// What is owed after leaving before the obligation ended: the allowance
/// refunded for the unserved months, pro rata and rounded down (in the
/// specialist's favour), and the loan's outstanding principal at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    pub served_months: i32,
    pub unserved_months: i32,
    pub allowance_refund: Money,
    pub loan_principal_due: Money,
}

/// The settlement of a departure after `served` of `obligation` months; `None`
/// when the obligation was fulfilled.
pub fn settle(
    served: i32,
    obligation: i32,
    allowance_paid: Money,
    outstanding: Money,
) -> Option<Settlement> {
    if served >= obligation || obligation <= 0 {
        return None;
    }
    let unserved = obligation - served;
    let refund = i128::from(allowance_paid.tiyn()) * i128::from(unserved) / i128::from(obligation);
    Some(Settlement {
        served_months: served,
        unserved_months: unserved,
        allowance_refund: Money::from_tiyn(i64::try_from(refund).unwrap_or(i64::MAX)),
        loan_principal_due: outstanding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn applicants_have_a_valid_iin_and_a_plausible_age() {
        let iin = (1000..1100)
            .find_map(|s| Iin::complete(&format!("0003155{s:04}")))
            .unwrap();
        assert!(check_applicant(&iin.to_string(), day(2026, 11, 28)).is_ok());
        assert!(check_applicant(&iin.to_string(), day(2010, 1, 1)).is_err());
        assert!(check_applicant("000315500000", day(2026, 1, 1)).is_err());
    }

    #[test]
    fn months_are_counted_whole() {
        assert_eq!(whole_months(day(2024, 1, 15), day(2024, 2, 14)), 0);
        assert_eq!(whole_months(day(2024, 1, 15), day(2024, 2, 15)), 1);
        assert_eq!(whole_months(day(2024, 1, 31), day(2025, 1, 30)), 11);
        assert_eq!(whole_months(day(2024, 1, 1), day(2027, 1, 1)), 36);
        assert_eq!(whole_months(day(2024, 1, 1), day(2023, 1, 1)), 0);
    }

    #[test]
    fn leaving_early_refunds_the_unserved_share_and_calls_the_loan() {
        let paid = Money::from_tiyn(39_320_000);
        let owed = Money::from_tiyn(500_000_000);
        let settled = settle(12, 36, paid, owed).unwrap();
        assert_eq!(settled.unserved_months, 24);
        // 24/36 of 393,200.00 KZT, rounded down to the tiyn.
        assert_eq!(settled.allowance_refund, Money::from_tiyn(26_213_333));
        assert_eq!(settled.loan_principal_due, owed);
        assert!(settle(36, 36, paid, owed).is_none());
        assert_eq!(
            settle(0, 36, paid, Money::ZERO).unwrap().allowance_refund,
            paid
        );
    }

    #[test]
    fn loans_stay_within_the_terms() {
        let policy = Policy {
            allowance_mci: 100,
            loan_cap_mci: 2500,
            loan_rate_bp: 1,
            max_term_months: 180,
            obligation_months: 36,
            eligible_fields: vec![Field::Healthcare],
        };
        let cap = Money::from_tiyn(983_000_000);
        let check = |amount, months| {
            let mut violations = Violations::new();
            check_loan(
                &mut violations,
                "loan_requested",
                Loan {
                    amount: Money::from_tiyn(amount),
                    months,
                },
                &policy,
                cap,
            );
            violations.into_result()
        };
        assert!(check(983_000_000, 180).is_ok());
        assert!(check(983_000_001, 180).is_err());
        assert!(check(100, 181).is_err());
        assert!(check(0, 12).is_err());
        let mut violations = Violations::new();
        check_field(&mut violations, Field::Sport, &policy);
        assert!(violations.into_result().is_err());
    }

    #[test]
    fn ages_fall_in_bands() {
        assert_eq!(age_band(22), "under_25");
        assert_eq!(age_band(25), "25_to_29");
        assert_eq!(age_band(34), "30_to_34");
        assert_eq!(age_band(41), "35_and_over");
    }
}
