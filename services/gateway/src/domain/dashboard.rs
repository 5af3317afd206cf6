//! What the national dashboard shows for each target: which figure of a
//! backend's answer is its actual, and when there is none to show.

use aimaq_proto::budget::v1::{GetExecutionReportResponse, ProjectStatus, TargetMetric};
use aimaq_proto::governance::v1::{Indicator, IndicatorFigure, IndicatorKind};
use aimaq_proto::grants::v1::GrantTotals;

/// An actual figure, or the fact that nothing is recorded for its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Value(i64),
    NoData,
}

/// `2019-2024`, or `2026` for one year.
pub fn period(from: i32, to: i32) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

/// A programme target's key: `auyl_el_besigi_projects_2019_2024`.
pub fn target_key(program_code: &str, metric: TargetMetric, from: i32, to: i32) -> String {
    format!(
        "{}_{}_{from}_{to}",
        program_code.to_lowercase(),
        metric_words(metric).0
    )
}

/// A metric's key and the words that title it.
pub fn metric_words(metric: TargetMetric) -> (&'static str, &'static str) {
    match metric {
        TargetMetric::Money => ("money", "money from the national budget"),
        TargetMetric::Projects => ("projects", "projects undertaken (not cancelled)"),
        TargetMetric::Settlements => ("settlements", "villages with projects"),
        TargetMetric::Allowances => ("allowances", "relocation allowances granted"),
        TargetMetric::HousingLoans => ("housing_loans", "housing loans granted"),
        TargetMetric::Unspecified => ("unspecified", "unspecified"),
    }
}

/// Projects of a report that were not cancelled.
pub fn projects_undertaken(report: &GetExecutionReportResponse) -> i64 {
    project_counts(report, |status| status != ProjectStatus::Cancelled)
}

/// Cancelled projects of a report.
pub fn projects_cancelled(report: &GetExecutionReportResponse) -> i64 {
    project_counts(report, |status| status == ProjectStatus::Cancelled)
}

fn project_counts(
    report: &GetExecutionReportResponse,
    counted: impl Fn(ProjectStatus) -> bool,
) -> i64 {
    report
        .totals
        .iter()
        .flat_map(|total| &total.projects)
        .filter(|count| counted(count.status()))
        .fold(0i64, |sum, count| sum.saturating_add(count.count))
}

pub fn envelopes_total(report: &GetExecutionReportResponse) -> i64 {
    report.envelopes.iter().fold(0i64, |sum, envelope| {
        sum.saturating_add(envelope.amount_tiyn)
    })
}

pub fn settlements_covered(report: &GetExecutionReportResponse) -> i64 {
    report.totals.iter().map(|t| t.settlements_covered).sum()
}

/// A programme's actual for a budget metric, from its execution report over
/// the target's period: no envelope (for money) or no project at all (for
/// projects and villages) is no data, not 0.
pub fn budget_actual(metric: TargetMetric, report: &GetExecutionReportResponse) -> Figure {
    let any_project = projects_undertaken(report) + projects_cancelled(report) > 0;
    match metric {
        TargetMetric::Money if !report.envelopes.is_empty() => {
            Figure::Value(envelopes_total(report))
        }
        TargetMetric::Projects if any_project => Figure::Value(projects_undertaken(report)),
        TargetMetric::Settlements if any_project => Figure::Value(settlements_covered(report)),
        _ => Figure::NoData,
    }
}

/// The diploma programme's actual over the target's period: nothing granted
/// in it at all is no data.
pub fn grants_actual(metric: TargetMetric, totals: &GrantTotals) -> Figure {
    if totals.allowances == 0 && totals.loans == 0 {
        return Figure::NoData;
    }
    match metric {
        TargetMetric::Allowances => Figure::Value(totals.allowances),
        TargetMetric::HousingLoans => Figure::Value(totals.loans),
        _ => Figure::NoData,
    }
}

/// Whether a metric is counted by the grants service rather than budget.
pub fn counted_by_grants(metric: TargetMetric) -> bool {
    matches!(
        metric,
        TargetMetric::Allowances | TargetMetric::HousingLoans
    )
}

/// For a development indicator asked in `year`: the target due soonest from
/// that year on (else the latest before it), and the actual recorded for the
/// year.
pub fn indicator_figures(
    indicators: &[Indicator],
    kind: IndicatorKind,
    year: i32,
) -> (Option<&Indicator>, Option<&Indicator>) {
    let of_kind = |figure: IndicatorFigure| {
        indicators
            .iter()
            .filter(move |i| i.kind() == kind && i.figure() == figure)
    };
    let target = of_kind(IndicatorFigure::Target)
        .filter(|i| i.year >= year)
        .min_by_key(|i| i.year)
        .or_else(|| of_kind(IndicatorFigure::Target).max_by_key(|i| i.year));
    let actual = of_kind(IndicatorFigure::Actual).find(|i| i.year == year);
    (target, actual)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimaq_proto::budget::v1::{Envelope, ExecutionRow, ProjectStatusCount};

    fn report(envelopes: &[i64], projects: &[(i64, i64, i64)]) -> GetExecutionReportResponse {
        GetExecutionReportResponse {
            envelopes: envelopes
                .iter()
                .map(|amount| Envelope {
                    amount_tiyn: *amount,
                    ..Envelope::default()
                })
                .collect(),
            totals: projects
                .iter()
                .map(|(planned, cancelled, settlements)| ExecutionRow {
                    projects: vec![
                        ProjectStatusCount {
                            status: ProjectStatus::Planned as i32,
                            count: *planned,
                        },
                        ProjectStatusCount {
                            status: ProjectStatus::Cancelled as i32,
                            count: *cancelled,
                        },
                    ],
                    settlements_covered: *settlements,
                    ..ExecutionRow::default()
                })
                .collect(),
            ..GetExecutionReportResponse::default()
        }
    }

    #[test]
    fn report_figures() {
        let report = report(&[5, 7], &[(3, 1, 2), (4, 9, 1)]);
        assert_eq!(envelopes_total(&report), 12);
        assert_eq!(projects_undertaken(&report), 7);
        assert_eq!(projects_cancelled(&report), 10);
        assert_eq!(settlements_covered(&report), 3);
        assert_eq!(
            budget_actual(TargetMetric::Money, &report),
            Figure::Value(12)
        );
        assert_eq!(
            budget_actual(TargetMetric::Projects, &report),
            Figure::Value(7)
        );
        assert_eq!(period(2019, 2024), "2019-2024");
        assert_eq!(period(2026, 2026), "2026");
        assert_eq!(
            target_key("AUYL_EL_BESIGI", TargetMetric::Projects, 2019, 2024),
            "auyl_el_besigi_projects_2019_2024"
        );
    }

    #[test]
    fn a_period_without_records_is_no_data_not_zero() {
        let empty = report(&[], &[]);
        for metric in [
            TargetMetric::Money,
            TargetMetric::Projects,
            TargetMetric::Settlements,
        ] {
            assert_eq!(budget_actual(metric, &empty), Figure::NoData);
        }
        // An envelope with every project cancelled: money is known, and so is
        // the count of projects undertaken (none).
        let cancelled = report(&[5], &[(0, 3, 0)]);
        assert_eq!(
            budget_actual(TargetMetric::Money, &cancelled),
            Figure::Value(5)
        );
        assert_eq!(
            budget_actual(TargetMetric::Projects, &cancelled),
            Figure::Value(0)
        );
        let none = GrantTotals::default();
        assert_eq!(
            grants_actual(TargetMetric::Allowances, &none),
            Figure::NoData
        );
        let some = GrantTotals {
            allowances: 114_000,
            loans: 52_000,
            ..GrantTotals::default()
        };
        assert_eq!(
            grants_actual(TargetMetric::HousingLoans, &some),
            Figure::Value(52_000)
        );
    }

    #[test]
    fn the_target_due_soonest_and_the_actual_of_the_year() {
        let figure = |figure: IndicatorFigure, year, value_bp| Indicator {
            kind: IndicatorKind::StandardsSufficiency as i32,
            figure: figure as i32,
            year,
            value_bp,
            ..Indicator::default()
        };
        let recorded = [
            figure(IndicatorFigure::Actual, 2026, 6400),
            figure(IndicatorFigure::Target, 2028, 7000),
            figure(IndicatorFigure::Target, 2035, 8000),
        ];
        let kind = IndicatorKind::StandardsSufficiency;
        let (target, actual) = indicator_figures(&recorded, kind, 2026);
        assert_eq!(target.map(|t| t.value_bp), Some(7000));
        assert_eq!(actual.map(|a| a.value_bp), Some(6400));
        let (target, actual) = indicator_figures(&recorded, kind, 2030);
        assert_eq!(target.map(|t| t.year), Some(2035));
        assert!(actual.is_none());
        let (target, _) = indicator_figures(&recorded, kind, 2040);
        assert_eq!(target.map(|t| t.year), Some(2035));
        let (target, actual) = indicator_figures(&recorded, IndicatorKind::SmeShareOfGdp, 2026);
        assert!(target.is_none() && actual.is_none());
    }
}
