//! Grants: approvals with an allowance raced against a region's quota of
//! QUOTA allowances, twice as many applications as the quota holds.

use std::time::Duration;

use aimaq_e2e::scenario::{REGION, application, approval, grants_terms, this_year};
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_testing::{TestDatabase, with_token};

use crate::{Shared, load, unique_prefix};

const QUOTA: i32 = 20;

pub async fn three_replicas_behave_as_one(shared: &Shared) {
    let database = TestDatabase::postgres().await.unwrap();
    let prefix = unique_prefix();
    let mut replicas = shared.replicas("grants", &database, &prefix).await;
    let token = shared.token.clone();
    let mut grants = GrantsServiceClient::new(replicas[0].channel().await);
    grants_terms(&mut grants, &token, QUOTA).await;
    let mut applications = Vec::new();
    for k in 0..2 * QUOTA as u32 {
        let asked = application(&format!("apply-{k}"), k);
        let answer = grants.submit_application(with_token(asked, &token)).await;
        applications.push(answer.unwrap().into_inner().application.unwrap());
    }

    let outcome = load::race(&mut replicas, applications.len(), move |channel, k| {
        let asked = approval(&format!("approve-{k}"), &applications[k]);
        let token = token.clone();
        async move {
            let mut request = with_token(asked, &token);
            request.set_timeout(Duration::from_secs(5));
            let answer = GrantsServiceClient::new(channel)
                .decide_application(request)
                .await?;
            Ok(answer.into_inner().application.unwrap().name)
        }
    })
    .await;
    assert_eq!(outcome.killed, 1, "one replica was killed mid-load");
    assert!(outcome.retried > 0, "requests met the killed replica");
    eprintln!(
        "grants: {} approved, {} sends retried on another replica",
        outcome.made.len(),
        outcome.retried
    );
    assert_eq!(
        outcome.made.len() as i32,
        QUOTA,
        "the quota is used, not more"
    );

    let alive: Vec<_> = replicas.iter().filter(|r| r.alive()).collect();
    let mut grants = GrantsServiceClient::new(alive[0].channel().await);
    let asked = GetQuotaRequest {
        region_kato: REGION.into(),
        year: this_year(),
    };
    let quota = grants.get_quota(with_token(asked, &shared.token)).await;
    let quota = quota.unwrap().into_inner().quota.unwrap();
    assert_eq!(quota.allowances_approved, QUOTA, "no overrun");

    let stream = format!("{prefix}_GRANTS").to_uppercase();
    shared.behave_as_one(&alive, &stream).await;
}
