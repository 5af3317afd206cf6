//! HTTP/JSON at the gateway, as an agency's back office would call it: the
//! same data and the same refusals as the same RPCs over gRPC, for the
//! gateway's views and for each backend; streams as NDJSON and Server-Sent
//! Events; a client stream from a JSON array; the OpenAPI document and page.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aimaq_e2e::scenario::*;
use aimaq_e2e::system::{System, generous};
use aimaq_gateway::RateConfig;
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::{
    ExportAllocationsRequest, GetExecutionReportRequest, ListProgramsRequest,
};
use aimaq_proto::gateway::v1::GetSettlementProfileRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::governance::v1::GetTerritoryRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::grants::v1::GetStatisticsRequest;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_testing::with_token;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value, json};
use tonic::transport::Channel;
use tower::{Service, ServiceExt};

mod streams;
mod transport;

/// What an HTTP call answered.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// An HTTP request to the gateway: `body` as JSON when given.
fn request(
    method: Method,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> Request<tonic::body::Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            builder = builder.header("content-type", "application/json");
            tonic::body::Body::new(http_body_util::Full::new(Bytes::from(body.to_string())))
        }
        None => tonic::body::Body::empty(),
    };
    builder.body(body).unwrap()
}

async fn send(channel: &Channel, request: Request<tonic::body::Body>) -> Answer {
    let mut channel = channel.clone();
    let answer = channel.ready().await.unwrap().call(request).await.unwrap();
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(channel: &Channel, path: &str, token: &str) -> Answer {
    send(channel, request(Method::GET, path, None, Some(token))).await
}

/// A gRPC answer as proto3 JSON, as the HTTP API writes it.
fn as_json<M: prost::Message + prost::Name>(message: &M) -> Value {
    let pool = DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).unwrap();
    let descriptor = pool.get_message_by_name(&M::full_name()).unwrap();
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).unwrap();
    serde_json::to_value(&dynamic).unwrap()
}

/// `path` over HTTP/JSON checked equal to the same call over gRPC.
async fn same_over_both<R: prost::Message + prost::Name>(
    channel: &Channel,
    token: &str,
    path: &str,
    over_grpc: impl std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
) -> Value {
    let answer = get(channel, path, token).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.headers["content-type"], "application/json");
    let expected = as_json(&over_grpc.await.unwrap().into_inner());
    assert_eq!(answer.json(), expected, "{path}");
    expected
}

async fn system_with_data() -> (System, aimaq_testing::TestServer, String, Channel) {
    let (system, gateway, token) = aimaq_e2e::system::with_every_scenario().await;
    let channel = gateway.channel().await;
    (system, gateway, token, channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_answers_as_grpc_does() {
    let (_system, _gateway, token, channel) = system_with_data().await;
    let year = this_year();

    let mut views = GatewayServiceClient::new(channel.clone());
    let asked = GetSettlementProfileRequest {
        kato: VILLAGE.into(),
    };
    let profile = same_over_both(
        &channel,
        &token,
        &format!("/v1/settlements/{VILLAGE}/profile"),
        views.get_settlement_profile(with_token(asked, &token)),
    )
    .await;
    assert!(profile["budget"]["sufficiency"].is_object(), "{profile}");

    let mut governance = GovernanceServiceClient::new(channel.clone());
    let asked = GetTerritoryRequest {
        kato: VILLAGE.into(),
        include_ancestors: true,
    };
    let territory = same_over_both(
        &channel,
        &token,
        &format!("/v1/territories/{VILLAGE}?include_ancestors=true"),
        governance.get_territory(with_token(asked, &token)),
    )
    .await;
    assert!(
        !territory["ancestors"].as_array().unwrap().is_empty(),
        "{territory}"
    );

    let mut budget = BudgetServiceClient::new(channel.clone());
    let programs = same_over_both(
        &channel,
        &token,
        "/v1/programs",
        budget.list_programs(with_token(ListProgramsRequest::default(), &token)),
    )
    .await;
    assert_eq!(programs["programs"][0]["code"], "AUYL_EL_BESIGI");
    let asked = GetExecutionReportRequest {
        program_code: "AUYL_EL_BESIGI".into(),
        from_year: year,
        to_year: year,
        territory_kato: REGION.into(),
        ..Default::default()
    };
    same_over_both(
        &channel,
        &token,
        &format!("/v1/programs/AUYL_EL_BESIGI/execution-report?fromYear={year}&to_year={year}&territory_kato={REGION}"),
        budget.get_execution_report(with_token(asked, &token)),
    )
    .await;

    let mut grants = GrantsServiceClient::new(channel.clone());
    let asked = GetStatisticsRequest {
        from_year: year - 1,
        to_year: year,
        territory_kato: REGION.into(),
        group_by: vec![1],
    };
    let dimension = aimaq_proto::grants::v1::StatisticsDimension::try_from(1)
        .unwrap()
        .as_str_name();
    same_over_both(
        &channel,
        &token,
        &format!("/v1/grants/statistics?from_year={}&to_year={year}&territory_kato={REGION}&group_by={dimension}", year - 1),
        grants.get_statistics(with_token(asked, &token)),
    )
    .await;
}

/// A refusal's `google.rpc.Status` JSON, checked to carry the same code,
/// message and details as the same call's refusal over gRPC.
fn same_refusal(answer: &Answer, over_grpc: &tonic::Status, http: StatusCode) -> Value {
    assert_eq!(
        answer.status,
        http,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let json = answer.json();
    assert_eq!(json["code"], i32::from(over_grpc.code()));
    assert_eq!(json["message"], over_grpc.message());
    let pool = DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).unwrap();
    let status = pool.get_message_by_name("google.rpc.Status").unwrap();
    let details = DynamicMessage::decode(status, over_grpc.details()).unwrap();
    assert_eq!(
        json["details"],
        serde_json::to_value(&details).unwrap()["details"]
    );
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_refuses_as_grpc_does() {
    let system = System::start().await;
    let gateway = system.gateway(system.targets(), generous(), None).await;
    let token = system.tokens.admin();
    let channel = gateway.channel().await;
    let mut views = GatewayServiceClient::new(channel.clone());

    // The gateway's own check: 400 with the field violation.
    let answer = get(
        &channel,
        &format!("/v1/settlements/{DISTRICT}/profile"),
        &token,
    )
    .await;
    let asked = GetSettlementProfileRequest {
        kato: DISTRICT.into(),
    };
    let over_grpc = views
        .get_settlement_profile(with_token(asked, &token))
        .await
        .unwrap_err();
    let json = same_refusal(&answer, &over_grpc, StatusCode::BAD_REQUEST);
    assert_eq!(
        json["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );
    assert_eq!(json["details"][0]["fieldViolations"][0]["field"], "kato");

    // A backend's refusal through the gateway: 404 with the resource.
    let unknown = "613633999";
    let answer = get(&channel, &format!("/v1/territories/{unknown}"), &token).await;
    let asked = GetTerritoryRequest {
        kato: unknown.into(),
        include_ancestors: false,
    };
    let over_grpc = GovernanceServiceClient::new(channel.clone())
        .get_territory(with_token(asked, &token))
        .await
        .unwrap_err();
    same_refusal(&answer, &over_grpc, StatusCode::NOT_FOUND);

    // No token: 401, as UNAUTHENTICATED.
    let answer = send(&channel, request(Method::GET, "/v1/programs", None, None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["code"], 16);

    // Transcoding's own refusals name what is wrong.
    let body = json!({ "requestId": "r", "programCode": "P", "amount": "1" });
    let answer = send(
        &channel,
        request(Method::POST, "/v1/allocations", Some(&body), Some(&token)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .contains("amount"),
        "{}",
        answer.json()
    );
    let answer = get(&channel, "/v1/programs?year=soon", &token).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json()["details"][0]["fieldViolations"][0]["field"],
        "year"
    );
    let answer = get(&channel, "/v1/nowhere", &token).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = send(
        &channel,
        request(Method::DELETE, "/v1/programs", None, Some(&token)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "GET, POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_quota_is_429_with_retry_after() {
    let system = System::start().await;
    let stingy = RateConfig::local("1/1".parse().unwrap(), Vec::new());
    let gateway = system.gateway(system.targets(), stingy, None).await;
    let token = system.tokens.admin();
    let channel = gateway.channel().await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let answer = get(&channel, "/v1/programs", &token).await;
        statuses.push(answer.status);
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer.json()["code"], 8);
            let wait: u64 = answer.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&wait), "{wait}");
            return;
        }
    }
    panic!("never limited: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_over_http_are_idempotent() {
    let (_system, _gateway, token, channel) = system_with_data().await;
    let year = this_year();
    let body = json!({
        "requestId": "http-revenue",
        "fiscalYear": year,
        "source": "REVENUE_SOURCE_LAND_TAX",
        "amountTiyn": "12345",
    });
    let path = format!("/v1/territories/{RURAL_DISTRICT}/revenues");
    let first = send(
        &channel,
        request(Method::POST, &path, Some(&body), Some(&token)),
    )
    .await;
    assert_eq!(
        first.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let again = send(
        &channel,
        request(Method::POST, &path, Some(&body), Some(&token)),
    )
    .await;
    assert_eq!(again.json(), first.json());
    assert_eq!(first.json()["revenue"]["amountTiyn"], "12345");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_its_page_are_served() {
    let system = System::start().await;
    let gateway = system.gateway(system.targets(), generous(), None).await;
    let channel = gateway.channel().await;
    let token = system.tokens.admin();
    let document = get(&channel, "/openapi.json", &token).await;
    assert_eq!(document.status, StatusCode::OK);
    let document = document.json();
    assert_eq!(document["openapi"], "3.1.0");
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();
    assert_eq!(operations, 89);
    let page = send(&channel, request(Method::GET, "/docs", None, None)).await;
    assert_eq!(page.status, StatusCode::OK);
    let page = String::from_utf8(page.body.to_vec()).unwrap();
    assert!(page.contains("GetSettlementProfile") && page.contains("/v1/territories/{kato}"));
    assert!(!page.contains("<script"));
}
