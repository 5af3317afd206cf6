//! The gateway when backends fail or misbehave: a backend down or hung costs
//! only its section and comes back by itself; reads go around a dead endpoint;
//! an answer the gateway cannot read is not sent again; health says which
//! backend is missing; callers' open streams are capped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aimaq_auth::Scope;
use aimaq_e2e::scenario::{VILLAGE, channel};
use aimaq_e2e::system::{System, black_hole, generous, start_gateway, start_gateway_with};
use aimaq_gateway::{BackendsConfig, Targets};
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use aimaq_proto::gateway::v1::*;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use aimaq_server::GrpcServer;
use aimaq_testing::{TestDatabase, TestServer, TestTokens, with_token};
use tokio::net::TcpListener;
use tonic::Code;
use tonic::body::Body;
use tonic::server::NamedService;

fn ok(status: &Option<SectionStatus>) -> bool {
    status
        .as_ref()
        .is_some_and(|s| s.state() == SectionState::Ok)
}

fn settlement_request(
    token: &str,
    deadline: Duration,
) -> tonic::Request<GetSettlementProfileRequest> {
    let mut request = with_token(
        GetSettlementProfileRequest {
            kato: VILLAGE.into(),
        },
        token,
    );
    request.set_timeout(deadline);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_down_or_hung_costs_only_its_section() {
    let mut system = System::start().await;
    let gateway = system.gateway(system.targets(), generous(), None).await;
    let token = system.tokens.admin();
    let mut views = GatewayServiceClient::new(channel(&gateway).await);
    let answer = views
        .get_settlement_profile(settlement_request(&token, Duration::from_secs(3)))
        .await
        .unwrap()
        .into_inner();
    assert!(ok(&answer.grants.unwrap().status));

    // Grants stopped: its section is unavailable, the rest is answered.
    drop(system.grants.take());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let answer = views
        .get_settlement_profile(settlement_request(&token, Duration::from_secs(3)))
        .await
        .unwrap()
        .into_inner();
    assert!(started.elapsed() < Duration::from_secs(3));
    let grants = answer.grants.unwrap().status.unwrap();
    assert_eq!(grants.state(), SectionState::Unavailable, "{grants:?}");
    let budget = answer.budget.unwrap().status;
    assert!(ok(&budget), "{budget:?}");
    let governance = answer.governance.unwrap().status;
    assert!(ok(&governance), "{governance:?}");
    assert_eq!(answer.territory.unwrap().kato, VILLAGE);
    // Forwarded calls to it say UNAVAILABLE, which callers retry.
    let forwarded = GrantsServiceClient::new(channel(&gateway).await)
        .get_mci_rate(with_token(GetMciRateRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(forwarded.code(), Code::Unavailable);

    // Grants back on its address: full answers again, the gateway untouched.
    system.restart_grants().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = views
            .get_settlement_profile(settlement_request(&token, Duration::from_secs(3)))
            .await
            .unwrap()
            .into_inner();
        if ok(&answer.grants.unwrap().status) {
            break;
        }
        assert!(Instant::now() < deadline, "grants did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Budget hung (accepts, never answers): the view still comes within the
    // caller's deadline, budget's section unavailable.
    let (hung, _hole) = black_hole().await;
    let mut backends = system.targets();
    backends.budget_url = Targets::Fixed(vec![format!("https://{hung}")]);
    let hung_gateway = system.gateway(backends, generous(), None).await;
    let mut views = GatewayServiceClient::new(channel(&hung_gateway).await);
    let started = Instant::now();
    let answer = views
        .get_settlement_profile(settlement_request(&token, Duration::from_millis(1500)))
        .await
        .unwrap()
        .into_inner();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        answer.budget.unwrap().status.unwrap().state(),
        SectionState::Unavailable
    );
    assert!(ok(&answer.grants.unwrap().status));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_around_an_endpoint_that_is_down() {
    let system = System::start().await;
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut backends = system.targets();
    backends.governance_url =
        Targets::Fixed(vec![format!("https://{dead}"), system.governance.url()]);
    let gateway = system.gateway(backends, generous(), None).await;
    let token = system.tokens.admin();
    let mut governance = GovernanceServiceClient::new(channel(&gateway).await);
    for _ in 0..40 {
        governance
            .get_territory(with_token(
                GetTerritoryRequest {
                    kato: VILLAGE.into(),
                    include_ancestors: false,
                },
                &token,
            ))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refused_at_the_gateway_itself() {
    // Backends that never answer: whatever is refused was refused by the gateway.
    let tokens = TestTokens::new();
    let (hole, _task) = black_hole().await;
    let url = || Targets::Fixed(vec![format!("https://{hole}")]);
    let backends = BackendsConfig {
        governance_url: url(),
        budget_url: url(),
        grants_url: url(),
        backend_connections: 1,
        backend_timeout: Duration::from_secs(1),
        view_max_age: Duration::ZERO,
        view_cache_entries: aimaq_gateway::VIEW_CACHE_ENTRIES,
        view_cache_bytes: aimaq_gateway::VIEW_CACHE_BYTES,
    };
    let gateway = start_gateway(&tokens, backends, generous(), None).await;
    let mut budget = BudgetServiceClient::new(channel(&gateway).await);
    let started = Instant::now();
    let anonymous = budget
        .get_program(GetProgramRequest {
            code: "AUYL_EL_BESIGI".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let other_keys = TestTokens::new().admin();
    let foreign = budget
        .get_program(with_token(
            GetProgramRequest {
                code: "AUYL_EL_BESIGI".into(),
            },
            &other_keys,
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::Unauthenticated);
    assert!(started.elapsed() < Duration::from_millis(500));
}

/// A budget service that counts its calls and answers each with an error
/// whose message is larger than any header list the gateway reads.
#[derive(Clone, Default)]
struct Oversize {
    calls: Arc<AtomicUsize>,
}

impl NamedService for Oversize {
    const NAME: &'static str = aimaq_proto::budget::v1::budget_service_server::SERVICE_NAME;
}

impl tower::Service<http::Request<Body>> for Oversize {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "13")
            .header("grpc-message", "x".repeat(64 * 1024))
            .body(Body::empty())
            .unwrap();
        std::future::ready(Ok(response))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_the_gateway_cannot_read_is_not_sent_again() {
    let system = System::start().await;
    let oversize = Oversize::default();
    let service = oversize.clone();
    let fake = TestServer::start(
        TestDatabase::sqlite().await,
        &system.tokens,
        move |config, listener, shutdown| async move {
            let tls = aimaq_tls::Tls::from_config(&config.tls).map_err(|e| e.to_string())?;
            GrpcServer::new("oversize", config.limits)
                .tls(tls.server)
                .add_service(service)
                .serve(listener, shutdown)
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    let mut backends = system.targets();
    backends.budget_url = Targets::Fixed(vec![fake.url()]);
    let gateway = system.gateway(backends, generous(), None).await;
    let mut budget = BudgetServiceClient::new(channel(&gateway).await);
    let token = system.tokens.admin();
    let read = || {
        with_token(
            GetProgramRequest {
                code: "AUYL_EL_BESIGI".into(),
            },
            &token,
        )
    };
    for expected_calls in 1..=3 {
        let failed = budget.get_program(read()).await.unwrap_err();
        // Not UNAVAILABLE: the caller is not told to retry what ran.
        assert_eq!(failed.code(), Code::Internal, "{failed:?}");
        assert!(failed.message().contains("not retried"), "{failed:?}");
        assert_eq!(oversize.calls.load(Ordering::SeqCst), expected_calls);
    }
}

async fn health(server: &TestServer, service: &str) -> bool {
    aimaq_server::is_serving(&server.url(), &server.client, service).await
}

async fn eventually(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_health_names_the_backend_it_cannot_reach() {
    let mut system = System::start().await;
    let gateway = start_gateway_with(&system.tokens, system.targets(), generous(), |limits| {
        limits.health_interval = Duration::from_millis(100);
    })
    .await;
    let grants = aimaq_proto::grants::v1::grants_service_server::SERVICE_NAME;
    let budget = aimaq_proto::budget::v1::budget_service_server::SERVICE_NAME;
    let views = aimaq_proto::gateway::v1::gateway_service_server::SERVICE_NAME;
    assert!(health(&gateway, grants).await);

    drop(system.grants.take());
    eventually("grants NOT_SERVING", async || {
        !health(&gateway, grants).await
    })
    .await;
    assert!(
        !health(&gateway, "").await,
        "the gateway as a whole lacks grants"
    );
    assert!(health(&gateway, budget).await);
    assert!(health(&gateway, views).await, "the views answer in part");

    system.restart_grants().await;
    eventually("grants SERVING again", async || {
        health(&gateway, grants).await
    })
    .await;
    eventually("the gateway SERVING again", async || {
        health(&gateway, "").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_caps_each_callers_open_streams() {
    let system = System::start().await;
    let gateway = start_gateway_with(&system.tokens, system.targets(), generous(), |limits| {
        limits.max_streams_per_caller = 2;
    })
    .await;
    let budget = BudgetServiceClient::new(channel(&gateway).await);
    let watch = |token: String| {
        let mut budget = budget.clone();
        async move {
            budget
                .watch_changes(with_token(
                    aimaq_proto::budget::v1::WatchChangesRequest::default(),
                    &token,
                ))
                .await
        }
    };
    let token = system.tokens.token("watcher", &[Scope::BudgetRead], None);
    let first = watch(token.clone()).await.unwrap().into_inner();
    let _second = watch(token.clone()).await.unwrap().into_inner();
    let refused = watch(token.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("watcher holds its limit of 2"),
        "{refused:?}"
    );
    let other = system.tokens.token("another", &[Scope::BudgetRead], None);
    let _other = watch(other).await.unwrap();

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match watch(token.clone()).await {
            Ok(_) => break,
            Err(status) if status.code() == Code::ResourceExhausted => {
                assert!(Instant::now() < deadline, "a closed stream kept its place");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    }
}
