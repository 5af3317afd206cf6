//! `GetSettlementProfile`: one settlement as every backend sees it.

use aimaq_proto::budget::v1 as budget;
use aimaq_proto::gateway::v1::*;
use aimaq_proto::governance::v1::{self as governance, Territory};
use aimaq_proto::grants::v1::{GetStatisticsRequest, StatisticsDimension, StatisticsRow};
use aimaq_types::Kato;
use tonic::{Code, Status};

use aimaq_error::Error;

use super::{GatewayApi, Outgoing, current_year, is_ok, parse_kato, section_of};

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
    /// Three calls, one per backend, at once: each backend summarises the
    /// settlement in one answer, so the profile waits for the slowest of three
    /// rather than for a chain of a dozen.
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

    /// NOT_FOUND of the territory fails the view; any other refusal leaves
    /// governance out and the view goes on.
    async fn settlement_governance(
        &self,
        out: &Outgoing,
        kato: Kato,
    ) -> Result<(Option<Territory>, Vec<Territory>, GovernanceSection), Status> {
        let year = current_year();
        let answer = out
            .ask(self.governance.clone().get_settlement_summary(out.request(
                governance::GetSettlementSummaryRequest {
                    kato: kato.to_string(),
                    // The complete fiscal years.
                    revenue_from_year: year - REVENUE_YEARS,
                    revenue_to_year: year - 1,
                },
            )))
            .await;
        match answer {
            Ok(summary) => Ok((
                summary.territory,
                summary.ancestors,
                GovernanceSection {
                    status: Some(section_of(&[])),
                    current_akim: summary.current_akim,
                    latest_election: summary.latest_election,
                    latest_results: summary.latest_results,
                    revenue: summary.revenue,
                },
            )),
            Err(status) if status.code() == Code::NotFound => {
                Err(Error::not_found("territory", format!("territories/{kato}")).into_status())
            }
            Err(status) => {
                let section = GovernanceSection {
                    status: Some(section_of(&[Some(&status)])),
                    ..GovernanceSection::default()
                };
                Ok((None, Vec::new(), section))
            }
        }
    }

    async fn settlement_budget(&self, out: &Outgoing, kato: Kato) -> BudgetSection {
        let answer = out
            .ask(self.budget.clone().get_settlement_summary(out.request(
                budget::GetSettlementSummaryRequest {
                    territory_kato: kato.to_string(),
                },
            )))
            .await;
        match answer {
            Ok(summary) => BudgetSection {
                status: Some(section_of(&[])),
                allocations: summary.allocations,
                projects: summary.projects.into_iter().map(project_count).collect(),
                sufficiency: summary.sufficiency,
            },
            Err(status) => BudgetSection {
                status: Some(section_of(&[Some(&status)])),
                ..BudgetSection::default()
            },
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

/// The budget's count of a programme's projects in one status, as the profile
/// shows it.
fn project_count(count: budget::ProjectCount) -> ProjectCount {
    ProjectCount {
        program_code: count.program_code,
        status: count.status,
        count: count.count,
        cost_tiyn: count.cost_tiyn,
    }
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
    use aimaq_proto::grants::v1::{Field, GrantTotals};

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
