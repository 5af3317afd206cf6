//! The calls an uncached settlement profile makes, one by one, each straight
//! to its backend for villages in rotation: where the profile's time goes.

use std::collections::HashSet;
use std::future::Future;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    GetAkimRequest, GetRevenueSummaryRequest, GetTerritoryRequest, ListElectionsRequest,
};
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::with_token;
use aimaq_types::Kato;
use tonic::transport::Channel;

use super::load::{DECISION_YEARS, Nation, PROGRAM};
use super::{ONE, Servers, levels, rotating, row};

/// One row per call of the profile, measured with `baseline` calls/s beside.
pub async fn profile_calls(
    servers: &Servers,
    token: &str,
    nation: &Nation,
    baseline: f64,
) -> Vec<String> {
    let governance = GovernanceServiceClient::new(servers.governance.channel().await);
    let budget = BudgetServiceClient::new(servers.budget.channel().await);
    let grants = GrantsServiceClient::new(servers.grants.channel().await);
    let villages = levels(nation)[0].1.clone();
    let rural: HashSet<Kato> = nation.rural_districts.iter().copied().collect();
    let rural_districts: Vec<String> = villages
        .iter()
        .filter_map(|v| Kato::parse(v).ok()?.parent_in(|k| rural.contains(&k)))
        .map(|k| k.to_string())
        .collect();
    let t = token.to_owned();
    let mut rows = Vec::new();
    let mut add = |name: &str, m: aimaq_bench::Measurement| {
        rows.push(row(&format!("{name}, a village"), &m, baseline))
    };
    add(
        "GetTerritory with ancestors",
        each(villages.clone(), governance.clone(), {
            let t = t.clone();
            move |mut c: GovernanceServiceClient<Channel>, kato| {
                let r = GetTerritoryRequest {
                    kato,
                    include_ancestors: true,
                };
                let r = with_token(r, &t);
                async move { c.get_territory(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "GetAkim",
        each(villages.clone(), governance.clone(), {
            let t = t.clone();
            move |mut c: GovernanceServiceClient<Channel>, kato| {
                let r = with_token(
                    GetAkimRequest {
                        territory_kato: kato,
                    },
                    &t,
                );
                async move { c.get_akim(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "ListElections",
        each(villages.clone(), governance.clone(), {
            let t = t.clone();
            move |mut c: GovernanceServiceClient<Channel>, kato| {
                let r = ListElectionsRequest {
                    territory_kato: kato,
                    page_size: 500,
                    ..ListElectionsRequest::default()
                };
                let r = with_token(r, &t);
                async move { c.list_elections(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "GetRevenueSummary of its rural district, 7 years",
        each(rural_districts, governance, {
            let t = t.clone();
            move |mut c: GovernanceServiceClient<Channel>, kato| {
                let to_year = *DECISION_YEARS.end() - 1;
                let r = GetRevenueSummaryRequest {
                    territory_kato: kato,
                    from_year: to_year - 6,
                    to_year,
                };
                let r = with_token(r, &t);
                async move { c.get_revenue_summary(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "ListPrograms",
        each(villages.clone(), budget.clone(), {
            let t = t.clone();
            move |mut c: BudgetServiceClient<Channel>, _| {
                let r = ListProgramsRequest {
                    page_size: 500,
                    ..ListProgramsRequest::default()
                };
                let r = with_token(r, &t);
                async move { c.list_programs(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "ListAllocations of a programme",
        each(villages.clone(), budget.clone(), {
            let t = t.clone();
            move |mut c: BudgetServiceClient<Channel>, kato| {
                let r = ListAllocationsRequest {
                    program_code: PROGRAM.into(),
                    territory_kato: kato,
                    page_size: 500,
                    ..ListAllocationsRequest::default()
                };
                let r = with_token(r, &t);
                async move { c.list_allocations(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "ListProjects (500)",
        each(villages.clone(), budget.clone(), {
            let t = t.clone();
            move |mut c: BudgetServiceClient<Channel>, kato| {
                let r = ListProjectsRequest {
                    territory_kato: kato,
                    page_size: 500,
                    ..ListProjectsRequest::default()
                };
                let r = with_token(r, &t);
                async move { c.list_projects(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "GetSufficiency",
        each(villages.clone(), budget, {
            let t = t.clone();
            move |mut c: BudgetServiceClient<Channel>, kato| {
                let r = with_token(
                    GetSufficiencyRequest {
                        territory_kato: kato,
                    },
                    &t,
                );
                async move { c.get_sufficiency(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "GetStatistics 2009–2026 by year and field",
        each(
            villages,
            grants,
            move |mut c: GrantsServiceClient<Channel>, kato| {
                let r = GetStatisticsRequest {
                    from_year: *DECISION_YEARS.start(),
                    to_year: *DECISION_YEARS.end(),
                    territory_kato: kato,
                    group_by: vec![
                        StatisticsDimension::Year as i32,
                        StatisticsDimension::Field as i32,
                    ],
                };
                let r = with_token(r, &t);
                async move { c.get_statistics(r).await.is_ok() }
            },
        )
        .await,
    );
    rows
}

/// One caller making `call` with a client of `client` and the next of `keys`.
async fn each<C, F, Fut>(keys: Vec<String>, client: C, call: F) -> aimaq_bench::Measurement
where
    C: Clone + Send + Sync + 'static,
    F: Fn(C, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    rotating(ONE, keys, move |kato| call(client.clone(), kato)).await
}
