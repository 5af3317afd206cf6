//! GetSettlementSummary: what a settlement profile shows of the budget, in one
//! call rather than one per programme and list page, each part answered as its
//! own RPC would answer it.

use aimaq_error::{Error, fields};
use aimaq_proto::budget::v1::{
    GetSettlementSummaryRequest, GetSettlementSummaryResponse, GetSufficiencyRequest, ProjectCount,
};

use aimaq_records::Records;

use super::projects::status_to_proto;
use super::{allocations, standards};
use crate::ops;

pub async fn summary(
    records: &Records,
    request: &GetSettlementSummaryRequest,
) -> Result<GetSettlementSummaryResponse, Error> {
    let prefix = fields::settlement("territory_kato", &request.territory_kato)?.subtree_prefix();
    let sufficiency = GetSufficiencyRequest {
        territory_kato: request.territory_kato.clone(),
    };
    let (allocations, tallies, sufficiency) = tokio::try_join!(
        ops::allocations::of_place(records, &prefix),
        ops::projects::tally_of_place(records, &prefix),
        standards::sufficiency(records, &sufficiency),
    )?;
    let mut projects: Vec<ProjectCount> = tallies
        .into_iter()
        .map(|tally| ProjectCount {
            program_code: tally.program_code,
            status: status_to_proto(tally.status) as i32,
            count: tally.count,
            cost_tiyn: tally.cost.tiyn(),
        })
        .collect();
    projects.sort_by(|a, b| (&a.program_code, a.status).cmp(&(&b.program_code, b.status)));
    Ok(GetSettlementSummaryResponse {
        allocations: allocations.iter().map(allocations::to_proto).collect(),
        projects,
        sufficiency: Some(sufficiency),
    })
}
