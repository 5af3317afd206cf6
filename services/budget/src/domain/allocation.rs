//! The allocation tree: a region's allocation draws on the programme's envelope, a
//! district's on its region's allocation, and so on down. Nothing drawn may exceed
//! what it draws on, and nothing may be lowered below what is drawn from it.

use aimaq_error::{Amount, Error};
use aimaq_types::{Kato, Money};

/// Projects committed directly against an allocation, by status, in the order
/// of [`super::project::ProjectStatus::index`].
pub type ProjectCounts = [i64; 5];

/// An allocation of the tree, as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub program_code: String,
    pub fiscal_year: i32,
    pub territory: Kato,
    /// The territory whose allocation this one draws on; none for a region's
    /// (it draws on the envelope).
    pub parent: Option<Kato>,
    /// The plan as revised by every adjustment.
    pub amount: Money,
    /// The plan as first allocated (approved), which adjustments leave alone.
    pub approved: Money,
    /// What allocations and projects below draw from it.
    pub committed: Money,
    pub disbursed: Money,
    pub version: i64,
    pub updated_at_micros: i64,
    /// Kept with every project change, so that reports need not count projects.
    pub projects: ProjectCounts,
}

impl Allocation {
    pub fn holding(&self) -> Holding {
        Holding {
            amount: self.amount,
            committed: self.committed,
        }
    }
}

/// What an allocation, or an envelope, holds: its amount and what is committed
/// below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    pub amount: Money,
    pub committed: Money,
}

impl Holding {
    pub fn headroom(self) -> Result<Money, Error> {
        self.amount
            .checked_sub(self.committed)
            .map_err(Error::internal)
    }
}

/// Checks that `asked` more can be drawn from `parent` (named `parent_name`).
pub fn check_draw(parent_name: &str, parent: Holding, asked: Money) -> Result<(), Error> {
    let headroom = parent.headroom()?;
    if asked > headroom {
        return Err(Error::precondition(
            "HEADROOM",
            parent_name,
            format!(
                "{parent_name} holds {}, of which {} is committed: {asked} asked, {headroom} free",
                parent.amount, parent.committed
            ),
        )
        .with_amounts(&[
            (Amount::Holds, parent.amount),
            (Amount::Committed, parent.committed),
            (Amount::Asked, asked),
            (Amount::Free, headroom),
        ]));
    }
    Ok(())
}

/// Checks that an allocation may become `new_amount` given what is committed below
/// it (never less than nothing). Whether a reduction fits depends on the stored
/// state, not on the request alone: a precondition, not a bad argument.
pub fn check_new_amount(name: &str, current: Holding, new_amount: Money) -> Result<(), Error> {
    if new_amount < current.committed || new_amount.is_negative() {
        return Err(Error::precondition(
            "COMMITTED",
            name,
            format!(
                "{name} cannot go below what is committed below it: asked {new_amount}, committed {}",
                current.committed
            ),
        )
        .with_amounts(&[
            (Amount::Asked, new_amount),
            (Amount::Committed, current.committed),
        ]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenge(t: i64) -> Money {
        Money::from_tenge(t).unwrap()
    }

    #[test]
    fn draws_stay_within_headroom() {
        let parent = Holding {
            amount: tenge(100),
            committed: tenge(60),
        };
        assert!(check_draw("allocations/P/2024/610000000", parent, tenge(40)).is_ok());
        let Err(Error::FailedPrecondition {
            message,
            violations,
        }) = check_draw("allocations/P/2024/610000000", parent, tenge(41))
        else {
            panic!("over the headroom");
        };
        assert!(
            message.contains("100.00 KZT") && message.contains("41.00 KZT"),
            "{message}"
        );
        assert_eq!(violations[0].subject, "allocations/P/2024/610000000");
    }

    #[test]
    fn reductions_stop_at_the_committed_amount() {
        let current = Holding {
            amount: tenge(100),
            committed: tenge(60),
        };
        assert!(check_new_amount("a", current, tenge(60)).is_ok());
        assert!(matches!(
            check_new_amount("a", current, tenge(59)),
            Err(Error::FailedPrecondition { .. })
        ));
        let nothing = Holding {
            amount: tenge(10),
            committed: Money::ZERO,
        };
        assert!(check_new_amount("a", nothing, Money::ZERO).is_ok());
        assert!(matches!(
            check_new_amount("a", nothing, tenge(-1)),
            Err(Error::FailedPrecondition { .. })
        ));
    }
}
