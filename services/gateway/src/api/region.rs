//! `GetRegionProfile`: a region or a district over a range of years.

use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::{
    ExecutionRow, GetExecutionReportRequest, GetSufficiencyRequest, ReportGrouping,
};
use aimaq_proto::gateway::v1::*;
use aimaq_proto::governance::v1::{
    ElectionStatus, GetElectionResultsRequest, GetRevenueSummaryRequest, ListElectionsRequest,
    ListTerritoriesRequest, Territory, TerritoryScope,
};
use aimaq_proto::grants::v1::{GetStatisticsRequest, StatisticsDimension};
use aimaq_types::Kato;
use futures::{StreamExt, TryStreamExt, stream};
use tonic::Status;

use super::{
    GatewayApi, Outgoing, PAGE_SIZE, all_pages, current_year, is_ok, parse_kato, section_of,
};

/// Years a profile covers when the caller names none.
const DEFAULT_YEARS: i32 = 8;
/// Election results asked for at once.
const RESULTS_AT_ONCE: usize = 8;

/// The territory and the years of a request: `to_year` defaults to this year,
/// `from_year` to the years before it.
pub(super) fn check(
    request: &GetRegionProfileRequest,
    this_year: i32,
) -> Result<(Kato, (i32, i32)), Status> {
    let kato = parse_kato(&request.kato)?;
    let mut violations = Violations::new();
    violations.check(
        kato.level() <= 2,
        "kato",
        format!("{kato} is not a region or a district"),
    );
    let to = if request.to_year == 0 {
        this_year
    } else {
        request.to_year
    };
    let from = if request.from_year == 0 {
        to - DEFAULT_YEARS + 1
    } else {
        request.from_year
    };
    violations.check(
        (2000..=2100).contains(&from),
        "from_year",
        "must be a year from 2000 to 2100",
    );
    violations.check(
        (2000..=2100).contains(&to),
        "to_year",
        "must be a year from 2000 to 2100",
    );
    violations.check(from <= to, "to_year", "must not be before from_year");
    violations.into_result().map_err(Error::into_status)?;
    Ok((kato, (from, to)))
}

/// Whether every section could be filled.
pub(super) fn complete(profile: &GetRegionProfileResponse) -> bool {
    profile.territory.is_some()
        && [
            profile.budget.as_ref().and_then(|s| s.status.as_ref()),
            profile.grants.as_ref().and_then(|s| s.status.as_ref()),
            profile.elections.as_ref().and_then(|s| s.status.as_ref()),
            profile.revenue.as_ref().and_then(|s| s.status.as_ref()),
            profile
                .growth_points
                .as_ref()
                .and_then(|s| s.status.as_ref()),
        ]
        .into_iter()
        .all(is_ok)
}

impl GatewayApi {
    pub(super) async fn region_profile(
        &self,
        out: &Outgoing,
        kato: Kato,
        years: (i32, i32),
    ) -> Result<GetRegionProfileResponse, Status> {
        let (territory, budget, grants, elections, revenue, growth_points) = tokio::join!(
            self.territory(out, kato),
            self.region_budget(out, kato, years),
            self.region_grants(out, kato, years),
            self.region_elections(out, kato, years),
            self.region_revenue(out, kato, years),
            self.growth_points(out, kato),
        );
        Ok(GetRegionProfileResponse {
            territory: territory?.ok().map(|(territory, _)| territory),
            budget: Some(budget),
            grants: Some(grants),
            elections: Some(elections),
            revenue: Some(revenue),
            growth_points: Some(growth_points),
        })
    }

    async fn region_budget(&self, out: &Outgoing, kato: Kato, years: (i32, i32)) -> RegionBudget {
        let budget = self.budget.clone();
        let execution = async {
            let programs = self.programs(out).await?;
            let reports = programs
                .iter()
                .filter(|p| p.first_year <= years.1 && p.last_year >= years.0)
                .map(|program| {
                    let (grouping, within) = if kato.level() == 1 {
                        (ReportGrouping::Region, String::new())
                    } else {
                        (ReportGrouping::District, kato.region().to_string())
                    };
                    let request = out.request(GetExecutionReportRequest {
                        program_code: program.code.clone(),
                        from_year: years.0.max(program.first_year),
                        to_year: years.1.min(program.last_year),
                        grouping: grouping as i32,
                        territory_kato: within,
                        quarter: 0,
                    });
                    let mut budget = budget.clone();
                    async move { out.ask(budget.get_execution_report(request)).await }
                });
            let reports: Vec<_> = futures::future::try_join_all(reports).await?;
            let rows: Vec<ExecutionRow> = reports
                .into_iter()
                .flat_map(|report| report.rows)
                .filter(|row| row.territory_kato == kato.to_string())
                .collect();
            Ok::<_, Status>(rows)
        };
        let sufficiency = async {
            out.ask(
                budget
                    .clone()
                    .get_sufficiency(out.request(GetSufficiencyRequest {
                        territory_kato: kato.to_string(),
                    })),
            )
            .await
        };
        let (execution, sufficiency) = tokio::join!(execution, sufficiency);
        RegionBudget {
            status: Some(section_of(&[
                execution.as_ref().err(),
                sufficiency.as_ref().err(),
            ])),
            execution: execution.unwrap_or_default(),
            sufficiency: sufficiency.ok(),
        }
    }

    async fn region_grants(&self, out: &Outgoing, kato: Kato, years: (i32, i32)) -> RegionGrants {
        let answer = out
            .ask(
                self.grants
                    .clone()
                    .get_statistics(out.request(GetStatisticsRequest {
                        from_year: years.0,
                        to_year: years.1,
                        territory_kato: kato.to_string(),
                        group_by: vec![
                            StatisticsDimension::Year as i32,
                            StatisticsDimension::Field as i32,
                        ],
                    })),
            )
            .await;
        RegionGrants {
            status: Some(section_of(&[answer.as_ref().err()])),
            statistics: answer.ok(),
        }
    }

    /// Elections in the subtree voting within the years, certified ones with
    /// their outcome.
    async fn region_elections(
        &self,
        out: &Outgoing,
        kato: Kato,
        years: (i32, i32),
    ) -> RegionElections {
        let governance = self.governance.clone();
        let answer = async {
            let elections = self
                .elections(
                    out,
                    ListElectionsRequest {
                        territory_kato: kato.to_string(),
                        ..ListElectionsRequest::default()
                    },
                )
                .await?;
            stream::iter(elections.into_iter().filter(|e| {
                e.voting_date
                    .as_ref()
                    .is_some_and(|d| (years.0..=years.1).contains(&d.year))
            }))
            .map(|election| {
                let mut governance = governance.clone();
                async move {
                    if election.status() != ElectionStatus::Certified {
                        return Ok(ElectionSummary {
                            election: Some(election),
                            outcome: None,
                        });
                    }
                    let request = out.request(GetElectionResultsRequest {
                        election: election.name.clone(),
                    });
                    let results = out.ask(governance.get_election_results(request)).await?;
                    Ok::<_, Status>(ElectionSummary {
                        outcome: results.results.and_then(|r| r.outcome),
                        election: Some(election),
                    })
                }
            })
            .buffered(RESULTS_AT_ONCE)
            .try_collect::<Vec<_>>()
            .await
        }
        .await;
        RegionElections {
            status: Some(section_of(&[answer.as_ref().err()])),
            elections: answer.unwrap_or_default(),
        }
    }

    /// Revenue of the rural districts in the subtree, over the complete fiscal
    /// years of the range.
    async fn region_revenue(&self, out: &Outgoing, kato: Kato, years: (i32, i32)) -> RegionRevenue {
        let to_year = years.1.min(current_year() - 1);
        if to_year < years.0 {
            return RegionRevenue {
                status: Some(section_of(&[])),
                summary: None,
            };
        }
        let answer = out
            .ask(self.governance.clone().get_revenue_summary(out.request(
                GetRevenueSummaryRequest {
                    territory_kato: kato.to_string(),
                    from_year: years.0,
                    to_year,
                },
            )))
            .await;
        RegionRevenue {
            status: Some(section_of(&[answer.as_ref().err()])),
            summary: answer.ok(),
        }
    }

    async fn growth_points(&self, out: &Outgoing, kato: Kato) -> GrowthPointList {
        let list = |filter: fn(&mut ListTerritoriesRequest)| {
            let governance = self.governance.clone();
            async move {
                all_pages(|page_token| {
                    let mut governance = governance.clone();
                    let mut message = ListTerritoriesRequest {
                        parent_kato: kato.to_string(),
                        scope: TerritoryScope::Subtree as i32,
                        page_size: PAGE_SIZE,
                        page_token,
                        ..ListTerritoriesRequest::default()
                    };
                    filter(&mut message);
                    let request = out.request(message);
                    async move {
                        let page = out.ask(governance.list_territories(request)).await?;
                        Ok((page.territories, page.next_page_token))
                    }
                })
                .await
            }
        };
        let (support, single_industry, agglomeration, zones) = tokio::join!(
            list(|r| r.support_village = Some(true)),
            list(|r| r.single_industry_town = Some(true)),
            list(|r| r.agglomeration = "*".into()),
            list(|r| r.special_economic_zone = Some(true)),
        );
        let status = section_of(&[
            support.as_ref().err(),
            single_industry.as_ref().err(),
            agglomeration.as_ref().err(),
            zones.as_ref().err(),
        ]);
        let or_none = |answer: Result<Vec<Territory>, Status>| answer.unwrap_or_default();
        GrowthPointList {
            status: Some(status),
            support_villages: or_none(support),
            single_industry_towns: or_none(single_industry),
            agglomeration_members: or_none(agglomeration),
            special_economic_zones: or_none(zones),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kato: &str, from_year: i32, to_year: i32) -> GetRegionProfileRequest {
        GetRegionProfileRequest {
            kato: kato.into(),
            from_year,
            to_year,
        }
    }

    #[test]
    fn years_default_to_the_recent_ones() {
        let (kato, years) = check(&request("610000000", 0, 0), 2026).unwrap();
        assert_eq!(kato.to_string(), "610000000");
        assert_eq!(years, (2019, 2026));
        assert_eq!(
            check(&request("613600000", 2019, 2024), 2026).unwrap().1,
            (2019, 2024)
        );
        assert_eq!(
            check(&request("613600000", 0, 2020), 2026).unwrap().1,
            (2013, 2020)
        );
    }

    #[test]
    fn refusals_name_the_field() {
        for (bad, field) in [
            (request("61", 0, 0), "kato"),
            (request("613633100", 0, 0), "kato"),
            (request("610000000", 2025, 2019), "to_year"),
            (request("610000000", 1900, 0), "from_year"),
        ] {
            let status = check(&bad, 2026).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(
                status.message().contains(field),
                "{field}: {}",
                status.message()
            );
        }
    }
}
