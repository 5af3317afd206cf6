//! gRPC-Web at the gateway, as a browser's generated client speaks it: the same
//! answers and the same refusals as over gRPC, for the gateway's views and for
//! the RPCs it forwards to each backend; CORS only for the origins configured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aimaq_config::ServerConfig;
use aimaq_e2e::scenario::*;
use aimaq_e2e::system::{System, generous};
use aimaq_gateway::GatewayConfig;
use aimaq_proto::budget::v1::ListProgramsRequest;
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::gateway::v1::GetSettlementProfileRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::governance::v1::GetTerritoryRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::grants::v1::GetStatisticsRequest;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_testing::{TestDatabase, TestServer, with_token};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::BodyExt;
use prost::Message;
use tonic::transport::Channel;
use tower::{Service, ServiceExt};

const PORTAL: &str = "https://portal.example.kz";

/// The gateway in front of `system`, letting pages of [`PORTAL`] call.
async fn gateway_for_browsers(system: &System) -> TestServer {
    let backends = system.targets();
    TestServer::start(
        TestDatabase::sqlite().await,
        &system.tokens,
        move |config: ServerConfig, listener, shutdown| {
            let mut gateway = GatewayConfig::like(config, backends, generous());
            gateway.browsers.cors_origins = vec![HeaderValue::from_static(PORTAL)];
            aimaq_gateway::run(gateway, listener, shutdown)
        },
    )
    .await
}

/// What a gRPC-Web call answered: its messages, and its status with the
/// status's details (from the trailer frame, or from the headers when the
/// call failed before any message).
struct WebAnswer {
    messages: Vec<Bytes>,
    status: tonic::Status,
}

/// `message` to `path` as gRPC-Web, with `token` when given.
async fn web_call(
    channel: &Channel,
    path: &str,
    message: &impl Message,
    token: Option<&str>,
) -> WebAnswer {
    let encoded = message.encode_to_vec();
    let mut body = BytesMut::new();
    body.put_u8(0);
    body.put_u32(u32::try_from(encoded.len()).unwrap());
    body.put_slice(&encoded);
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(tonic::body::Body::new(http_body_util::Full::new(
            body.freeze(),
        )))
        .unwrap();
    let mut channel = channel.clone();
    let answer = channel.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(answer.status(), http::StatusCode::OK);
    assert_eq!(
        answer.headers()["content-type"],
        "application/grpc-web+proto"
    );
    let headers = answer.headers().clone();
    let mut body = answer.into_body().collect().await.unwrap().to_bytes();
    let mut messages = Vec::new();
    let mut trailers = headers.clone();
    while body.has_remaining() {
        let flag = body.get_u8();
        let length = usize::try_from(body.get_u32()).unwrap();
        let frame = body.split_to(length);
        if flag & 0x80 == 0 {
            messages.push(frame);
        } else {
            trailers.extend(parse_trailers(&frame));
        }
    }
    WebAnswer {
        messages,
        status: tonic::Status::from_header_map(&trailers).expect("a grpc-status"),
    }
}

/// A trailer frame: `name: value` lines, CRLF-separated.
fn parse_trailers(frame: &[u8]) -> HeaderMap {
    let text = std::str::from_utf8(frame).unwrap();
    let mut trailers = HeaderMap::new();
    for line in text.split("\r\n").filter(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        let name = http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap();
        trailers.insert(name, HeaderValue::from_str(value.trim()).unwrap());
    }
    trailers
}

/// The one message of a successful answer.
fn answered<M: Message + Default>(answer: &WebAnswer) -> M {
    assert_eq!(answer.status.code(), tonic::Code::Ok, "{:?}", answer.status);
    let [message] = answer.messages.as_slice() else {
        panic!("{} messages", answer.messages.len());
    };
    M::decode(message.clone()).unwrap()
}

/// `request` to `path` over gRPC-Web, its answer checked equal to
/// `over_grpc`'s: the same call over gRPC.
async fn same_over_both<R: Message + Default + PartialEq + std::fmt::Debug>(
    channel: &Channel,
    token: &str,
    path: &str,
    request: &impl Message,
    over_grpc: impl std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
) -> R {
    let web: R = answered(&web_call(channel, path, request, Some(token)).await);
    assert_eq!(web, over_grpc.await.unwrap().into_inner(), "{path}");
    web
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_answers_as_grpc_does() {
    let system = System::start().await;
    let gateway = gateway_for_browsers(&system).await;
    let token = system.tokens.admin();
    let channel = gateway.channel().await;
    budget_scenario(channel.clone(), &token).await;
    grants_scenario(channel.clone(), &token).await;
    governance_scenario(channel.clone(), &token).await;

    // The gateway's own view.
    let asked = GetSettlementProfileRequest {
        kato: VILLAGE.into(),
    };
    let mut views = GatewayServiceClient::new(channel.clone());
    let over_grpc = views.get_settlement_profile(with_token(asked.clone(), &token));
    let path = "/aimaq.gateway.v1.GatewayService/GetSettlementProfile";
    let profile = same_over_both(&channel, &token, path, &asked, over_grpc).await;
    assert!(profile.budget.as_ref().unwrap().sufficiency.is_some());

    // An RPC forwarded to each backend.
    let territory = GetTerritoryRequest {
        kato: VILLAGE.into(),
        include_ancestors: true,
    };
    let mut governance = GovernanceServiceClient::new(channel.clone());
    let over_grpc = governance.get_territory(with_token(territory.clone(), &token));
    let path = "/aimaq.governance.v1.GovernanceService/GetTerritory";
    same_over_both(&channel, &token, path, &territory, over_grpc).await;

    let programs = ListProgramsRequest::default();
    let mut budget = BudgetServiceClient::new(channel.clone());
    let over_grpc = budget.list_programs(with_token(programs.clone(), &token));
    let path = "/aimaq.budget.v1.BudgetService/ListPrograms";
    let listed = same_over_both(&channel, &token, path, &programs, over_grpc).await;
    assert!(!listed.programs.is_empty());

    let year = this_year();
    let statistics = GetStatisticsRequest {
        from_year: year - 1,
        to_year: year,
        territory_kato: VILLAGE.into(),
        group_by: Vec::new(),
    };
    let mut grants = GrantsServiceClient::new(channel.clone());
    let over_grpc = grants.get_statistics(with_token(statistics.clone(), &token));
    let path = "/aimaq.grants.v1.GrantsService/GetStatistics";
    same_over_both(&channel, &token, path, &statistics, over_grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_refuses_as_grpc_does() {
    let system = System::start().await;
    let gateway = gateway_for_browsers(&system).await;
    let token = system.tokens.admin();
    let channel = gateway.channel().await;
    let views = || GatewayServiceClient::new(channel.clone());
    let path = "/aimaq.gateway.v1.GatewayService/GetSettlementProfile";

    // Refused by the gateway's own check, with the field named.
    let district = GetSettlementProfileRequest {
        kato: "613600000".into(),
    };
    let web = web_call(&channel, path, &district, Some(&token)).await;
    let over_grpc = views()
        .get_settlement_profile(with_token(district.clone(), &token))
        .await
        .unwrap_err();
    assert_eq!(web.status.code(), tonic::Code::InvalidArgument);
    assert_eq!(web.status.code(), over_grpc.code());
    assert_eq!(web.status.message(), over_grpc.message());
    assert_eq!(web.status.details(), over_grpc.details());
    assert!(web.messages.is_empty());

    // Refused by a backend, through the gateway.
    let unknown = GetTerritoryRequest {
        kato: "613633999".into(),
        include_ancestors: false,
    };
    let backend_path = "/aimaq.governance.v1.GovernanceService/GetTerritory";
    let web = web_call(&channel, backend_path, &unknown, Some(&token)).await;
    let over_grpc = GovernanceServiceClient::new(channel.clone())
        .get_territory(with_token(unknown, &token))
        .await
        .unwrap_err();
    assert_eq!(web.status.code(), tonic::Code::NotFound);
    assert_eq!(web.status.details(), over_grpc.details());

    // No token: refused at the gateway itself.
    let web = web_call(&channel, path, &district, None).await;
    let over_grpc = views()
        .get_settlement_profile(tonic::Request::new(district))
        .await
        .unwrap_err();
    assert_eq!(web.status.code(), tonic::Code::Unauthenticated);
    assert_eq!(web.status.code(), over_grpc.code());
}

/// A browser's preflight from `origin`, and the origin the answer allows.
async fn preflight(channel: &Channel, origin: &str) -> Option<HeaderValue> {
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri("/aimaq.gateway.v1.GatewayService/GetSettlementProfile")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-grpc-web",
        )
        .body(tonic::body::Body::empty())
        .unwrap();
    let mut channel = channel.clone();
    let answer = channel.ready().await.unwrap().call(request).await.unwrap();
    answer.headers().get("access-control-allow-origin").cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_origins_may_call_from_a_page() {
    let system = System::start().await;
    let open = gateway_for_browsers(&system).await;
    let channel = open.channel().await;
    assert_eq!(preflight(&channel, PORTAL).await.unwrap(), PORTAL);
    assert_eq!(preflight(&channel, "https://elsewhere.example").await, None);

    // By default no origin is allowed.
    let closed = system.gateway(system.targets(), generous(), None).await;
    assert_eq!(preflight(&closed.channel().await, PORTAL).await, None);
}
