//! The gateway's own RPCs. The aggregated views come with the gateway's own
//! change; until then tonic answers them UNIMPLEMENTED.

use aimaq_proto::gateway::v1::gateway_service_server::GatewayService;

#[derive(Clone, Copy, Debug, Default)]
pub struct GatewayApi;

#[tonic::async_trait]
impl GatewayService for GatewayApi {}
