//! `GetNationalDashboard`: every programme target budget records for the
//! year, and every national development indicator governance records, each
//! beside its actual from the backend that holds it. No figure is written
//! here: targets, their periods and their sources are data.

use std::collections::{BTreeMap, BTreeSet};

use aimaq_error::Error;
use aimaq_proto::budget::v1::{
    GetExecutionReportRequest, GetExecutionReportResponse, ListProgramTargetsRequest,
    ProgramTarget, ReportGrouping, TargetMetric,
};
use aimaq_proto::gateway::v1::*;
use aimaq_proto::grants::v1::{GetStatisticsRequest, GrantTotals};
use tonic::Status;

use super::{GatewayApi, Outgoing, PAGE_SIZE, all_pages, section_ok, section_status};
use crate::domain::dashboard::{
    Figure, budget_actual, counted_by_grants, grants_actual, metric_words, period,
    projects_cancelled, target_key,
};

/// Units of [`DashboardIndicator::unit`].
pub(super) const COUNT: &str = "count";
const TIYN: &str = "tiyn";
pub(super) const BASIS_POINTS: &str = "bp";

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

/// Whether every indicator could be read (a figure with no data was read).
pub(super) fn complete(dashboard: &GetNationalDashboardResponse) -> bool {
    dashboard.indicators.iter().all(|i| {
        i.status
            .as_ref()
            .is_some_and(|s| matches!(s.state(), SectionState::Ok | SectionState::NoData))
    })
}

/// A target as the dashboard shows it: its value, its years and its source.
pub(super) struct Target {
    pub value: i64,
    pub years: (i32, i32),
    pub source: String,
}

/// One dashboard line before it becomes the proto message.
pub(super) struct Line {
    pub key: String,
    pub title: String,
    pub unit: &'static str,
    pub target: Option<Target>,
    pub actual: Result<Figure, Status>,
    pub period: String,
    pub actual_source: String,
}

impl Line {
    /// A line standing for a list the dashboard could not read.
    pub(super) fn unread(key: &str, title: &str, status: Status) -> Line {
        Line {
            key: key.into(),
            title: title.into(),
            unit: COUNT,
            target: None,
            actual: Err(status),
            period: String::new(),
            actual_source: String::new(),
        }
    }

    fn into_proto(self) -> DashboardIndicator {
        let (status, actual) = match self.actual {
            Ok(Figure::Value(actual)) => (section_ok(), actual),
            Ok(Figure::NoData) => (
                SectionStatus {
                    state: SectionState::NoData as i32,
                    code: 0,
                    message: format!("no data recorded for {}", self.period),
                },
                0,
            ),
            Err(status) => (section_status(&status), 0),
        };
        let target = self.target.unwrap_or(Target {
            value: 0,
            years: (0, 0),
            source: String::new(),
        });
        DashboardIndicator {
            key: self.key,
            title: self.title,
            status: Some(status),
            unit: self.unit.into(),
            actual,
            target: target.value,
            target_year: target.years.1,
            period: self.period,
            target_period: if target.years.1 == 0 {
                String::new()
            } else {
                period(target.years.0, target.years.1)
            },
            target_source: target.source,
            actual_source: self.actual_source,
        }
    }
}

/// Where a target's actual is read: a programme's execution report over the
/// target's years, or the diploma programme's totals over them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reading {
    Execution(String, (i32, i32)),
    Grants((i32, i32)),
}

#[derive(Debug, Clone)]
enum Answer {
    Execution(GetExecutionReportResponse),
    Grants(GrantTotals),
}

fn reading_of(target: &ProgramTarget) -> Reading {
    let years = (target.from_year, target.to_year);
    if counted_by_grants(target.metric()) {
        Reading::Grants(years)
    } else {
        Reading::Execution(target.program_code.clone(), years)
    }
}

/// A target's line from the answer to its reading (two for projects: those
/// undertaken against the target, and those cancelled beside them).
fn programme_line(
    target: &ProgramTarget,
    title: String,
    answer: Result<Answer, Status>,
) -> Vec<Line> {
    let metric = target.metric();
    let years = (target.from_year, target.to_year);
    let mut line = Line {
        key: target_key(&target.program_code, metric, years.0, years.1),
        title: format!("{title}: {}", metric_words(metric).1),
        unit: if metric == TargetMetric::Money {
            TIYN
        } else {
            COUNT
        },
        target: Some(Target {
            value: target.value,
            years,
            source: target.source.clone(),
        }),
        actual: Ok(Figure::NoData),
        period: period(years.0, years.1),
        actual_source: String::new(),
    };
    let report = match answer {
        Ok(Answer::Grants(totals)) => {
            line.actual = Ok(grants_actual(metric, &totals));
            line.actual_source = "grants: decided applications and historical aggregates".into();
            return vec![line];
        }
        Ok(Answer::Execution(report)) => Ok(report),
        Err(status) => Err(status),
    };
    line.actual = report
        .as_ref()
        .map(|r| budget_actual(metric, r))
        .map_err(Clone::clone);
    line.actual_source = format!("budget: execution report of {}", target.program_code);
    if metric != TargetMetric::Projects {
        return vec![line];
    }
    let cancelled = Line {
        key: format!("{}_cancelled", line.key),
        title: format!("{title}: projects cancelled"),
        unit: COUNT,
        target: None,
        actual: report.map(|r| match budget_actual(metric, &r) {
            Figure::NoData => Figure::NoData,
            Figure::Value(_) => Figure::Value(projects_cancelled(&r)),
        }),
        period: line.period.clone(),
        actual_source: line.actual_source.clone(),
    };
    vec![line, cancelled]
}

impl GatewayApi {
    pub(super) async fn national_dashboard(
        &self,
        out: &Outgoing,
        year: i32,
        this_year: i32,
    ) -> GetNationalDashboardResponse {
        let (programmes, indicators, revenue, pilot) = tokio::join!(
            self.programme_lines(out, year),
            self.indicator_lines(out, year, this_year),
            self.revenue_line(out, year),
            self.pilot_line(out),
        );
        let lines = programmes
            .into_iter()
            .chain(indicators)
            .chain([revenue, pilot]);
        GetNationalDashboardResponse {
            year,
            indicators: lines.map(Line::into_proto).collect(),
        }
    }

    /// A line per programme target covering `year`.
    async fn programme_lines(&self, out: &Outgoing, year: i32) -> Vec<Line> {
        let (targets, programs) = tokio::join!(self.program_targets(out, year), self.programs(out));
        let targets = match targets {
            Ok(targets) => targets,
            Err(status) => {
                return vec![Line::unread("program_targets", "Programme targets", status)];
            }
        };
        // A title is a nicety: without the programmes, the code stands in.
        let title_of = |code: &str| {
            programs
                .as_ref()
                .ok()
                .and_then(|all| all.iter().find(|p| p.code == code))
                .and_then(|p| p.title.as_ref())
                .map(|t| {
                    if t.en.is_empty() {
                        t.ru.clone()
                    } else {
                        t.en.clone()
                    }
                })
                .unwrap_or_else(|| code.to_owned())
        };
        // One answer per programme and period, however many targets share it.
        let readings: BTreeSet<Reading> = targets.iter().map(reading_of).collect();
        let answers = readings.into_iter().map(|reading| async move {
            let answer = self.read(out, &reading).await;
            (reading, answer)
        });
        let answers: BTreeMap<Reading, Result<Answer, Status>> = futures::future::join_all(answers)
            .await
            .into_iter()
            .collect();
        targets
            .iter()
            .flat_map(|target| {
                let answer = answers
                    .get(&reading_of(target))
                    .cloned()
                    .unwrap_or_else(|| Err(Status::internal("a target's reading was not made")));
                programme_line(target, title_of(&target.program_code), answer)
            })
            .collect()
    }

    /// What `reading` asks of budget or grants.
    async fn read(&self, out: &Outgoing, reading: &Reading) -> Result<Answer, Status> {
        match reading {
            Reading::Execution(code, years) => self
                .execution(out, code, *years)
                .await
                .map(Answer::Execution),
            Reading::Grants(years) => self.grant_totals(out, *years).await.map(Answer::Grants),
        }
    }

    /// Every programme target covering `year`.
    async fn program_targets(
        &self,
        out: &Outgoing,
        year: i32,
    ) -> Result<Vec<ProgramTarget>, Status> {
        all_pages(|page_token| {
            let mut budget = self.budget.clone();
            let request = out.request(ListProgramTargetsRequest {
                year,
                page_size: PAGE_SIZE,
                page_token,
                ..ListProgramTargetsRequest::default()
            });
            async move {
                let page = out.ask(budget.list_program_targets(request)).await?;
                Ok((page.targets, page.next_page_token))
            }
        })
        .await
    }

    pub(super) async fn execution(
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
            quarter: 0,
        });
        out.ask(self.budget.clone().get_execution_report(request))
            .await
    }

    /// The diploma programme's national totals over exactly `years`.
    async fn grant_totals(&self, out: &Outgoing, years: (i32, i32)) -> Result<GrantTotals, Status> {
        let request = out.request(GetStatisticsRequest {
            from_year: years.0,
            to_year: years.1,
            territory_kato: String::new(),
            group_by: Vec::new(),
        });
        let statistics = out.ask(self.grants.clone().get_statistics(request)).await?;
        Ok(statistics.totals.unwrap_or_default())
    }
}
