//! Projects: what they may be, how they move through their life, and what each
//! step does to the money committed for them.
//!
//! A project commits its cost against its allocation while it is live. When it
//! ends — completed or cancelled — the commitment shrinks to what was actually
//! disbursed, so what was not spent returns to the allocation's headroom.

use aimaq_error::{Amount, Error, Violations};
use aimaq_types::{Bin, Iin, Kato, Money};
use chrono::NaiveDate;

use super::allocation::ProjectCounts;
use super::standard;

/// A project as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub program_code: String,
    pub fiscal_year: i32,
    /// The territory of the allocation it is committed against.
    pub allocation: Kato,
    pub settlement: Kato,
    pub category: ProjectCategory,
    pub title: String,
    pub borrower_id: String,
    pub cost: Money,
    pub disbursed: Money,
    pub status: ProjectStatus,
    /// The standards it meets once completed.
    pub standard_codes: Vec<String>,
    pub version: i64,
    pub created_at_micros: i64,
    pub updated_at_micros: i64,
}

/// A payment to a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disbursement {
    pub project_id: i64,
    pub amount: Money,
    pub payment_date: NaiveDate,
    pub payment_reference: String,
    pub recorded_at_micros: i64,
}

/// The projects of one programme in one status, in some territory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub program_code: String,
    pub status: ProjectStatus,
    pub count: i64,
    pub cost: Money,
}

/// A project leaving a status (none when it is new) for another.
pub type Move = (Option<ProjectStatus>, ProjectStatus);

/// How an allocation's project counts change when its projects make `moves`.
pub fn count_moves(moves: &[Move]) -> ProjectCounts {
    let mut counts = ProjectCounts::default();
    for (from, to) in moves {
        if let Some(from) = from {
            counts[from.index()] -= 1;
        }
        counts[to.index()] += 1;
    }
    counts
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectStatus {
    Planned,
    Approved,
    InProgress,
    Completed,
    Cancelled,
}

impl ProjectStatus {
    pub const ALL: [ProjectStatus; 5] = [
        ProjectStatus::Planned,
        ProjectStatus::Approved,
        ProjectStatus::InProgress,
        ProjectStatus::Completed,
        ProjectStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Planned => "planned",
            ProjectStatus::Approved => "approved",
            ProjectStatus::InProgress => "in_progress",
            ProjectStatus::Completed => "completed",
            ProjectStatus::Cancelled => "cancelled",
        }
    }

    /// Where an allocation counts its projects in this status.
    pub fn index(self) -> usize {
        match self {
            ProjectStatus::Planned => 0,
            ProjectStatus::Approved => 1,
            ProjectStatus::InProgress => 2,
            ProjectStatus::Completed => 3,
            ProjectStatus::Cancelled => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectCategory {
    SocialInfrastructure,
    EngineeringInfrastructure,
    TransportInfrastructure,
    /// Micro-credit; the borrower is named by IIN or BIN.
    Entrepreneurship,
}

/// Longest project title accepted.
pub const TITLE_MAX_CHARS: usize = 300;

/// Checks what a new project says about itself, collecting every violation.
/// `category` is `None` when the caller gave none.
pub fn check_new(
    violations: &mut Violations,
    category: Option<ProjectCategory>,
    title: &str,
    borrower_id: &str,
    cost: i64,
    standard_codes: &[String],
) {
    violations.check(category.is_some(), "category", "required");
    let title = title.trim();
    violations.check(!title.is_empty(), "title", "required");
    violations.check(
        title.chars().count() <= TITLE_MAX_CHARS,
        "title",
        format!("at most {TITLE_MAX_CHARS} characters"),
    );
    violations.check(cost > 0, "cost_tiyn", "must be positive");
    if category == Some(ProjectCategory::Entrepreneurship) {
        if let Err(reason) = check_borrower(borrower_id) {
            violations.add("borrower_id", reason);
        }
    } else {
        violations.check(
            borrower_id.is_empty(),
            "borrower_id",
            "only entrepreneurship projects have a borrower",
        );
    }
    for (index, code) in standard_codes.iter().enumerate() {
        if standard::find(code).is_none() {
            violations.add(
                format!("standard_codes[{index}]"),
                format!("{code:?} is not a regional standard; see ListStandards"),
            );
        } else if standard_codes[..index].contains(code) {
            violations.add(format!("standard_codes[{index}]"), "repeated");
        }
    }
}

/// The borrower of a micro-credit: a person (IIN) or a legal entity (BIN).
fn check_borrower(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("required for entrepreneurship projects: the borrower's IIN or BIN".into());
    }
    match (Iin::parse(id), Bin::parse(id)) {
        (Ok(_), _) | (_, Ok(_)) => Ok(()),
        (Err(as_iin), Err(as_bin)) => Err(format!(
            "neither a valid IIN ({as_iin}) nor a valid BIN ({as_bin})"
        )),
    }
}

/// Checks the status and disbursed total an imported project arrives with.
pub fn check_imported(
    violations: &mut Violations,
    status: Option<ProjectStatus>,
    cost: i64,
    disbursed: i64,
) {
    violations.check(status.is_some(), "status", "required");
    violations.check(
        (0..=cost.max(0)).contains(&disbursed),
        "disbursed_tiyn",
        "must be between 0 and the cost",
    );
    violations.check(
        status != Some(ProjectStatus::Planned) || disbursed == 0,
        "disbursed_tiyn",
        "nothing is disbursed to a planned project",
    );
}

/// Whether a project ends in this status.
pub fn is_final(status: ProjectStatus) -> bool {
    matches!(status, ProjectStatus::Completed | ProjectStatus::Cancelled)
}

/// Checks the step `from` → `to`: PLANNED → APPROVED → IN_PROGRESS → COMPLETED,
/// or CANCELLED from any status that is not final.
pub fn check_transition(name: &str, from: ProjectStatus, to: ProjectStatus) -> Result<(), Error> {
    use ProjectStatus::*;
    let allowed = match (from, to) {
        (Planned, Approved) | (Approved, InProgress) | (InProgress, Completed) => true,
        (from, Cancelled) => !is_final(from),
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::precondition(
            "PROJECT_STATUS",
            name,
            format!(
                "{name} is {}: it cannot become {}",
                from.as_str(),
                to.as_str()
            ),
        ))
    }
}

/// What a step releases back to the allocation: at the end of a project, what was
/// committed but not disbursed.
pub fn released_by(to: ProjectStatus, cost: Money, disbursed: Money) -> Result<Money, Error> {
    if is_final(to) {
        cost.checked_sub(disbursed).map_err(Error::internal)
    } else {
        Ok(Money::ZERO)
    }
}

/// Checks a disbursement of `amount` to a project in `status` that has received
/// `disbursed` of its `cost`.
pub fn check_disbursement(
    name: &str,
    status: ProjectStatus,
    cost: Money,
    disbursed: Money,
    amount: Money,
) -> Result<(), Error> {
    if !matches!(status, ProjectStatus::Approved | ProjectStatus::InProgress) {
        return Err(Error::precondition(
            "PROJECT_STATUS",
            name,
            format!(
                "{name} is {}: money is disbursed only to approved or in-progress projects",
                status.as_str()
            ),
        ));
    }
    let left = cost.checked_sub(disbursed).map_err(Error::internal)?;
    if amount > left {
        return Err(Error::precondition(
            "COST",
            name,
            format!(
                "{name} costs {cost}, of which {disbursed} is disbursed: {amount} asked, {left} left"
            ),
        )
        .with_amounts(&[
            (Amount::Cost, cost),
            (Amount::Disbursed, disbursed),
            (Amount::Asked, amount),
            (Amount::Left, left),
        ]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProjectStatus::*;

    fn tenge(t: i64) -> Money {
        Money::from_tenge(t).unwrap()
    }

    #[test]
    fn the_life_of_a_project_goes_one_way() {
        for (from, to) in [
            (Planned, Approved),
            (Approved, InProgress),
            (InProgress, Completed),
            (Planned, Cancelled),
            (Approved, Cancelled),
            (InProgress, Cancelled),
        ] {
            assert!(check_transition("p", from, to).is_ok(), "{from:?} → {to:?}");
        }
        for (from, to) in [
            (Planned, InProgress),
            (Planned, Completed),
            (Approved, Planned),
            (InProgress, Approved),
            (Completed, Cancelled),
            (Cancelled, Planned),
            (Cancelled, Cancelled),
            (Completed, Completed),
        ] {
            let Err(Error::FailedPrecondition { message, .. }) = check_transition("p", from, to)
            else {
                panic!("{from:?} → {to:?} allowed");
            };
            assert!(message.contains(to.as_str()), "{message}");
        }
    }

    #[test]
    fn the_end_releases_what_was_not_disbursed() {
        assert_eq!(
            released_by(Cancelled, tenge(100), tenge(30)).unwrap(),
            tenge(70)
        );
        assert_eq!(
            released_by(Completed, tenge(100), tenge(100)).unwrap(),
            Money::ZERO
        );
        assert_eq!(
            released_by(InProgress, tenge(100), tenge(30)).unwrap(),
            Money::ZERO
        );
    }

    #[test]
    fn disbursements_stay_within_the_cost_of_a_running_project() {
        assert!(check_disbursement("p", Approved, tenge(100), tenge(60), tenge(40)).is_ok());
        assert!(check_disbursement("p", InProgress, tenge(100), tenge(0), tenge(100)).is_ok());
        let Err(Error::FailedPrecondition { message, .. }) =
            check_disbursement("p", InProgress, tenge(100), tenge(60), tenge(41))
        else {
            panic!("over the cost");
        };
        assert!(message.contains("40.00 KZT left"), "{message}");
        for status in [Planned, Completed, Cancelled] {
            assert!(check_disbursement("p", status, tenge(100), tenge(0), tenge(1)).is_err());
        }
    }

    #[test]
    fn entrepreneurship_needs_a_valid_borrower_and_nothing_else_has_one() {
        let iin = Iin::complete("90010130001").unwrap().to_string();
        let check = |category, borrower: &str| {
            let mut violations = Violations::new();
            check_new(&mut violations, Some(category), "Bakery", borrower, 1, &[]);
            violations.into_result()
        };
        assert!(check(ProjectCategory::Entrepreneurship, &iin).is_ok());
        assert!(check(ProjectCategory::Entrepreneurship, "").is_err());
        assert!(check(ProjectCategory::Entrepreneurship, "900101300011").is_err());
        assert!(check(ProjectCategory::SocialInfrastructure, "").is_ok());
        assert!(check(ProjectCategory::SocialInfrastructure, &iin).is_err());
    }

    #[test]
    fn imported_projects_arrive_with_a_consistent_total() {
        let check = |status, disbursed| {
            let mut violations = Violations::new();
            check_imported(&mut violations, status, 100, disbursed);
            violations.into_result().is_ok()
        };
        assert!(check(Some(Completed), 100));
        assert!(check(Some(Cancelled), 40));
        assert!(check(Some(Planned), 0));
        assert!(!check(Some(Planned), 1));
        assert!(!check(Some(InProgress), 101));
        assert!(!check(Some(InProgress), -1));
        assert!(!check(None, 0));
    }

    #[test]
    fn every_field_of_a_bad_project_is_named() {
        let mut violations = Violations::new();
        check_new(
            &mut violations,
            None,
            " ",
            "",
            0,
            &["SCHOOL".into(), "CASINO".into()],
        );
        let Err(Error::InvalidArgument(fields)) = violations.into_result() else {
            panic!("accepted");
        };
        let named: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            named,
            ["category", "title", "cost_tiyn", "standard_codes[1]"]
        );
        let mut violations = Violations::new();
        let codes = ["SCHOOL".to_owned(), "SCHOOL".to_owned()];
        check_new(
            &mut violations,
            Some(ProjectCategory::SocialInfrastructure),
            "School",
            "",
            1,
            &codes,
        );
        let Err(Error::InvalidArgument(fields)) = violations.into_result() else {
            panic!("a repeated standard accepted");
        };
        assert_eq!(fields[0].field, "standard_codes[1]");
    }
}
