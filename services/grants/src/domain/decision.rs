//! What each step of an application does to it: submission (one open
//! application per person, one allowance per life), the decision (the amounts
//! fixed by the terms in force, the loan within its cap), payments, and the
//! departure that ends it. Pure: the caller reads and writes the rows.

use aimaq_error::{Error, Violations};
use aimaq_types::Money;
use chrono::NaiveDate;

use super::application::{
    Application, ApplicationStatus, Granted, Loan, Person, age_band, allowance, check_loan, settle,
    whole_months,
};
use super::loan::{Line, outstanding_on, schedule};
use super::terms::{Policy, in_money};

/// How an application or a person's earlier application is named in errors.
pub type Namer = fn(i64) -> String;

fn allowance_granted(application: &Application, earlier: i64, name: Namer) -> Error {
    Error::precondition(
        "ALLOWANCE_GRANTED",
        name(earlier),
        format!(
            "the allowance is granted once per person: {} received it with {}",
            application.iin,
            name(earlier)
        ),
    )
}

/// Checks that `person` may make `application`: no other application open,
/// and the allowance not received before if it asks for it.
pub fn check_submission(
    person: &Person,
    application: &Application,
    name: Namer,
) -> Result<(), Error> {
    if let Some(open) = person.open_application {
        return Err(Error::precondition(
            "OPEN_APPLICATION",
            name(open),
            format!(
                "{} already has an open application, {}",
                application.iin,
                name(open)
            ),
        ));
    }
    match person.allowance_application {
        Some(earlier) if application.allowance_requested => {
            Err(allowance_granted(application, earlier, name))
        }
        _ => Ok(()),
    }
}

pub fn wrong_status(this: &str, status: ApplicationStatus, action: &str) -> Error {
    Error::precondition(
        "APPLICATION_STATUS",
        this,
        format!("{this} is {}: it cannot be {action}", status.as_str()),
    )
}

/// Checks that `current` waits for a decision.
pub fn check_decidable(current: &Application, name: Namer) -> Result<(), Error> {
    match current.status {
        ApplicationStatus::Submitted => Ok(()),
        status => Err(wrong_status(&name(current.id), status, "decided")),
    }
}

/// The application rejected on `date` for `reason`; the person may apply again.
pub fn reject(
    current: Application,
    person: &mut Person,
    reason: &str,
    date: NaiveDate,
    now: i64,
) -> Application {
    person.open_application = None;
    Application {
        status: ApplicationStatus::Rejected,
        rejection_reason: reason.trim().to_owned(),
        decision_date: Some(date),
        version: current.version + 1,
        updated_at_micros: now,
        ..current
    }
}

/// What an approval grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    pub allowance: bool,
    pub loan: Option<Loan>,
}

/// The terms in force on a decision date: the policy (from its first day) and
/// the value of one MCI.
#[derive(Debug, Clone, Copy)]
pub struct InForce<'a> {
    pub policy: &'a Policy,
    pub policy_from: NaiveDate,
    pub mci: Money,
}

/// Checks an approval against what was asked and the terms in force (fields
/// named as in DecideApplication).
fn check_approval(
    current: &Application,
    approval: Approval,
    terms: InForce<'_>,
) -> Result<(), Error> {
    let mut violations = Violations::new();
    violations.check(
        !approval.allowance || current.allowance_requested,
        "grant_allowance",
        "the allowance was not requested",
    );
    if let Some(loan) = approval.loan {
        let asked = current.loan_requested.unwrap_or_default();
        violations.check(
            loan.amount <= asked.amount,
            "grant_loan.amount_tiyn",
            "at most what was requested",
        );
        violations.check(
            loan.months <= asked.months,
            "grant_loan.term_months",
            "at most the term requested",
        );
        let cap = in_money(terms.policy.loan_cap_mci, terms.mci)?;
        check_loan(&mut violations, "grant_loan", loan, terms.policy, cap);
    }
    violations.check(
        approval.allowance || approval.loan.is_some(),
        "grant_allowance",
        "an approval grants the allowance, a loan, or both",
    );
    violations.into_result()
}

/// The application approved on `date`, its amounts fixed by the terms in
/// force; the allowance, once granted, is the person's for life. Returns what
/// the region's quota must give: an allowance or not, and the loan.
pub fn approve(
    current: Application,
    person: &mut Person,
    approval: Approval,
    (date, now): (NaiveDate, i64),
    terms: InForce<'_>,
    name: Namer,
) -> Result<(Application, (bool, Money)), Error> {
    check_approval(&current, approval, terms)?;
    if let (true, Some(earlier)) = (approval.allowance, person.allowance_application) {
        return Err(allowance_granted(&current, earlier, name));
    }
    let granted_allowance = if approval.allowance {
        allowance(terms.policy, terms.mci)?
    } else {
        Money::ZERO
    };
    let loan = approval.loan.unwrap_or_default();
    if approval.allowance {
        person.allowance_application = Some(current.id);
    }
    let granted = Granted {
        allowance: granted_allowance,
        loan,
        loan_rate_bp: if loan.amount > Money::ZERO {
            terms.policy.loan_rate_bp
        } else {
            0
        },
        obligation_months: terms.policy.obligation_months,
        mci: terms.mci,
        policy_effective_from: Some(terms.policy_from),
        age_band: Some(age_band(current.iin.age_on(date)).to_owned()),
    };
    let approved = Application {
        status: ApplicationStatus::Approved,
        decision_date: Some(date),
        granted,
        version: current.version + 1,
        updated_at_micros: now,
        ..current
    };
    Ok((approved, (approval.allowance, loan.amount)))
}

/// A payment to a specialist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    Allowance,
    /// The loan, disbursed on this date.
    Loan(NaiveDate),
}

/// The application once `payment` is made: active, the obligation running.
pub fn pay(
    current: Application,
    payment: Payment,
    now: i64,
    name: Namer,
) -> Result<Application, Error> {
    let this = name(current.id);
    if !matches!(
        current.status,
        ApplicationStatus::Approved | ApplicationStatus::Active
    ) {
        return Err(wrong_status(&this, current.status, "paid"));
    }
    let refused = |what: &str| Error::precondition("PAYMENT", &this, format!("{this}: {what}"));
    let mut paid = current;
    match payment {
        Payment::Allowance => {
            if paid.granted.allowance == Money::ZERO {
                return Err(refused("no allowance was granted"));
            }
            if paid.allowance_paid {
                return Err(refused("the allowance is already paid"));
            }
            paid.allowance_paid = true;
        }
        Payment::Loan(date) => {
            if paid.granted.loan.amount == Money::ZERO {
                return Err(refused("no loan was granted"));
            }
            if paid.loan_disbursed_on.is_some() {
                return Err(refused("the loan is already disbursed"));
            }
            paid.loan_disbursed_on = Some(date);
        }
    }
    Ok(Application {
        status: ApplicationStatus::Active,
        version: paid.version + 1,
        updated_at_micros: now,
        ..paid
    })
}

/// The granted loan's schedule: from its disbursement, or from the decision
/// until then.
pub fn loan_schedule(application: &Application) -> Result<Vec<Line>, Error> {
    let start = application
        .loan_disbursed_on
        .or(application.decision_date)
        .ok_or_else(|| Error::internal("a granted loan without a decision date"))?;
    let loan = &application.granted;
    schedule(
        loan.loan.amount.tiyn(),
        loan.loan_rate_bp,
        loan.loan.months,
        start,
    )
    .ok_or_else(|| Error::internal("a granted loan outside the schedule's bounds"))
}

/// The application ended by the specialist leaving on `date`: completed when
/// the obligation was served, breached (with what is owed) when not. The
/// person may apply again.
pub fn depart(
    current: Application,
    person: &mut Person,
    (date, now): (NaiveDate, i64),
    name: Namer,
) -> Result<Application, Error> {
    if !matches!(
        current.status,
        ApplicationStatus::Approved | ApplicationStatus::Active
    ) {
        return Err(wrong_status(
            &name(current.id),
            current.status,
            "ended by a departure",
        ));
    }
    let start = current.start_date;
    if date < start {
        return Err(Error::invalid(
            "departure_date",
            format!("before the work started on {start}"),
        ));
    }
    let served = whole_months(start, date);
    let paid = if current.allowance_paid {
        current.granted.allowance
    } else {
        Money::ZERO
    };
    let outstanding = if current.loan_disbursed_on.is_some() {
        let lines = loan_schedule(&current)?;
        let principal = current.granted.loan.amount.tiyn();
        Money::from_tiyn(outstanding_on(&lines, principal, date))
    } else {
        Money::ZERO
    };
    let due = settle(served, current.granted.obligation_months, paid, outstanding);
    person.open_application = None;
    Ok(Application {
        status: match due {
            Some(_) => ApplicationStatus::Breached,
            None => ApplicationStatus::Completed,
        },
        departure_date: Some(date),
        served_months: served,
        settlement_due: due,
        version: current.version + 1,
        updated_at_micros: now,
        ..current
    })
}
