//! One server assembly for every Aimaq service: the service's gRPC API behind
//! token verification, `grpc.health.v1`, server reflection (v1 and v1alpha),
//! tower layers for telemetry, load shedding, a concurrency limit and request
//! timeouts, and a graceful shutdown that reports NOT_SERVING, stops accepting and
//! drains in-flight calls within a bounded grace period. A server open to
//! browsers also answers gRPC-Web, over HTTP/1.1 as well.

mod browsers;
mod deadline;
mod health;
mod localize;
mod streams;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aimaq_config::LimitsConfig;
use aimaq_telemetry::RpcTelemetryLayer;
use aimaq_tls::{Outbound, ServerTls};
pub use aimaq_transcode::grpc_timeout;
pub use browsers::parse_origin;
use deadline::DeadlineLayer;
pub use health::{HealthCheck, Verdict, serving};
pub use streams::{Permitted, StreamLimits, StreamPermit};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::util::MapErrLayer;
use tower::{Service, ServiceBuilder};

/// How long a server keeps a client's connection, so that new replicas receive
/// load. It then starts closing it and closes it outright after the grace. Under
/// steady load the client goes on opening calls on it until then, and the calls
/// still running are cut off (measured in the gateway's tests): a client that can
/// should replace its connections before this age, as the gateway does.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(300);
const MAX_CONNECTION_AGE_GRACE: Duration = Duration::from_secs(30);
/// The largest header list a request may carry: a token, a forwarded
/// certificate and trace context fit many times over.
const MAX_HEADER_LIST_BYTES: u32 = 32 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("reflection: {0}")]
    Reflection(String),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("server task: {0}")]
    Task(String),
}

/// A gRPC server being assembled.
pub struct GrpcServer {
    name: &'static str,
    limits: LimitsConfig,
    tls: Option<Arc<ServerTls>>,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    draining: watch::Sender<bool>,
    health_check: Option<HealthCheck>,
    observed_health: Vec<&'static str>,
    /// Open to browsers, with the origins whose pages may call.
    browsers: Option<Vec<http::HeaderValue>>,
    /// The HTTP/JSON API, transcoded to the gRPC services on the same port.
    json: Option<Arc<aimaq_transcode::JsonApi>>,
}

impl GrpcServer {
    /// `name` labels logs and metrics (`governance`, `budget`, …).
    pub fn new(name: &'static str, limits: LimitsConfig) -> GrpcServer {
        let (draining, _) = watch::channel(false);
        GrpcServer {
            name,
            limits,
            tls: None,
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            draining,
            health_check: None,
            observed_health: Vec::new(),
            browsers: None,
            json: None,
        }
    }

    /// Serves through TLS with these settings (`None`: plaintext).
    pub fn tls(mut self, tls: Option<Arc<ServerTls>>) -> GrpcServer {
        self.tls = tls;
        self
    }

    /// Answers gRPC-Web as well as gRPC, over HTTP/1.1 too, and lets pages of
    /// `origins` call (CORS; none: only pages of no other origin).
    pub fn browsers(mut self, origins: Vec<http::HeaderValue>) -> GrpcServer {
        self.browsers = Some(origins);
        self
    }

    /// Answers HTTP/JSON (HTTP/1.1 and HTTP/2) on the same port, each call
    /// transcoded into a gRPC call that passes every layer a gRPC call does.
    pub fn http_json(mut self, api: Arc<aimaq_transcode::JsonApi>) -> GrpcServer {
        self.json = Some(api);
        self
    }

    /// Reports health by `check`, run every `--health-interval` while serving.
    pub fn health_check(mut self, check: HealthCheck) -> GrpcServer {
        self.health_check = Some(check);
        self
    }

    /// More names the health check reports on, which do not make the server
    /// itself NOT_SERVING: the logs it witnesses.
    pub fn observed_health(mut self, names: Vec<&'static str>) -> GrpcServer {
        self.observed_health = names;
        self
    }

    /// The caps on this server's open streams, for the services that stream.
    pub fn stream_limits(&self) -> StreamLimits {
        StreamLimits::new(self.limits.max_streams_per_caller, self.limits.max_streams)
    }

    /// Turns true when the server starts draining: long-lived streams (change
    /// feeds) end on it so they do not hold the drain open.
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    pub fn limits(&self) -> &LimitsConfig {
        &self.limits
    }

    /// Adds a service; health reports it SERVING while the server runs.
    pub fn add_service<S>(mut self, service: S) -> GrpcServer
    where
        S: Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Reflection over every Aimaq proto, listing only what this server serves.
    fn reflection(&self) -> tonic_reflection::server::Builder<'static> {
        self.service_names.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(aimaq_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .with_service_name("grpc.health.v1.Health"),
            |builder, name| builder.with_service_name(*name),
        )
    }

    /// Serves on `listener` until `shutdown` completes, then drains.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        self.report(&health, ServingStatus::Serving).await;
        let checker = self.health_check.clone().map(|check| {
            tokio::spawn(health::keep_checking(
                self.name,
                check,
                self.limits.health_interval,
                (self.service_names.clone(), self.observed_health.clone()),
                health.clone(),
            ))
        });
        let mut routes = std::mem::take(&mut self.routes);
        routes
            .add_service(health_service)
            .add_service(self.reflection().build_v1().map_err(reflection_error)?)
            .add_service(
                self.reflection()
                    .build_v1alpha()
                    .map_err(reflection_error)?,
            );

        let address = listener.local_addr().ok();
        let tls = if self.tls.is_some() {
            "TLS"
        } else {
            "plaintext"
        };
        let incoming = aimaq_tls::incoming(listener, self.tls.clone());
        let (stop_accepting, stopped) = tokio::sync::oneshot::channel::<()>();
        // Browsers' CORS outermost, for every call a page may make. HTTP/JSON
        // next: a transcoded call is a gRPC call to every layer within, and
        // gRPC-Web (which refuses other HTTP/1.1 requests) sees only gRPC-Web
        // and gRPC. Then gRPC-Web, so that every layer within sees a gRPC
        // call and its trailers, whichever protocol the caller spoke.
        let cors = self.browsers.as_deref().map(browsers::cors);
        let json = self.json.clone().map(aimaq_transcode::JsonLayer::new);
        let grpc_web = self
            .browsers
            .as_ref()
            .map(|_| tonic_web::GrpcWebLayer::new());
        let layers = ServiceBuilder::new()
            .option_layer(cors)
            .option_layer(json)
            .option_layer(grpc_web)
            .layer(RpcTelemetryLayer::new(self.name))
            // Outside the deadline and the shedding, so their refusals too
            // are in the caller's language.
            .layer(localize::LocalizeLayer)
            .layer(MapErrLayer::new(overload_as_unavailable))
            .layer(DeadlineLayer::new(self.limits.request_timeout))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(
                self.limits.concurrency_limit,
            ));
        let server = self
            .transport()
            .layer(layers)
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            });
        tracing::info!(server = self.name, ?address, tls, "serving");

        // Spawned, so that it keeps accepting while health reports NOT_SERVING.
        let mut server = tokio::spawn(server);
        tokio::select! {
            joined = &mut server => return flatten(joined),
            () = shutdown => {}
        }

        tracing::info!(server = self.name, "shutting down: reporting NOT_SERVING");
        if let Some(checker) = checker {
            checker.abort();
        }
        self.report(&health, ServingStatus::NotServing).await;
        tokio::time::sleep(self.limits.shutdown_delay).await;
        let _ = stop_accepting.send(());
        self.draining.send_replace(true);
        self.drain(server).await
    }

    /// Reports every service, and the server as a whole, as `status`.
    async fn report(&self, health: &tonic_health::server::HealthReporter, status: ServingStatus) {
        for service in &self.service_names {
            health.set_service_status(*service, status).await;
        }
        health.set_service_status("", status).await;
    }

    /// The transport with its HTTP/2 limits.
    fn transport(&self) -> Server {
        Server::builder()
            .accept_http1(self.browsers.is_some() || self.json.is_some())
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            // HTTP/2's own limits, which are unbounded by default: streams at
            // once on one connection, and the size of a request's headers.
            .max_concurrent_streams(self.limits.max_concurrent_streams)
            .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
            // Connections are recycled so that new replicas receive load.
            .max_connection_age(MAX_CONNECTION_AGE)
            .max_connection_age_grace(MAX_CONNECTION_AGE_GRACE)
    }

    /// Waits for the calls still running, at most the grace period.
    async fn drain(
        &self,
        mut server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    ) -> Result<(), ServerError> {
        match tokio::time::timeout(self.limits.shutdown_grace, &mut server).await {
            Ok(joined) => {
                tracing::info!(server = self.name, "drained; stopped");
                flatten(joined)
            }
            Err(_) => {
                server.abort();
                tracing::warn!(
                    server = self.name,
                    grace = ?self.limits.shutdown_grace,
                    "calls still running after the grace period are cut off"
                );
                Ok(())
            }
        }
    }
}

fn reflection_error(error: tonic_reflection::server::Error) -> ServerError {
    ServerError::Reflection(error.to_string())
}

/// A shed call is the server's overload, not the caller's quota: UNAVAILABLE, which
/// clients retry with backoff (tonic would say RESOURCE_EXHAUSTED).
fn overload_as_unavailable(error: tower::BoxError) -> tower::BoxError {
    if error.is::<tower::load_shed::error::Overloaded>() {
        Box::new(tonic::Status::unavailable(
            "the server is at its concurrency limit; retry with backoff",
        ))
    } else {
        error
    }
}

fn flatten(
    joined: Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>,
) -> Result<(), ServerError> {
    match joined {
        Ok(result) => result.map_err(ServerError::from),
        Err(error) => Err(ServerError::Task(error.to_string())),
    }
}

/// Whether the server at `url` (`https://host:port`, or `http://` where
/// `outbound` allows it) reports `service` SERVING (`""`: the server as a
/// whole), within two seconds. A probe for launchers and tests.
pub async fn is_serving(url: &str, outbound: &Outbound, service: &str) -> bool {
    health(url, outbound, service).await == Some(true)
}

/// What the server at `url` reports for `service`: SERVING (`true`) or not
/// (`false`), or `None` when it does not answer within two seconds.
pub async fn health(url: &str, outbound: &Outbound, service: &str) -> Option<bool> {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    let target = aimaq_tls::Target::parse(url, outbound).ok()?;
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    request.set_timeout(Duration::from_secs(2));
    let mut client = HealthClient::new(target.channel());
    let asked = client.check(request);
    let answer = tokio::time::timeout(Duration::from_secs(2), asked)
        .await
        .ok()?
        .ok()?;
    Some(answer.get_ref().status == ServingStatus::Serving as i32)
}

/// Completes on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The `main` of a service binary: telemetry (exported with the server's TLS
/// settings), the listener, the service's `run` until it returns, and an exit
/// code.
pub fn main<F, Fut, E>(
    name: &'static str,
    listen: std::net::SocketAddr,
    (telemetry, tls): (&aimaq_config::TelemetryConfig, &aimaq_config::TlsConfig),
    run: F,
) -> std::process::ExitCode
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = match aimaq_telemetry::init(name, telemetry, tls) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("{name}: telemetry: {error}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let listener = match TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, %listen, "cannot listen");
                return std::process::ExitCode::FAILURE;
            }
        };
        match run(listener).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "stopped with an error");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
