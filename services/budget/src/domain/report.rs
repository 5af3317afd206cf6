//! The execution report: one row per territory and year from what is kept with
//! every change (the allocations' figures and project counts, the districts'
//! coverage), and a total per year, in the columns of a finance department's
//! form: approved plan, revised plan, financed, disbursed, spend rate. Every
//! total is a checked sum.

use std::collections::BTreeMap;

use aimaq_error::Error;
use aimaq_types::Money;

use super::allocation::{Allocation, ProjectCounts};

/// One row of the report: a region or district in one year, or a year's total
/// (with an empty territory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub territory: String,
    pub fiscal_year: i32,
    /// The approved plan: allocations as first made.
    pub approved: Money,
    /// The revised plan: allocations as they stand.
    pub allocated: Money,
    /// Financed: passed on to the allocations and projects below.
    pub committed: Money,
    pub disbursed: Money,
    pub settlements_covered: i64,
    pub projects: ProjectCounts,
}

impl Row {
    /// The spend rate in tenths of a percent: disbursed over the revised plan,
    /// rounded half up; 0 when there is no plan.
    pub fn spend_rate_tenths(&self) -> i64 {
        let (paid, plan) = (
            i128::from(self.disbursed.tiyn()),
            i128::from(self.allocated.tiyn()),
        );
        if plan <= 0 {
            return 0;
        }
        i64::try_from((paid * 1000 + plan / 2) / plan).unwrap_or(i64::MAX)
    }
}

/// A quarter of a fiscal year: a quarterly report gives the state at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarter(u8);

impl Quarter {
    /// 1 to 4; 0 (the whole year) is `None`.
    pub fn from_number(number: i32) -> Result<Option<Quarter>, String> {
        match number {
            0 => Ok(None),
            1..=4 => Ok(Some(Quarter(number as u8))),
            _ => Err("0 for the whole year, or 1 to 4".into()),
        }
    }

    pub fn number(self) -> i32 {
        i32::from(self.0)
    }

    /// The quarter's last month in `year`, as `YYYY-MM`: payments dated in it
    /// or before count.
    fn last_month(self, year: i32) -> String {
        format!("{year:04}-{:02}", self.0 * 3)
    }
}

/// Payments of one territory's projects of one fiscal year, summed over the
/// month (`YYYY-MM`) they are dated in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthPaid {
    pub month: String,
    pub amount: Money,
}

/// A figure read per territory and year: project counts or settlements covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByTerritory<T> {
    pub territory: String,
    pub fiscal_year: i32,
    pub value: T,
}

/// The rows and the totals per year, both ordered by territory and year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Execution {
    pub rows: Vec<Row>,
    pub totals: Vec<Row>,
}

fn row_of<'a>(
    rows: &'a mut BTreeMap<(String, i32), Row>,
    territory: &str,
    year: i32,
) -> &'a mut Row {
    rows.entry((territory.to_owned(), year))
        .or_insert_with(|| Row {
            territory: territory.to_owned(),
            fiscal_year: year,
            ..Row::default()
        })
}

/// Adds `row` to `total`; a total past one figure is refused by name.
fn add_row(total: &mut Row, row: &Row) -> Result<(), Error> {
    let overflow =
        || Error::total_overflow(format!("execution/{}/{}", row.territory, row.fiscal_year));
    let add = |sum: Money, more: Money| sum.checked_add(more).map_err(|_| overflow());
    total.approved = add(total.approved, row.approved)?;
    total.allocated = add(total.allocated, row.allocated)?;
    total.committed = add(total.committed, row.committed)?;
    total.disbursed = add(total.disbursed, row.disbursed)?;
    let counts = std::iter::once((&mut total.settlements_covered, row.settlements_covered))
        .chain(total.projects.iter_mut().zip(row.projects));
    for (sum, more) in counts {
        *sum = sum.checked_add(more).ok_or_else(overflow)?;
    }
    Ok(())
}

/// Replaces each row's disbursed total by what was paid up to the end of
/// `quarter` of its fiscal year.
fn paid_by(
    rows: &mut BTreeMap<(String, i32), Row>,
    quarter: Quarter,
    payments: &[ByTerritory<MonthPaid>],
) -> Result<(), Error> {
    for row in rows.values_mut() {
        row.disbursed = Money::ZERO;
    }
    for paid in payments {
        if paid.value.month > quarter.last_month(paid.fiscal_year) {
            continue;
        }
        let row = row_of(rows, &paid.territory, paid.fiscal_year);
        row.disbursed = row
            .disbursed
            .checked_add(paid.value.amount)
            .map_err(|_| Error::total_overflow("payments"))?;
    }
    Ok(())
}

/// What a report is made of, as read from one snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    pub allocations: &'a [Allocation],
    pub counts: &'a [ByTerritory<ProjectCounts>],
    pub coverage: &'a [ByTerritory<i64>],
    /// For a quarterly report: the quarter, and the payments by month.
    pub quarter: Option<(Quarter, &'a [ByTerritory<MonthPaid>])>,
}

/// Puts the report together: each allocation's figures, the project counts and
/// the coverage under its territory and year (and for a quarter, what was paid
/// by its end), then a total per year.
pub fn execution(parts: Parts<'_>) -> Result<Execution, Error> {
    let mut rows: BTreeMap<(String, i32), Row> = BTreeMap::new();
    for allocation in parts.allocations {
        let row = row_of(
            &mut rows,
            &allocation.territory.to_string(),
            allocation.fiscal_year,
        );
        row.approved = allocation.approved;
        row.allocated = allocation.amount;
        row.committed = allocation.committed;
        row.disbursed = allocation.disbursed;
    }
    if let Some((quarter, payments)) = parts.quarter {
        paid_by(&mut rows, quarter, payments)?;
    }
    let (counts, coverage) = (parts.counts, parts.coverage);
    for count in counts.iter().filter(|c| c.value.iter().any(|n| *n != 0)) {
        let row = row_of(&mut rows, &count.territory, count.fiscal_year);
        for (sum, n) in row.projects.iter_mut().zip(count.value) {
            *sum = sum
                .checked_add(n)
                .ok_or_else(|| Error::total_overflow("project counts"))?;
        }
    }
    for covered in coverage {
        row_of(&mut rows, &covered.territory, covered.fiscal_year).settlements_covered =
            covered.value;
    }
    let rows: Vec<Row> = rows.into_values().collect();
    let mut totals: BTreeMap<i32, Row> = BTreeMap::new();
    for row in &rows {
        let total = totals.entry(row.fiscal_year).or_insert_with(|| Row {
            fiscal_year: row.fiscal_year,
            ..Row::default()
        });
        add_row(total, row)?;
    }
    Ok(Execution {
        rows,
        totals: totals.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aimaq_types::Kato;

    use super::*;

    fn allocation(kato: &str, year: i32, amount: i64) -> Allocation {
        Allocation {
            program_code: "P".into(),
            fiscal_year: year,
            territory: Kato::parse(kato).unwrap(),
            parent: None,
            amount: Money::from_tiyn(amount),
            approved: Money::from_tiyn(amount),
            committed: Money::from_tiyn(amount / 2),
            disbursed: Money::ZERO,
            version: 1,
            updated_at_micros: 0,
            projects: ProjectCounts::default(),
        }
    }

    #[test]
    fn rows_and_totals_add_up_per_year() {
        let allocations = [
            allocation("110000000", 2025, 100),
            allocation("150000000", 2025, 300),
            allocation("110000000", 2026, 50),
        ];
        let counts = [ByTerritory {
            territory: "110000000".into(),
            fiscal_year: 2025,
            value: [1, 0, 2, 0, 0],
        }];
        let coverage = [ByTerritory {
            territory: "150000000".into(),
            fiscal_year: 2025,
            value: 7,
        }];
        let report = execution(Parts {
            allocations: &allocations,
            counts: &counts,
            coverage: &coverage,
            quarter: None,
        })
        .unwrap();
        assert_eq!(report.rows.len(), 3);
        assert_eq!(report.totals.len(), 2);
        let total = &report.totals[0];
        assert_eq!(total.allocated, Money::from_tiyn(400));
        assert_eq!(total.committed, Money::from_tiyn(200));
        assert_eq!(total.projects, [1, 0, 2, 0, 0]);
        assert_eq!(total.settlements_covered, 7);
    }

    #[test]
    fn a_total_past_one_figure_is_refused_by_name() {
        let allocations = [
            allocation("110000000", 2025, i64::MAX),
            allocation("150000000", 2025, 1),
        ];
        let error = execution(Parts {
            allocations: &allocations,
            counts: &[],
            coverage: &[],
            quarter: None,
        })
        .unwrap_err();
        assert!(error.to_string().contains("execution/"), "{error}");
    }

    fn paid(territory: &str, year: i32, month: &str, tiyn: i64) -> ByTerritory<MonthPaid> {
        ByTerritory {
            territory: territory.into(),
            fiscal_year: year,
            value: MonthPaid {
                month: month.into(),
                amount: Money::from_tiyn(tiyn),
            },
        }
    }

    /// A quarter counts payments dated up to its last day, each fiscal year
    /// against its own quarter; the plans stay as they stand.
    #[test]
    fn a_quarter_counts_payments_to_its_end() {
        let allocations = [
            allocation("110000000", 2025, 1000),
            allocation("110000000", 2026, 1000),
        ];
        let payments = [
            paid("110000000", 2025, "2025-01", 10),
            paid("110000000", 2025, "2025-06", 20),
            paid("110000000", 2025, "2025-07", 40),
            paid("110000000", 2026, "2026-03", 80),
        ];
        let quarter = |n| {
            let parts = Parts {
                allocations: &allocations,
                counts: &[],
                coverage: &[],
                quarter: Some((Quarter::from_number(n).unwrap().unwrap(), &payments)),
            };
            let report = execution(parts).unwrap();
            report
                .rows
                .iter()
                .map(|r| (r.disbursed.tiyn(), r.allocated.tiyn()))
                .collect::<Vec<_>>()
        };
        assert_eq!(quarter(1), [(10, 1000), (80, 1000)]);
        assert_eq!(quarter(2), [(30, 1000), (80, 1000)]);
        assert_eq!(quarter(3), [(70, 1000), (80, 1000)]);
        assert_eq!(quarter(4), quarter(3));
        assert!(Quarter::from_number(0).unwrap().is_none());
        for bad in [-1, 5] {
            assert!(Quarter::from_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_spend_rate_is_disbursed_over_the_revised_plan() {
        let row = |disbursed: i64, allocated: i64| Row {
            allocated: Money::from_tiyn(allocated),
            disbursed: Money::from_tiyn(disbursed),
            ..Row::default()
        };
        assert_eq!(row(0, 0).spend_rate_tenths(), 0);
        assert_eq!(row(1, 3).spend_rate_tenths(), 333);
        assert_eq!(row(2, 3).spend_rate_tenths(), 667);
        assert_eq!(row(3, 3).spend_rate_tenths(), 1000);
        assert_eq!(row(i64::MAX, i64::MAX).spend_rate_tenths(), 1000);
    }
}
