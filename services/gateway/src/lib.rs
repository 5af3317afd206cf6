//! The gateway: the single ingress for agencies. It verifies tokens itself and
//! serves the aggregated views of `aimaq.gateway.v1.GatewayService`; their
//! aggregation and the forwarding of the backend APIs come with the gateway's own
//! change and answer UNIMPLEMENTED until then.

mod api;

use std::future::Future;
use std::net::SocketAddr;

use aimaq_auth::Authenticator;
use aimaq_config::{AuthConfig, LimitsConfig, TelemetryConfig};
use aimaq_proto::gateway::v1::gateway_service_server::GatewayServiceServer;
use aimaq_server::GrpcServer;
use clap::Args;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

pub use api::GatewayApi;

#[derive(Clone, Debug, Args)]
pub struct GatewayConfig {
    /// Address the gateway listens on.
    #[arg(long, env = "AIMAQ_LISTEN")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub auth: AuthConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("token public key: {0}")]
    TokenKey(#[from] aimaq_auth::KeyError),
    #[error(transparent)]
    Server(#[from] aimaq_server::ServerError),
}

/// Runs the gateway on `listener` until `shutdown` completes.
pub async fn run(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let auth = &config.auth;
    let authenticator = Authenticator::load(
        &auth.token_public_key,
        &auth.token_issuer,
        &auth.token_audience,
    )?;
    let limit = config.limits.max_message_bytes;
    let service = GatewayServiceServer::new(GatewayApi)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    GrpcServer::new("gateway", config.limits)
        .add_service(InterceptedService::new(service, authenticator))
        .serve(listener, shutdown)
        .await?;
    Ok(())
}
