//! The programme's annual report: each region's and field's decisions of a
//! year, what was paid of them and what departures owe back, summed per region
//! (beside its quota) and for the whole report. Every sum is checked.

use std::collections::BTreeMap;

use aimaq_error::Error;

use super::statistics::Totals;
use super::terms::Field;

/// A year's decisions in one region and field (`field` None in a sum).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnualRow {
    pub region_kato: String,
    pub field: Option<Field>,
    pub approved: i64,
    pub rejected: i64,
    pub granted: Totals,
    pub paid: Totals,
    pub departures: i64,
    pub allowance_refund_tiyn: i64,
    pub loan_principal_due_tiyn: i64,
}

impl AnnualRow {
    /// Adds `more` in; a sum past one figure is refused naming `subject`.
    fn add(&mut self, more: &AnnualRow, subject: &str) -> Result<(), Error> {
        self.granted.add(&more.granted, subject)?;
        self.paid.add(&more.paid, subject)?;
        let added = (|| {
            self.approved = self.approved.checked_add(more.approved)?;
            self.rejected = self.rejected.checked_add(more.rejected)?;
            self.departures = self.departures.checked_add(more.departures)?;
            self.allowance_refund_tiyn = self
                .allowance_refund_tiyn
                .checked_add(more.allowance_refund_tiyn)?;
            self.loan_principal_due_tiyn = self
                .loan_principal_due_tiyn
                .checked_add(more.loan_principal_due_tiyn)?;
            Some(())
        })();
        added.ok_or_else(|| Error::total_overflow(subject))
    }
}

/// The rows summed per region (by code) and over all of them.
pub fn sum_by_region(
    rows: &[AnnualRow],
) -> Result<(BTreeMap<String, AnnualRow>, AnnualRow), Error> {
    let mut regions: BTreeMap<String, AnnualRow> = BTreeMap::new();
    let mut total = AnnualRow::default();
    for row in rows {
        let region = regions
            .entry(row.region_kato.clone())
            .or_insert_with(|| AnnualRow {
                region_kato: row.region_kato.clone(),
                ..AnnualRow::default()
            });
        region.add(row, &format!("annual-report/{}", row.region_kato))?;
        total.add(row, "annual-report")?;
    }
    Ok((regions, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(region: &str, field: Field, approved: i64, refund: i64) -> AnnualRow {
        AnnualRow {
            region_kato: region.into(),
            field: Some(field),
            approved,
            granted: Totals {
                allowances: approved,
                allowances_tiyn: approved.saturating_mul(100),
                ..Totals::default()
            },
            departures: i64::from(refund > 0),
            allowance_refund_tiyn: refund,
            ..AnnualRow::default()
        }
    }

    #[test]
    fn rows_add_up_per_region_and_in_all() {
        let rows = [
            row("610000000", Field::Healthcare, 2, 50),
            row("610000000", Field::Education, 3, 0),
            row("110000000", Field::Education, 1, 0),
        ];
        let (regions, total) = sum_by_region(&rows).unwrap();
        let codes: Vec<&String> = regions.keys().collect();
        assert_eq!(codes, ["110000000", "610000000"]);
        let turkestan = &regions["610000000"];
        assert_eq!((turkestan.approved, turkestan.field), (5, None));
        assert_eq!(turkestan.granted.allowances_tiyn, 500);
        assert_eq!(
            (
                total.approved,
                total.departures,
                total.allowance_refund_tiyn
            ),
            (6, 1, 50)
        );
        let overflowing = [
            row("610000000", Field::Sport, i64::MAX, 0),
            row("610000000", Field::Sport, 1, 0),
        ];
        assert!(sum_by_region(&overflowing).is_err());
    }
}
