//! `GetSettlementProfile`: one settlement as every backend sees it.

use std::collections::BTreeMap;

use aimaq_proto::budget::v1::{
    GetSufficiencyRequest, ListAllocationsRequest, ListProjectsRequest, Project,
};
use aimaq_proto::gateway::v1::*;
use aimaq_proto::governance::v1::{
    GetAkimRequest, GetElectionResultsRequest, GetRevenueSummaryRequest, ListElectionsRequest,
    Territory, TerritoryKind,
};
use aimaq_proto::grants::v1::{GetStatisticsRequest, StatisticsDimension, StatisticsRow};
use aimaq_types::Kato;
use tonic::Status;

use aimaq_error::Error;

use super::{
    GatewayApi, Outgoing, PAGE_SIZE, all_pages, current_year, is_ok, parse_kato, section_of,
};

/// The first year of the diploma programme.
const GRANTS_SINCE: i32 = 2009;
/// Years of revenue a settlement profile shows.
const REVENUE_YEARS: i32 = 7;

/// A settlement, or a rural district: regions and districts have their own view.
pub(super) fn check(request: &GetSettlementProfileRequest) -> Result<Kato, Status> {
    let kato = parse_kato(&request.kato)?;
    if kato.level() < 3 {
        return Err(Error::invalid(
            "kato",
            format!("{kato} is a region or a district: GetRegionProfile describes those"),
        )
        .into_status());
    }
    Ok(kato)
}

impl GatewayApi {
    pub(super) async fn settlement_profile(
        &self,
        out: &Outgoing,
        kato: Kato,
    ) -> Result<GetSettlementProfileResponse, Status> {
        let (governance, budget, grants) = tokio::join!(
            self.settlement_governance(out, kato),
            self.settlement_budget(out, kato),
            self.settlement_grants(out, kato),
        );
        let (territory, ancestors, governance) = governance?;
        Ok(GetSettlementProfileResponse {
            territory,
            ancestors,
            governance: Some(governance),
            budget: Some(budget),
            grants: Some(grants),
        })
    }

    async fn settlement_governance(
        &self,
        out: &Outgoing,
        kato: Kato,
    ) -> Result<(Option<Territory>, Vec<Territory>, GovernanceSection), Status> {
        let (territory, ancestors) = match self.territory(out, kato).await? {
            Ok(found) => found,
            Err(status) => {
                let section = GovernanceSection {
                    status: Some(section_of(&[Some(&status)])),
                    ..GovernanceSection::default()
                };
                return Ok((None, Vec::new(), section));
            }
        };
        let rural_district = std::iter::once(&territory)
            .chain(&ancestors)
            .find(|t| t.kind() == TerritoryKind::RuralDistrict)
            .map(|t| t.kato.clone());
        let year = current_year();
        let governance = self.governance.clone();
        let (akim, election, revenue) = tokio::join!(
            async {
                out.ask(governance.clone().get_akim(out.request(GetAkimRequest {
                    territory_kato: kato.to_string(),
                })))
                .await
            },
            self.latest_election(out, kato),
            async {
                match &rural_district {
                    Some(rural_district) => out
                        .ask(governance.clone().get_revenue_summary(out.request(
                            GetRevenueSummaryRequest {
                                territory_kato: rural_district.clone(),
                                // The complete fiscal years.
                                from_year: year - REVENUE_YEARS,
                                to_year: year - 1,
                            },
                        )))
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            },
        );
        let status = section_of(&[
            akim.as_ref().err(),
            election.as_ref().err(),
            revenue.as_ref().err(),
        ]);
        let (latest_election, latest_results) = election.unwrap_or_default();
        let section = GovernanceSection {
            status: Some(status),
            current_akim: akim.ok().and_then(|a| a.current),
            latest_election,
            latest_results,
            revenue: revenue.ok().flatten(),
        };
        Ok((Some(territory), ancestors, section))
    }

    /// The last election scheduled for the territory, with its results.
    async fn latest_election(
        &self,
        out: &Outgoing,
        kato: Kato,
    ) -> Result<
        (
            Option<aimaq_proto::governance::v1::Election>,
            Option<aimaq_proto::governance::v1::ElectionResults>,
        ),
        Status,
    > {
        let elections = self
            .elections(
                out,
                ListElectionsRequest {
                    territory_kato: kato.to_string(),
                    ..ListElectionsRequest::default()
                },
            )
            .await?;
        // Listed in the order scheduled; only those held for this very territory.
        let Some(latest) = elections
            .into_iter()
            .rfind(|e| e.territory_kato == kato.to_string())
        else {
            return Ok((None, None));
        };
        let results = out
            .ask(self.governance.clone().get_election_results(out.request(
                GetElectionResultsRequest {
                    election: latest.name.clone(),
                },
            )))
            .await?;
        Ok((Some(latest), results.results))
    }

    async fn settlement_budget(&self, out: &Outgoing, kato: Kato) -> BudgetSection {
        let budget = self.budget.clone();
        let allocations = async {
            let programs = self.programs(out).await?;
            let lists = programs.iter().map(|program| {
                all_pages(|page_token| {
                    let mut budget = budget.clone();
                    let request = out.request(ListAllocationsRequest {
                        program_code: program.code.clone(),
                        territory_kato: kato.to_string(),
                        page_size: PAGE_SIZE,
                        page_token,
                        ..ListAllocationsRequest::default()
                    });
                    async move {
                        let page = out.ask(budget.list_allocations(request)).await?;
                        Ok((page.allocations, page.next_page_token))
                    }
                })
            });
            let lists = futures::future::try_join_all(lists).await?;
            Ok::<_, Status>(lists.into_iter().flatten().collect::<Vec<_>>())
        };
        let (allocations, projects, sufficiency) = tokio::join!(
            allocations,
            all_pages(|page_token| {
                let mut budget = budget.clone();
                let request = out.request(ListProjectsRequest {
                    territory_kato: kato.to_string(),
                    page_size: PAGE_SIZE,
                    page_token,
                    ..ListProjectsRequest::default()
                });
                async move {
                    let page = out.ask(budget.list_projects(request)).await?;
                    Ok((page.projects, page.next_page_token))
                }
            }),
            async {
                out.ask(
                    budget
                        .clone()
                        .get_sufficiency(out.request(GetSufficiencyRequest {
                            territory_kato: kato.to_string(),
                        })),
                )
                .await
            },
        );
        BudgetSection {
            status: Some(section_of(&[
                allocations.as_ref().err(),
                projects.as_ref().err(),
                sufficiency.as_ref().err(),
            ])),
            allocations: allocations.unwrap_or_default(),
            projects: projects.map(|p| count_projects(&p)).unwrap_or_default(),
            sufficiency: sufficiency.ok(),
        }
    }

    async fn settlement_grants(&self, out: &Outgoing, kato: Kato) -> GrantsSection {
        let answer = out
            .ask(
                self.grants
                    .clone()
                    .get_statistics(out.request(GetStatisticsRequest {
                        from_year: GRANTS_SINCE,
                        to_year: current_year(),
                        territory_kato: kato.to_string(),
                        group_by: vec![
                            StatisticsDimension::Year as i32,
                            StatisticsDimension::Field as i32,
                        ],
                    })),
            )
            .await;
        match answer {
            Ok(statistics) => GrantsSection {
                status: Some(section_of(&[])),
                specialists: count_specialists(&statistics.rows),
                totals: statistics.totals,
            },
            Err(status) => GrantsSection {
                status: Some(section_of(&[Some(&status)])),
                ..GrantsSection::default()
            },
        }
    }
}

/// Whether every section could be filled.
pub(super) fn complete(profile: &GetSettlementProfileResponse) -> bool {
    is_ok(profile.governance.as_ref().and_then(|s| s.status.as_ref()))
        && is_ok(profile.budget.as_ref().and_then(|s| s.status.as_ref()))
        && is_ok(profile.grants.as_ref().and_then(|s| s.status.as_ref()))
}

/// Projects by programme and status, with their cost.
pub(super) fn count_projects(projects: &[Project]) -> Vec<ProjectCount> {
    let mut counts: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
    for project in projects {
        let entry = counts
            .entry((project.program_code.clone(), project.status))
            .or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(project.cost_tiyn);
    }
    counts
        .into_iter()
        .map(
            |((program_code, status), (count, cost_tiyn))| ProjectCount {
                program_code,
                status,
                count,
                cost_tiyn,
            },
        )
        .collect()
}

/// Specialists who came, by year and field: those granted the relocation
/// allowance, which every participant receives once. Historical aggregates are
/// national and never name a settlement, so they do not appear here.
pub(super) fn count_specialists(rows: &[StatisticsRow]) -> Vec<SpecialistCount> {
    rows.iter()
        .filter(|row| !row.historical)
        .filter_map(|row| {
            let count = row.totals.as_ref().map_or(0, |t| t.allowances);
            (count > 0).then_some(SpecialistCount {
                year: row.year,
                field: row.field,
                count,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimaq_proto::budget::v1::ProjectStatus;
    use aimaq_proto::grants::v1::{Field, GrantTotals};

    fn project(program: &str, status: ProjectStatus, cost_tiyn: i64) -> Project {
        Project {
            program_code: program.into(),
            status: status as i32,
            cost_tiyn,
            ..Project::default()
        }
    }

    #[test]
    fn only_settlements_and_rural_districts_have_this_view() {
        let request = |kato: &str| GetSettlementProfileRequest { kato: kato.into() };
        assert_eq!(
            check(&request("613633100")).unwrap().to_string(),
            "613633100"
        );
        assert!(check(&request("613633000")).is_ok());
        for kato in ["613600000", "610000000", "6136331"] {
            let refused = check(&request(kato)).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{kato}");
            assert!(refused.message().contains("kato"), "{kato}");
        }
    }

    #[test]
    fn projects_are_counted_by_programme_and_status() {
        let counts = count_projects(&[
            project("AUYL_EL_BESIGI", ProjectStatus::Completed, 100),
            project("AUYL_AMANATY", ProjectStatus::Planned, 7),
            project("AUYL_EL_BESIGI", ProjectStatus::Completed, 50),
            project("AUYL_EL_BESIGI", ProjectStatus::Planned, 1),
        ]);
        let flat: Vec<(&str, ProjectStatus, i64, i64)> = counts
            .iter()
            .map(|c| (c.program_code.as_str(), c.status(), c.count, c.cost_tiyn))
            .collect();
        assert_eq!(
            flat,
            [
                ("AUYL_AMANATY", ProjectStatus::Planned, 1, 7),
                ("AUYL_EL_BESIGI", ProjectStatus::Planned, 1, 1),
                ("AUYL_EL_BESIGI", ProjectStatus::Completed, 2, 150),
            ]
        );
    }

    #[test]
    fn specialists_are_those_granted_the_allowance() {
        let row = |year, field: Field, allowances, historical| StatisticsRow {
            year,
            field: field as i32,
            totals: Some(GrantTotals {
                allowances,
                ..GrantTotals::default()
            }),
            historical,
            ..StatisticsRow::default()
        };
        let counts = count_specialists(&[
            row(2025, Field::Healthcare, 2, false),
            row(2025, Field::Education, 0, false),
            row(2015, Field::Unspecified, 900, true),
        ]);
        assert_eq!(
            counts,
            [SpecialistCount {
                year: 2025,
                field: Field::Healthcare as i32,
                count: 2
            }]
        );
    }
}
