//! The execution report: one row per territory and year from what is kept with
//! every change (the allocations' figures and project counts, the districts'
//! coverage), and a total per year. Every total is a checked sum.

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
    pub allocated: Money,
    pub committed: Money,
    pub disbursed: Money,
    pub settlements_covered: i64,
    pub projects: ProjectCounts,
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

/// Puts the report together: each allocation's figures, the project counts and
/// the coverage under its territory and year, then a total per year.
pub fn execution(
    allocations: &[Allocation],
    counts: &[ByTerritory<ProjectCounts>],
    coverage: &[ByTerritory<i64>],
) -> Result<Execution, Error> {
    let mut rows: BTreeMap<(String, i32), Row> = BTreeMap::new();
    for allocation in allocations {
        let row = row_of(
            &mut rows,
            &allocation.territory.to_string(),
            allocation.fiscal_year,
        );
        row.allocated = allocation.amount;
        row.committed = allocation.committed;
        row.disbursed = allocation.disbursed;
    }
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
        let report = execution(&allocations, &counts, &coverage).unwrap();
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
        let error = execution(&allocations, &[], &[]).unwrap_err();
        assert!(error.to_string().contains("execution/"), "{error}");
    }
}
