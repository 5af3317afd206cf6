//! What the programme granted, rolled up to the dimensions a caller asks for,
//! beside the published totals of the years before the system went live.
//! Every sum is checked.

use std::collections::BTreeMap;

use aimaq_error::Error;

/// The programme started in 2009.
pub const FIRST_YEAR: i32 = 2009;
pub const LAST_YEAR: i32 = 2100;

/// Counts and sums of grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub allowances: i64,
    pub allowances_tiyn: i64,
    pub loans: i64,
    pub loans_tiyn: i64,
}

impl Totals {
    /// Adds `more`; a total past one figure is refused naming `subject`.
    pub fn add(&mut self, more: &Totals, subject: &str) -> Result<(), Error> {
        let added = (|| {
            self.allowances = self.allowances.checked_add(more.allowances)?;
            self.allowances_tiyn = self.allowances_tiyn.checked_add(more.allowances_tiyn)?;
            self.loans = self.loans.checked_add(more.loans)?;
            self.loans_tiyn = self.loans_tiyn.checked_add(more.loans_tiyn)?;
            Some(())
        })();
        added.ok_or_else(|| Error::total_overflow(subject))
    }
}

/// What was granted in one year, region, field and age band (an empty text
/// where a row is not split by that dimension).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    pub year: i32,
    pub region_kato: String,
    pub field: String,
    pub age_band: String,
    pub totals: Totals,
}

/// Published yearly totals for a year before the system went live: national
/// (an empty region) or a region's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Historical {
    pub year: i32,
    pub region_kato: String,
    pub totals: Totals,
    pub source: String,
    pub version: i64,
}

/// Whether published aggregates may lie under the KATO `prefix` (none: the
/// country). They are national or a region's, under the region's code
/// (`XX0000000`), so below a region there are none to read.
pub fn may_hold_published(prefix: Option<&str>) -> bool {
    prefix.is_none_or(|prefix| prefix.bytes().skip(2).all(|digit| digit == b'0'))
}

/// Which dimensions rows are split by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dimensions {
    pub year: bool,
    pub region: bool,
    pub field: bool,
    pub age_band: bool,
}

/// `granted` rolled up to `by` (ordered by year, region, field and age band),
/// and the total of the rows.
pub fn roll_up(granted: &[Granted], by: Dimensions) -> Result<(Vec<Granted>, Totals), Error> {
    let kept = |keep: bool, text: &str| if keep { text.to_owned() } else { String::new() };
    let mut rows: BTreeMap<(i32, String, String, String), Totals> = BTreeMap::new();
    let mut total = Totals::default();
    for row in granted {
        let key = (
            if by.year { row.year } else { 0 },
            kept(by.region, &row.region_kato),
            kept(by.field, &row.field),
            kept(by.age_band, &row.age_band),
        );
        rows.entry(key)
            .or_default()
            .add(&row.totals, "statistics")?;
        total.add(&row.totals, "statistics")?;
    }
    let rows = rows
        .into_iter()
        .map(|((year, region_kato, field, age_band), totals)| Granted {
            year,
            region_kato,
            field,
            age_band,
            totals,
        })
        .collect();
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn published_aggregates_lie_at_a_region_or_above() {
        for prefix in [None, Some("61"), Some("6"), Some("610000000")] {
            assert!(may_hold_published(prefix), "{prefix:?}");
        }
        for prefix in [
            Some("6136"),
            Some("613633"),
            Some("613633100"),
            Some("6110"),
        ] {
            assert!(!may_hold_published(prefix), "{prefix:?}");
        }
    }

    fn granted(year: i32, region: &str, allowances: i64) -> Granted {
        Granted {
            year,
            region_kato: region.into(),
            field: "education".into(),
            age_band: "under_25".into(),
            totals: Totals {
                allowances,
                allowances_tiyn: 0,
                loans: 0,
                loans_tiyn: 0,
            },
        }
    }

    #[test]
    fn rows_roll_up_to_the_dimensions_asked() {
        let rows = [
            granted(2024, "110000000", 2),
            granted(2024, "150000000", 3),
            granted(2025, "110000000", 5),
        ];
        let by_year = Dimensions {
            year: true,
            ..Dimensions::default()
        };
        let (rolled, total) = roll_up(&rows, by_year).unwrap();
        assert_eq!(rolled.len(), 2);
        assert_eq!(rolled[0].totals.allowances, 5);
        assert_eq!(rolled[0].region_kato, "");
        assert_eq!(total.allowances, 10);
        let (all, _) = roll_up(&rows, Dimensions::default()).unwrap();
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn a_sum_past_one_figure_is_refused() {
        let rows = [granted(2024, "1", i64::MAX), granted(2024, "2", 1)];
        assert!(roll_up(&rows, Dimensions::default()).is_err());
    }
}
