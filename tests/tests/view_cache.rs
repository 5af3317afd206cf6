//! The gateway's recent answers: a profile is reused while it is young, and a
//! write through the gateway to the settlement's data is seen on the next
//! read, not after the answer ages out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aimaq_e2e::scenario::*;
use aimaq_e2e::system::{System, generous};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::gateway::v1::*;
use aimaq_testing::with_token;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_the_gateway_drops_the_settlements_kept_profile() {
    let system = System::start().await;
    let mut targets = system.targets();
    // Long enough that only the write can explain a fresh answer.
    targets.view_max_age = Duration::from_secs(600);
    let gateway = system.gateway(targets, generous(), None).await;
    let token = system.tokens.admin();
    let channel = channel(&gateway).await;
    let mut views = GatewayServiceClient::new(channel.clone());
    let mut budget = BudgetServiceClient::new(channel);
    let mut sufficiency = async |kato: &str| {
        let request = GetSettlementProfileRequest { kato: kato.into() };
        let profile = views
            .get_settlement_profile(with_token(request, &token))
            .await
            .unwrap()
            .into_inner();
        let overall = profile.budget.unwrap().sufficiency.unwrap().overall;
        overall.map_or((0, 0), |o| (o.applicable, o.met))
    };
    let mut record = async |id: &str, kato: &str, met: bool| {
        let request = RecordStandardStatusRequest {
            request_id: id.into(),
            settlement_kato: kato.into(),
            standard_code: "SCHOOL".into(),
            applicable: true,
            met,
        };
        budget
            .record_standard_status(with_token(request, &token))
            .await
            .unwrap();
    };

    assert_eq!(sufficiency(VILLAGE).await, (0, 0));
    record("school-unmet", VILLAGE, false).await;
    assert_eq!(
        sufficiency(VILLAGE).await,
        (1, 0),
        "the write is seen at once"
    );
    record("school-met", VILLAGE, true).await;
    assert_eq!(sufficiency(VILLAGE).await, (1, 1));
    // The same write straight to the backend, past the gateway, is not seen
    // until the answer ages: the profile above is indeed kept.
    let mut direct = BudgetServiceClient::new(aimaq_e2e::scenario::channel(&system.budget).await);
    let request = RecordStandardStatusRequest {
        request_id: "direct".into(),
        settlement_kato: VILLAGE.into(),
        standard_code: "INTERNET".into(),
        applicable: true,
        met: false,
    };
    direct
        .record_standard_status(with_token(request, &token))
        .await
        .unwrap();
    assert_eq!(
        sufficiency(VILLAGE).await,
        (1, 1),
        "kept, as written past the gateway"
    );
    // A write to another settlement leaves this one's answer kept.
    record("elsewhere", "613633200", true).await;
    assert_eq!(sufficiency(VILLAGE).await, (1, 1));
    // A write to its rural district's subtree drops it.
    record("school-unmet-again", VILLAGE, false).await;
    assert_eq!(sufficiency(VILLAGE).await, (2, 0));
}
