//! The three calls an uncached settlement profile makes (one per backend), one
//! by one, each straight to its backend for villages in rotation: where the
//! profile's time goes.

use std::future::Future;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::governance::v1 as governance;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::with_token;
use tonic::transport::Channel;

use super::load::{DECISION_YEARS, Nation};
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
    let t = token.to_owned();
    let mut rows = Vec::new();
    let mut add = |name: &str, m: aimaq_bench::Measurement| {
        rows.push(row(&format!("{name}, a village"), &m, baseline))
    };
    add(
        "governance's GetSettlementSummary, 7 years of revenue",
        each(villages.clone(), governance, {
            let t = t.clone();
            move |mut c: GovernanceServiceClient<Channel>, kato| {
                let to_year = *DECISION_YEARS.end() - 1;
                let r = governance::GetSettlementSummaryRequest {
                    kato,
                    revenue_from_year: to_year - 6,
                    revenue_to_year: to_year,
                };
                let r = with_token(r, &t);
                async move { c.get_settlement_summary(r).await.is_ok() }
            }
        })
        .await,
    );
    add(
        "budget's GetSettlementSummary",
        each(villages.clone(), budget, {
            let t = t.clone();
            move |mut c: BudgetServiceClient<Channel>, kato| {
                let r = GetSettlementSummaryRequest {
                    territory_kato: kato,
                };
                let r = with_token(r, &t);
                async move { c.get_settlement_summary(r).await.is_ok() }
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
