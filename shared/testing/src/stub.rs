//! A stand-in for the governance service that answers only `GetTerritory`,
//! for the tests and benchmarks of what calls governance. Every other RPC
//! answers UNIMPLEMENTED; the real services implement them all.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aimaq_proto::codec::ProtoCodec;
use aimaq_proto::governance::v1::{GetTerritoryRequest, GetTerritoryResponse};
use tonic::body::Body;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

const GET_TERRITORY: &str = "/aimaq.governance.v1.GovernanceService/GetTerritory";

/// How the stand-in answers one `GetTerritory` call.
pub type Answer = dyn Fn(Request<GetTerritoryRequest>) -> Result<Response<GetTerritoryResponse>, Status>
    + Send
    + Sync;

/// A governance server answering `GetTerritory` with a function of the call.
#[derive(Clone)]
pub struct GetTerritoryStub(Arc<Answer>);

impl GetTerritoryStub {
    pub fn new(
        answer: impl Fn(Request<GetTerritoryRequest>) -> Result<Response<GetTerritoryResponse>, Status>
        + Send
        + Sync
        + 'static,
    ) -> GetTerritoryStub {
        GetTerritoryStub(Arc::new(answer))
    }
}

impl NamedService for GetTerritoryStub {
    const NAME: &'static str = "aimaq.governance.v1.GovernanceService";
}

struct Unary(Arc<Answer>);

impl UnaryService<GetTerritoryRequest> for Unary {
    type Response = GetTerritoryResponse;
    type Future = std::future::Ready<Result<Response<GetTerritoryResponse>, Status>>;

    fn call(&mut self, request: Request<GetTerritoryRequest>) -> Self::Future {
        std::future::ready((self.0)(request))
    }
}

impl tower::Service<http::Request<Body>> for GetTerritoryStub {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let answer = Arc::clone(&self.0);
        Box::pin(async move {
            if request.uri().path() != GET_TERRITORY {
                let refused = Status::unimplemented("this stand-in answers GetTerritory only");
                return Ok(refused.into_http());
            }
            let mut grpc = Grpc::new(ProtoCodec::default());
            Ok(grpc.unary(Unary(answer), request).await)
        })
    }
}
