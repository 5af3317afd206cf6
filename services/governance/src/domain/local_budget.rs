//! Rural districts' revenue: sources, yearly totals, the own-revenue share and
//! growth; and the development indicators recorded with targets.

use std::collections::BTreeMap;

use aimaq_error::Error;
use aimaq_types::basis_points;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RevenueSource {
    PersonalIncomeTax,
    PropertyTax,
    LandTax,
    VehicleTax,
    OtherOwn,
    /// From higher budgets: not the district's own revenue.
    Transfers,
    /// Subventions from higher budgets: not own revenue either.
    Subventions,
}

impl RevenueSource {
    pub const ALL: [RevenueSource; 7] = [
        RevenueSource::PersonalIncomeTax,
        RevenueSource::PropertyTax,
        RevenueSource::LandTax,
        RevenueSource::VehicleTax,
        RevenueSource::OtherOwn,
        RevenueSource::Transfers,
        RevenueSource::Subventions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RevenueSource::PersonalIncomeTax => "personal_income_tax",
            RevenueSource::PropertyTax => "property_tax",
            RevenueSource::LandTax => "land_tax",
            RevenueSource::VehicleTax => "vehicle_tax",
            RevenueSource::OtherOwn => "other_own",
            RevenueSource::Transfers => "transfers",
            RevenueSource::Subventions => "subventions",
        }
    }

    /// Transfers and subventions: money a higher budget gives, not own revenue.
    pub fn is_given_by_a_higher_budget(self) -> bool {
        matches!(self, RevenueSource::Transfers | RevenueSource::Subventions)
    }

    pub fn parse(text: &str) -> Option<RevenueSource> {
        RevenueSource::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One year's revenue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevenueYear {
    pub year: i32,
    pub total: i64,
    pub own: i64,
    pub transfers: i64,
    pub own_share_bp: i64,
    pub by_source: BTreeMap<RevenueSource, i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevenueSummary {
    /// Every year of the range, oldest first (zero where nothing was recorded).
    pub years: Vec<RevenueYear>,
    /// Last year's total over the first year's, in basis points (35000 = 3.5-fold);
    /// 0 when the first year has no revenue.
    pub growth_factor_bp: i64,
}

/// Sums (year, source, amount) rows over `from..=to`. A year whose totals do not
/// fit an amount is refused by name, rather than wrapped or clipped.
pub fn summarize(
    rows: &[(i32, RevenueSource, i64)],
    from: i32,
    to: i32,
) -> Result<RevenueSummary, Error> {
    let mut years: Vec<RevenueYear> = (from..=to)
        .map(|year| RevenueYear {
            year,
            ..RevenueYear::default()
        })
        .collect();
    for &(year, source, amount) in rows {
        let Some(entry) = usize::try_from(year - from)
            .ok()
            .and_then(|i| years.get_mut(i))
        else {
            continue;
        };
        let too_large = || Error::total_overflow(format!("revenues/{year}"));
        entry.total = entry.total.checked_add(amount).ok_or_else(too_large)?;
        let part = if source.is_given_by_a_higher_budget() {
            &mut entry.transfers
        } else {
            &mut entry.own
        };
        *part = part.checked_add(amount).ok_or_else(too_large)?;
        let by_source = entry.by_source.entry(source).or_default();
        *by_source = by_source.checked_add(amount).ok_or_else(too_large)?;
    }
    for year in &mut years {
        year.own_share_bp = basis_points(year.own, year.total);
    }
    let growth_factor_bp = match (years.first(), years.last()) {
        (Some(first), Some(last)) => basis_points(last.total, first.total),
        _ => 0,
    };
    Ok(RevenueSummary {
        years,
        growth_factor_bp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_shares_and_growth() {
        let rows = [
            (2019, RevenueSource::LandTax, 600),
            (2019, RevenueSource::Transfers, 400),
            (2023, RevenueSource::LandTax, 2000),
            (2023, RevenueSource::PersonalIncomeTax, 1000),
            (2023, RevenueSource::Transfers, 500),
            (2030, RevenueSource::LandTax, 1),
        ];
        let summary = summarize(&rows, 2019, 2023).unwrap();
        assert_eq!(summary.years.len(), 5);
        assert_eq!(summary.years[0].total, 1000);
        assert_eq!(summary.years[0].own_share_bp, 6000);
        assert_eq!(summary.years[1].total, 0);
        let last = &summary.years[4];
        assert_eq!((last.total, last.own, last.transfers), (3500, 3000, 500));
        assert_eq!(last.by_source[&RevenueSource::LandTax], 2000);
        assert_eq!(summary.growth_factor_bp, 35_000, "3.5-fold");
        assert_eq!(summarize(&[], 2020, 2021).unwrap().growth_factor_bp, 0);
        let subsidised = [
            (2024, RevenueSource::LandTax, 100),
            (2024, RevenueSource::Subventions, 300),
        ];
        let year = &summarize(&subsidised, 2024, 2024).unwrap().years[0];
        assert_eq!(
            (year.own, year.transfers, year.own_share_bp),
            (100, 300, 2500)
        );
    }

    #[test]
    fn totals_that_overflow_are_refused_by_year() {
        let rows = [
            (2024, RevenueSource::LandTax, i64::MAX),
            (2024, RevenueSource::PropertyTax, 1),
        ];
        let refused = summarize(&rows, 2024, 2024).unwrap_err();
        assert!(
            matches!(&refused, Error::FailedPrecondition { violations, .. } if violations[0].subject == "revenues/2024"),
            "{refused:?}"
        );
    }
}
