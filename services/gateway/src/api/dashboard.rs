//! `GetNationalDashboard`: the indicators of the state programme next to its
//! targets, each filled from the backend that holds it.

use aimaq_error::Error;
use aimaq_proto::budget::v1::{
    GetExecutionReportRequest, GetExecutionReportResponse, GetSufficiencyRequest, ProjectStatus,
    ReportGrouping,
};
use aimaq_proto::gateway::v1::*;
use aimaq_proto::governance::v1::{ElectionStatus, GetRevenueSummaryRequest, ListElectionsRequest};
use aimaq_proto::grants::v1::GetStatisticsRequest;
use tonic::Status;

use super::{GatewayApi, Outgoing, is_ok, section_of};

/// The programmes the dashboard follows, by their codes.
const AUYL_EL_BESIGI: &str = "AUYL_EL_BESIGI";
const AUYL_AMANATY: &str = "AUYL_AMANATY";
/// The diploma programme's first year.
const DIPLOMA_SINCE: i32 = 2009;
/// The period of 'Auyl – El Besigi' the source material sums up.
const EL_BESIGI_PERIOD: (i32, i32) = (2019, 2024);
/// The first year of the rural-district revenue series.
const REVENUE_SINCE: i32 = 2019;
const TENGE: i64 = 100;
const BILLION_TENGE: i64 = 1_000_000_000 * TENGE;

/// Units of [`DashboardIndicator::unit`].
const COUNT: &str = "count";
const TIYN: &str = "tiyn";
const BASIS_POINTS: &str = "bp";

pub(super) fn check(request: &GetNationalDashboardRequest, this_year: i32) -> Result<i32, Status> {
    match request.year {
        0 => Ok(this_year),
        year if (2000..=2100).contains(&year) => Ok(year),
        _ => Err(Error::invalid(
            "year",
            "must be a year from 2000 to 2100, or 0 for this year",
        )
        .into_status()),
    }
}

/// Whether every indicator could be filled.
pub(super) fn complete(dashboard: &GetNationalDashboardResponse) -> bool {
    dashboard
        .indicators
        .iter()
        .all(|i| is_ok(i.status.as_ref()))
}

/// One indicator: what it is, its target in the source material, and how its
/// actual figure came out.
struct Indicator {
    key: &'static str,
    title: &'static str,
    unit: &'static str,
    target: i64,
    target_year: i32,
    period: String,
}

impl Indicator {
    fn with(self, actual: Result<i64, Status>) -> DashboardIndicator {
        let (status, actual) = match actual {
            Ok(actual) => (section_of(&[]), actual),
            Err(status) => (section_of(&[Some(&status)]), 0),
        };
        DashboardIndicator {
            key: self.key.into(),
            title: self.title.into(),
            status: Some(status),
            unit: self.unit.into(),
            actual,
            target: self.target,
            target_year: self.target_year,
            period: self.period,
        }
    }
}

fn period(from: i32, to: i32) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

/// Projects of a report that were not cancelled.
pub(super) fn projects_undertaken(report: &GetExecutionReportResponse) -> i64 {
    report
        .totals
        .iter()
        .flat_map(|total| &total.projects)
        .filter(|count| count.status() != ProjectStatus::Cancelled)
        .map(|count| count.count)
        .sum()
}

pub(super) fn envelopes_total(report: &GetExecutionReportResponse) -> i64 {
    report.envelopes.iter().fold(0i64, |sum, envelope| {
        sum.saturating_add(envelope.amount_tiyn)
    })
}

pub(super) fn settlements_covered(report: &GetExecutionReportResponse) -> i64 {
    report.totals.iter().map(|t| t.settlements_covered).sum()
}

impl GatewayApi {
    async fn execution(
        &self,
        out: &Outgoing,
        program_code: &str,
        years: (i32, i32),
    ) -> Result<GetExecutionReportResponse, Status> {
        let request = out.request(GetExecutionReportRequest {
            program_code: program_code.into(),
            from_year: years.0,
            to_year: years.1,
            grouping: ReportGrouping::Region as i32,
            territory_kato: String::new(),
        });
        out.ask(self.budget.clone().get_execution_report(request))
            .await
    }

    pub(super) async fn national_dashboard(
        &self,
        out: &Outgoing,
        year: i32,
    ) -> GetNationalDashboardResponse {
        let amanaty_years = (year, year + 2);
        let governance = self.governance.clone();
        let (sufficiency, el_besigi, el_besigi_now, amanaty_now, amanaty, grants, pilot, revenue) =
            tokio::join!(
                async {
                    out.ask(self.budget.clone().get_sufficiency(out.request(
                        GetSufficiencyRequest {
                            territory_kato: String::new(),
                        },
                    )))
                    .await
                },
                self.execution(out, AUYL_EL_BESIGI, EL_BESIGI_PERIOD),
                self.execution(out, AUYL_EL_BESIGI, (year, year)),
                self.execution(out, AUYL_AMANATY, (year, year)),
                self.execution(out, AUYL_AMANATY, amanaty_years),
                async {
                    out.ask(
                        self.grants
                            .clone()
                            .get_statistics(out.request(GetStatisticsRequest {
                                from_year: DIPLOMA_SINCE,
                                to_year: year,
                                territory_kato: String::new(),
                                group_by: Vec::new(),
                            })),
                    )
                    .await
                },
                self.elections(
                    out,
                    ListElectionsRequest {
                        pilot_only: true,
                        status: ElectionStatus::Certified as i32,
                        ..ListElectionsRequest::default()
                    }
                ),
                async {
                    out.ask(governance.clone().get_revenue_summary(out.request(
                        GetRevenueSummaryRequest {
                            territory_kato: String::new(),
                            from_year: REVENUE_SINCE,
                            to_year: (year - 1).max(REVENUE_SINCE),
                        },
                    )))
                    .await
                },
            );
        let grants_totals = grants.map(|g| g.national_since_2009.unwrap_or_default());
        let el_besigi_period = period(EL_BESIGI_PERIOD.0, EL_BESIGI_PERIOD.1);
        let indicators = vec![
            Indicator {
                key: "standards_sufficiency",
                title: "Settlements' needs met against the regional standards",
                unit: BASIS_POINTS,
                target: 7000,
                target_year: 2028,
                period: year.to_string(),
            }
            .with(sufficiency.map(|s| s.overall.map_or(0, |o| i64::from(o.sufficiency_bp)))),
            Indicator {
                key: "auyl_el_besigi_money",
                title: "'Auyl – El Besigi': national budget money",
                unit: TIYN,
                target: 701 * BILLION_TENGE,
                target_year: EL_BESIGI_PERIOD.1,
                period: el_besigi_period.clone(),
            }
            .with(
                el_besigi
                    .as_ref()
                    .map(envelopes_total)
                    .map_err(Clone::clone),
            ),
            Indicator {
                key: "auyl_el_besigi_projects",
                title: "'Auyl – El Besigi': projects",
                unit: COUNT,
                target: 6000,
                target_year: EL_BESIGI_PERIOD.1,
                period: el_besigi_period,
            }
            .with(
                el_besigi
                    .as_ref()
                    .map(projects_undertaken)
                    .map_err(Clone::clone),
            ),
            Indicator {
                key: "auyl_el_besigi_projects_this_year",
                title: "'Auyl – El Besigi': projects this year",
                unit: COUNT,
                target: 1000,
                target_year: year,
                period: year.to_string(),
            }
            .with(
                el_besigi_now
                    .as_ref()
                    .map(projects_undertaken)
                    .map_err(Clone::clone),
            ),
            Indicator {
                key: "auyl_el_besigi_villages_this_year",
                title: "'Auyl – El Besigi': villages with projects this year",
                unit: COUNT,
                target: 500,
                target_year: year,
                period: year.to_string(),
            }
            .with(
                el_besigi_now
                    .as_ref()
                    .map(settlements_covered)
                    .map_err(Clone::clone),
            ),
            Indicator {
                key: "auyl_amanaty_money",
                title: "'Auyl Amanaty': micro-credit money this year",
                unit: TIYN,
                target: 50 * BILLION_TENGE,
                target_year: year,
                period: year.to_string(),
            }
            .with(
                amanaty_now
                    .as_ref()
                    .map(envelopes_total)
                    .map_err(Clone::clone),
            ),
            Indicator {
                key: "auyl_amanaty_projects",
                title: "'Auyl Amanaty': micro-credit projects over three years",
                unit: COUNT,
                target: 25_000,
                target_year: amanaty_years.1,
                period: period(amanaty_years.0, amanaty_years.1),
            }
            .with(
                amanaty
                    .as_ref()
                    .map(projects_undertaken)
                    .map_err(Clone::clone),
            ),
            Indicator {
                key: "diploma_allowances",
                title: "'With a diploma – to the village!': relocation allowances",
                unit: COUNT,
                target: 114_000,
                target_year: 2024,
                period: period(DIPLOMA_SINCE, year),
            }
            .with(
                grants_totals
                    .as_ref()
                    .map(|t| t.allowances)
                    .map_err(Clone::clone),
            ),
            Indicator {
                key: "diploma_housing_loans",
                title: "'With a diploma – to the village!': housing loans",
                unit: COUNT,
                target: 52_000,
                target_year: 2024,
                period: period(DIPLOMA_SINCE, year),
            }
            .with(
                grants_totals
                    .as_ref()
                    .map(|t| t.loans)
                    .map_err(Clone::clone),
            ),
            Indicator {
                key: "akim_elections_pilot",
                title: "Direct akim elections of the 2023 pilot round certified",
                unit: COUNT,
                // 46 districts and 3 cities of regional significance.
                target: 49,
                target_year: 2023,
                period: "2023".into(),
            }
            .with(pilot.map(|elections| elections.len() as i64)),
            Indicator {
                key: "rural_district_revenue_growth",
                title: "Rural districts' revenue growth (35000 = 3.5-fold)",
                unit: BASIS_POINTS,
                target: 35_000,
                target_year: 0,
                period: period(REVENUE_SINCE, (year - 1).max(REVENUE_SINCE)),
            }
            .with(revenue.map(|r| r.growth_factor_bp)),
            Indicator {
                key: "sme_share_of_gdp",
                title: "Small and medium enterprises' share of GDP",
                unit: BASIS_POINTS,
                target: 4000,
                target_year: 2030,
                // No backend records the national actual yet: the period is empty.
                period: String::new(),
            }
            .with(Ok(0)),
        ];
        GetNationalDashboardResponse { year, indicators }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimaq_proto::budget::v1::{Envelope, ExecutionRow, ProjectStatusCount};

    #[test]
    fn the_year_defaults_to_this_one() {
        let request = |year| GetNationalDashboardRequest { year };
        assert_eq!(check(&request(0), 2026).unwrap(), 2026);
        assert_eq!(check(&request(2024), 2026).unwrap(), 2024);
        let refused = check(&request(-5), 2026).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(refused.message().contains("year"));
    }

    #[test]
    fn report_figures() {
        let counts = |planned, cancelled| {
            vec![
                ProjectStatusCount {
                    status: ProjectStatus::Planned as i32,
                    count: planned,
                },
                ProjectStatusCount {
                    status: ProjectStatus::Cancelled as i32,
                    count: cancelled,
                },
            ]
        };
        let report = GetExecutionReportResponse {
            envelopes: vec![
                Envelope {
                    amount_tiyn: 5,
                    ..Envelope::default()
                },
                Envelope {
                    amount_tiyn: 7,
                    ..Envelope::default()
                },
            ],
            totals: vec![
                ExecutionRow {
                    projects: counts(3, 1),
                    settlements_covered: 2,
                    ..ExecutionRow::default()
                },
                ExecutionRow {
                    projects: counts(4, 9),
                    settlements_covered: 1,
                    ..ExecutionRow::default()
                },
            ],
            ..GetExecutionReportResponse::default()
        };
        assert_eq!(envelopes_total(&report), 12);
        assert_eq!(projects_undertaken(&report), 7);
        assert_eq!(settlements_covered(&report), 3);
        assert_eq!(period(2019, 2024), "2019-2024");
        assert_eq!(period(2026, 2026), "2026");
    }
}
