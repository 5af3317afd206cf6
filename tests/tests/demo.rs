//! The stack's demo data holds the facts of the design brief.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_stack::{Stack, StackOptions};
use tonic::Request;

fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_demo_data_holds_the_facts() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = StackOptions::ephemeral(dir.path());
    options.classifier =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/kato-2022.csv");
    let stack = Stack::start(&options).await.unwrap();
    let token = stack.admin_token.clone();
    let governance = stack
        .endpoints
        .iter()
        .find(|e| e.service == "governance")
        .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(governance.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = GovernanceServiceClient::new(channel);

    let alatau = client
        .get_territory(authorized(
            GetTerritoryRequest {
                kato: "192000000".into(),
                include_ancestors: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .territory
        .unwrap();
    assert!(alatau.growth_points.unwrap().special_economic_zone);

    let pilot = client
        .list_elections(authorized(
            ListElectionsRequest {
                pilot_only: true,
                year: 2023,
                ..ListElectionsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pilot.elections.len(), 5);
    assert!(
        pilot
            .elections
            .iter()
            .all(|e| e.status == ElectionStatus::Certified as i32)
    );

    let revenue = client
        .get_revenue_summary(authorized(
            GetRevenueSummaryRequest {
                territory_kato: "610000000".into(),
                from_year: 2019,
                to_year: 2024,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let growth = revenue.growth_factor_bp;
    assert_eq!(growth, 35_000, "3.5-fold");

    let sufficiency = client
        .list_indicators(authorized(
            ListIndicatorsRequest {
                territory_kato: "610000000".into(),
                kinds: vec![IndicatorKind::StandardsSufficiency as i32],
                ..ListIndicatorsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let values: Vec<(i32, i64)> = sufficiency
        .indicators
        .iter()
        .map(|i| (i.year, i.value_bp))
        .collect();
    assert_eq!(values, [(2026, 6400), (2028, 7000)]);
    stack.stop().await.unwrap();
}
