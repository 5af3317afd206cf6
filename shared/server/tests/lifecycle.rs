//! The protective layers and the lifecycle of the server assembly: load shedding,
//! request timeouts, and a graceful shutdown (NOT_SERVING first, then no new
//! connections, while a call in flight runs to completion within the grace period).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aimaq_config::LimitsConfig;
use aimaq_server::GrpcServer;
use http::uri::PathAndQuery;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::{NamedService, UnaryService};
use tonic::transport::Endpoint;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

const SLOW: Duration = Duration::from_millis(1500);

/// A service with one slow unary method, `/aimaq.test.v1.SlowService/Sleep`.
#[derive(Clone)]
struct SlowService;

impl NamedService for SlowService {
    const NAME: &'static str = "aimaq.test.v1.SlowService";
}

struct Sleep;

impl UnaryService<HealthCheckRequest> for Sleep {
    type Response = HealthCheckResponse;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<HealthCheckResponse>, Status>> + Send>>;

    fn call(&mut self, _: Request<HealthCheckRequest>) -> Self::Future {
        Box::pin(async {
            tokio::time::sleep(SLOW).await;
            Ok(Response::new(HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            }))
        })
    }
}

impl tower::Service<http::Request<Body>> for SlowService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(Sleep, request).await)
        })
    }
}

async fn health(url: &str) -> Option<i32> {
    let channel = Endpoint::from_shared(url.to_owned())
        .ok()?
        .connect()
        .await
        .ok()?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: SlowService::NAME.into(),
        })
        .await
        .ok()?;
    Some(answer.get_ref().status)
}

async fn sleep_call(
    channel: tonic::transport::Channel,
) -> Result<Response<HealthCheckResponse>, Status> {
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = Request::new(HealthCheckRequest::default());
    request
        .metadata_mut()
        .insert("accept-language", "ru".parse().unwrap());
    client
        .unary::<_, HealthCheckResponse, _>(
            request,
            PathAndQuery::from_static("/aimaq.test.v1.SlowService/Sleep"),
            tonic_prost::ProstCodec::default(),
        )
        .await
}

/// The refusal's localized message, asked for in Russian.
fn in_russian(status: &Status) -> String {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let message = details.localized_message().expect("a localized message");
    assert_eq!(message.locale, "ru");
    message.message.clone()
}

/// Serves the slow service with `limits` until the returned sender fires.
async fn serve(
    limits: LimitsConfig,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), aimaq_server::ServerError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        GrpcServer::new("test", limits)
            .add_service(SlowService)
            .serve(listener, async {
                let _ = stopped.await;
            }),
    );
    while health(&url).await != Some(ServingStatus::Serving as i32) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (url, stop, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_concurrency_limit_are_shed_not_queued() {
    let (url, stop, server) = serve(LimitsConfig {
        concurrency_limit: 1,
        ..LimitsConfig::default()
    })
    .await;
    let channel = Endpoint::from_shared(url).unwrap().connect().await.unwrap();
    let first = tokio::spawn(sleep_call(channel.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let shed = sleep_call(channel).await.unwrap_err();
    assert_eq!(shed.code(), tonic::Code::Unavailable, "{shed:?}");
    assert_eq!(
        in_russian(&shed),
        "Сервис временно недоступен; повторите запрос."
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused at once"
    );
    assert!(first.await.unwrap().is_ok());
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_longer_than_the_request_timeout_are_ended() {
    let (url, stop, server) = serve(LimitsConfig {
        request_timeout: Duration::from_millis(200),
        ..LimitsConfig::default()
    })
    .await;
    let channel = Endpoint::from_shared(url).unwrap().connect().await.unwrap();
    let started = Instant::now();
    let ended = sleep_call(channel).await.unwrap_err();
    assert_eq!(ended.code(), tonic::Code::DeadlineExceeded, "{ended:?}");
    assert_eq!(in_russian(&ended), "Истекло время ожидания ответа.");
    assert!(
        started.elapsed() < SLOW,
        "ended before the handler finished"
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_calls_finish_and_new_ones_are_refused() {
    let (url, stop, server) = serve(LimitsConfig {
        shutdown_grace: Duration::from_secs(5),
        shutdown_delay: Duration::from_millis(500),
        ..LimitsConfig::default()
    })
    .await;
    let channel = Endpoint::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let slow_call = tokio::spawn(sleep_call(channel));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled = Instant::now();
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        health(&url).await,
        Some(ServingStatus::NotServing as i32),
        "NOT_SERVING is reported before connections are refused"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        health(&url).await,
        None,
        "new connections are refused while draining"
    );

    let answer = slow_call
        .await
        .unwrap()
        .expect("the call in flight completes");
    assert_eq!(answer.get_ref().status, ServingStatus::Serving as i32);
    server.await.unwrap().unwrap();
    let elapsed = signalled.elapsed();
    assert!(elapsed < Duration::from_secs(5), "drained in {elapsed:?}");
    // The call began about 200 ms before the signal (a sleep, so a little more
    // on a busy machine): draining lasted the rest of it.
    assert!(
        elapsed >= SLOW - Duration::from_millis(400),
        "waited for the call: {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_returns_within_the_grace_period() {
    let (url, stop, server) = serve(LimitsConfig {
        shutdown_grace: Duration::from_millis(300),
        ..LimitsConfig::default()
    })
    .await;
    let channel = Endpoint::from_shared(url).unwrap().connect().await.unwrap();
    let slow_call = tokio::spawn(sleep_call(channel));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled = Instant::now();
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let elapsed = signalled.elapsed();
    assert!(
        elapsed < Duration::from_millis(1000),
        "bounded by the grace period: {elapsed:?}"
    );
    // The connection's own task may still finish the call in this process; a
    // server binary exits here, ending it with the runtime.
    drop(slow_call);
}
