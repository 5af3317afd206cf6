//! The housing loan's repayment: a monthly annuity in whole tiyn.
//!
//! The payment is the annuity formula `P·r·(1+r)^n / ((1+r)^n − 1)` with the
//! monthly rate `r` = annual basis points / 120,000, rounded half up to a tiyn.
//! Each month's interest is the remaining balance times `r`, rounded half up;
//! the rest of the payment repays principal. The last line repays whatever
//! remains, so the principal parts sum exactly to the loan.

use chrono::{Months, NaiveDate};

use super::terms::{MAX_RATE_BP, MAX_TERM_MONTHS};

/// Fixed-point scale for the growth factor `(1+r)^n`.
const SCALE: i128 = 1_000_000_000_000_000;
/// Basis points per year over months: `r` = bp / 120,000.
const BP_MONTHS: i128 = 120_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub number: i32,
    pub due_date: NaiveDate,
    pub payment: i64,
    pub interest: i64,
    pub principal: i64,
    pub remaining: i64,
}

/// `numerator / denominator`, rounded half up (both positive).
fn round_div(numerator: i128, denominator: i128) -> i128 {
    (2 * numerator + denominator) / (2 * denominator)
}

/// The monthly payment of a loan of `principal` tiyn at `rate_bp` a year over
/// `months`; `None` outside the bounds the arithmetic is exact for.
pub fn monthly_payment(principal: i64, rate_bp: i32, months: i32) -> Option<i64> {
    if principal <= 0 || !(1..=MAX_TERM_MONTHS).contains(&months) {
        return None;
    }
    if !(0..=MAX_RATE_BP).contains(&rate_bp) {
        return None;
    }
    let (p, b) = (i128::from(principal), i128::from(rate_bp));
    if b == 0 {
        return i64::try_from(round_div(p, i128::from(months))).ok();
    }
    // growth = (1 + r)^n, in units of 1/SCALE.
    let mut growth = SCALE;
    for _ in 0..months {
        growth = round_div(growth * (BP_MONTHS + b), BP_MONTHS);
    }
    // payment = P · r · growth / (growth − 1), with r = b / BP_MONTHS.
    let factor = round_div(b * growth * SCALE, BP_MONTHS * (growth - SCALE));
    i64::try_from(round_div(p * factor, SCALE)).ok()
}

/// The schedule of a loan disbursed on `start`: payment `n` falls due `n` months
/// later.
pub fn schedule(principal: i64, rate_bp: i32, months: i32, start: NaiveDate) -> Option<Vec<Line>> {
    let payment = monthly_payment(principal, rate_bp, months)?;
    let mut remaining = principal;
    let mut lines = Vec::with_capacity(usize::try_from(months).ok()?);
    for number in 1..=months {
        let interest = i64::try_from(round_div(
            i128::from(remaining) * i128::from(rate_bp),
            BP_MONTHS,
        ))
        .ok()?;
        let mut principal_part = payment - interest;
        if number == months || principal_part >= remaining {
            principal_part = remaining;
        }
        remaining -= principal_part;
        lines.push(Line {
            number,
            due_date: start.checked_add_months(Months::new(u32::try_from(number).ok()?))?,
            payment: principal_part + interest,
            interest,
            principal: principal_part,
            remaining,
        });
        if remaining == 0 {
            break;
        }
    }
    Some(lines)
}

/// What remains to repay after the payments due on or before `date`.
pub fn outstanding_on(lines: &[Line], principal: i64, date: NaiveDate) -> i64 {
    lines
        .iter()
        .take_while(|line| line.due_date <= date)
        .last()
        .map_or(principal, |line| line.remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2,500 MCI at 3,932 tenge: 9,830,000 tenge.
    const LOAN: i64 = 983_000_000;

    fn start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 15).unwrap()
    }

    /// Figures computed independently (Python `decimal`, 60 digits, the same
    /// rounding rules).
    #[test]
    fn fifteen_years_at_one_hundredth_of_a_percent() {
        let lines = schedule(LOAN, 1, 180, start()).unwrap();
        assert_eq!(lines.len(), 180);
        assert_eq!(monthly_payment(LOAN, 1, 180), Some(5_465_231));
        assert_eq!(
            (lines[0].payment, lines[0].interest, lines[0].principal),
            (5_465_231, 8_192, 5_457_039)
        );
        let last = lines[179];
        assert_eq!(
            (last.payment, last.interest, last.remaining),
            (5_465_171, 46, 0)
        );
        assert_eq!(lines.iter().map(|l| l.interest).sum::<i64>(), 741_520);
        assert_eq!(lines.iter().map(|l| l.principal).sum::<i64>(), LOAN);
    }

    #[test]
    fn fifteen_years_at_one_percent() {
        let lines = schedule(LOAN, 100, 180, start()).unwrap();
        assert_eq!(monthly_payment(LOAN, 100, 180), Some(5_883_201));
        assert_eq!(
            (lines[0].interest, lines[0].principal, lines[0].remaining),
            (819_167, 5_064_034, 977_935_966)
        );
        assert_eq!(lines[179].payment, 5_883_219);
        assert_eq!(lines.iter().map(|l| l.interest).sum::<i64>(), 75_976_198);
        assert_eq!(lines.iter().map(|l| l.principal).sum::<i64>(), LOAN);
        assert_eq!(
            lines[0].due_date,
            NaiveDate::from_ymd_opt(2025, 2, 15).unwrap()
        );
        assert_eq!(
            lines[179].due_date,
            NaiveDate::from_ymd_opt(2040, 1, 15).unwrap()
        );
    }

    #[test]
    fn an_interest_free_loan_is_split_evenly() {
        let lines = schedule(LOAN, 0, 180, start()).unwrap();
        assert_eq!(lines[0].payment, 5_461_111);
        assert_eq!(lines[179].payment, 5_461_131);
        assert_eq!(lines.iter().map(|l| l.principal).sum::<i64>(), LOAN);
    }

    #[test]
    fn the_balance_outstanding_follows_the_due_dates() {
        let lines = schedule(LOAN, 100, 180, start()).unwrap();
        let before_first = NaiveDate::from_ymd_opt(2025, 2, 14).unwrap();
        assert_eq!(outstanding_on(&lines, LOAN, before_first), LOAN);
        let after_second = NaiveDate::from_ymd_opt(2025, 3, 20).unwrap();
        assert_eq!(
            outstanding_on(&lines, LOAN, after_second),
            lines[1].remaining
        );
    }

    #[test]
    fn out_of_bounds_terms_have_no_schedule() {
        assert!(schedule(LOAN, 1, 0, start()).is_none());
        assert!(schedule(LOAN, 1, MAX_TERM_MONTHS + 1, start()).is_none());
        assert!(schedule(LOAN, MAX_RATE_BP + 1, 12, start()).is_none());
        assert!(schedule(0, 1, 12, start()).is_none());
        assert!(schedule(LOAN, MAX_RATE_BP, MAX_TERM_MONTHS, start()).is_some());
    }
}
