//! Programme targets: what a programme is to reach over a period, as its
//! sources state it.

use aimaq_error::Violations;

/// Longest source statement kept with a target.
pub const MAX_SOURCE_CHARS: usize = 500;

/// What a target counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetMetric {
    /// Tiyn from the programme's envelopes.
    Money,
    /// Projects not cancelled.
    Projects,
    /// Settlements with a project.
    Settlements,
    /// Relocation allowances granted.
    Allowances,
    /// Housing loans granted.
    HousingLoans,
}

impl TargetMetric {
    /// The metric as written in a target's resource name.
    pub fn key(self) -> &'static str {
        match self {
            TargetMetric::Money => "money",
            TargetMetric::Projects => "projects",
            TargetMetric::Settlements => "settlements",
            TargetMetric::Allowances => "allowances",
            TargetMetric::HousingLoans => "housing_loans",
        }
    }
}

/// A target as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramTarget {
    pub program_code: String,
    pub metric: TargetMetric,
    pub from_year: i32,
    pub to_year: i32,
    /// Tiyn for money, a count otherwise.
    pub value: i64,
    pub source: String,
    pub version: i64,
}

/// The largest value a target of `metric` may have: an amount for money, a
/// count of people, projects or villages otherwise.
pub fn max_value(metric: TargetMetric) -> i64 {
    match metric {
        TargetMetric::Money => aimaq_types::bounds::MAX_AMOUNT_TIYN,
        _ => aimaq_types::bounds::MAX_PEOPLE,
    }
}

/// A target's period lies within its programme's years and runs forward; its
/// value is positive and within what its metric can count; its source is named.
pub fn check_target(
    violations: &mut Violations,
    program_years: (i32, i32),
    period: (i32, i32),
    (metric, value): (TargetMetric, i64),
    source: &str,
) {
    let (first, last) = program_years;
    let (from, to) = period;
    violations.check(
        (first..=last).contains(&from),
        "target.from_year",
        format!("must be within the programme's years {first}-{last}"),
    );
    violations.check(
        (first..=last).contains(&to),
        "target.to_year",
        format!("must be within the programme's years {first}-{last}"),
    );
    violations.check(from <= to, "target.to_year", "must not be before from_year");
    violations.check(value > 0, "target.value", "must be positive");
    violations.check(
        value <= max_value(metric),
        "target.value",
        format!("at most {} for this metric", max_value(metric)),
    );
    violations.check(
        !source.trim().is_empty(),
        "target.source",
        "required: where the figure is stated",
    );
    violations.check(
        source.chars().count() <= MAX_SOURCE_CHARS,
        "target.source",
        format!("at most {MAX_SOURCE_CHARS} characters"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(years: (i32, i32), period: (i32, i32), value: i64, source: &str) -> Vec<String> {
        let mut violations = Violations::new();
        let metric = TargetMetric::Projects;
        check_target(&mut violations, years, period, (metric, value), source);
        match violations.into_result() {
            Ok(()) => Vec::new(),
            Err(aimaq_error::Error::InvalidArgument(violations)) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_target_lies_within_its_programme_and_names_its_source() {
        assert!(problems((2019, 2028), (2019, 2024), 6000, "statement").is_empty());
        assert_eq!(
            problems((2019, 2028), (2018, 2024), 6000, "statement"),
            ["target.from_year"]
        );
        assert_eq!(
            problems((2019, 2028), (2025, 2024), 6000, "statement"),
            ["target.to_year"]
        );
        assert_eq!(
            problems((2019, 2028), (2019, 2029), 0, " "),
            ["target.to_year", "target.value", "target.source"]
        );
    }

    #[test]
    fn a_value_fits_its_metric() {
        assert_eq!(
            problems((2019, 2028), (2019, 2024), 30_000_000, "statement"),
            ["target.value"]
        );
        let mut violations = Violations::new();
        let money = (TargetMetric::Money, 701 * 100_000_000_000);
        check_target(
            &mut violations,
            (2019, 2028),
            (2019, 2024),
            money,
            "statement",
        );
        assert!(violations.is_empty());
    }

    #[test]
    fn metrics_are_named_in_lower_case() {
        assert_eq!(TargetMetric::Money.key(), "money");
        assert_eq!(TargetMetric::HousingLoans.key(), "housing_loans");
    }
}
