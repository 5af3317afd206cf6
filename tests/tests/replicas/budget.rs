//! Budget: projects raced against one allocation with room for ROOM of them.

use std::time::Duration;

use aimaq_e2e::scenario::{REGION, TIYN, VILLAGE, program_with_envelope, this_year};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_testing::{TestDatabase, with_token};

use crate::{Shared, load, unique_prefix};

/// The allocation holds this many projects of one cost.
const ROOM: i64 = 60;
const COST: i64 = 1_000 * TIYN;

pub async fn three_replicas_behave_as_one(shared: &Shared) {
    let database = TestDatabase::postgres().await.unwrap();
    let prefix = unique_prefix();
    let mut replicas = shared.replicas("budget", &database, &prefix).await;
    let token = shared.token.clone();
    let mut budget = BudgetServiceClient::new(replicas[0].channel().await);
    let allocation = prepare(&mut budget, &token).await;

    let asked = allocation.clone();
    let outcome = load::race(&mut replicas, 2 * ROOM as usize, move |channel, k| {
        let (asked, token) = (project(k, &asked), token.clone());
        async move {
            let mut request = with_token(asked, &token);
            request.set_timeout(Duration::from_secs(5));
            let answer = BudgetServiceClient::new(channel)
                .create_project(request)
                .await?;
            Ok(answer.into_inner().project.unwrap().name)
        }
    })
    .await;
    assert_eq!(outcome.killed, 1, "one replica was killed mid-load");
    assert!(outcome.retried > 0, "requests met the killed replica");
    eprintln!(
        "budget: {} projects made, {} sends retried on another replica",
        outcome.made.len(),
        outcome.retried
    );
    assert_eq!(
        outcome.made.len() as i64,
        ROOM,
        "the room is used, not more"
    );

    let alive: Vec<_> = replicas.iter().filter(|r| r.alive()).collect();
    let mut budget = BudgetServiceClient::new(alive[0].channel().await);
    let asked = GetAllocationRequest { allocation };
    let held = budget
        .get_allocation(with_token(asked, &shared.token))
        .await;
    let held = held.unwrap().into_inner().allocation.unwrap();
    assert_eq!(held.committed_tiyn, ROOM * COST, "no overrun");
    assert!(held.committed_tiyn <= held.amount_tiyn);

    let stream = format!("{prefix}_BUDGET").to_uppercase();
    let feed = shared.behave_as_one(&alive, &stream).await;
    let projects = feed.iter().filter(|e| e.resource_type == "project").count();
    assert_eq!(projects as i64, ROOM, "each project created once");
}

/// A programme, its envelope and a region's allocation with room for ROOM
/// projects; the allocation's name.
async fn prepare(
    budget: &mut BudgetServiceClient<tonic::transport::Channel>,
    token: &str,
) -> String {
    program_with_envelope(budget, token, 10 * ROOM * COST).await;
    let asked = AllocateRequest {
        request_id: "allocate".into(),
        program_code: "AUYL_EL_BESIGI".into(),
        fiscal_year: this_year(),
        territory_kato: REGION.into(),
        amount_tiyn: ROOM * COST,
    };
    let allocated = budget.allocate(with_token(asked, token)).await.unwrap();
    allocated.into_inner().allocation.unwrap().name
}

fn project(k: usize, allocation: &str) -> CreateProjectRequest {
    CreateProjectRequest {
        request_id: format!("project-{k}"),
        allocation: allocation.into(),
        settlement_kato: VILLAGE.into(),
        category: ProjectCategory::SocialInfrastructure as i32,
        title: format!("School {k}"),
        borrower_id: String::new(),
        cost_tiyn: COST,
        standard_codes: Vec::new(),
    }
}
