//! The backends' APIs at the gateway's address. A forwarded call is not decoded:
//! its path, metadata (the token, the deadline, the trace), streaming bodies,
//! status and error details pass through as they are, so callers use the
//! backends' own protos against the gateway.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

use aimaq_link::{Backend, BackendChannel};

/// A backend API, by its full gRPC service name (as its generated server names it).
pub trait BackendApi: Send + Sync + 'static {
    const NAME: &'static str;
}

pub struct GovernanceApi;
pub struct BudgetApi;
pub struct GrantsApi;

impl BackendApi for GovernanceApi {
    const NAME: &'static str = aimaq_proto::governance::v1::governance_service_server::SERVICE_NAME;
}

impl BackendApi for BudgetApi {
    const NAME: &'static str = aimaq_proto::budget::v1::budget_service_server::SERVICE_NAME;
}

impl BackendApi for GrantsApi {
    const NAME: &'static str = aimaq_proto::grants::v1::grants_service_server::SERVICE_NAME;
}

/// Serves the API `A` by sending every call on to its backend.
pub struct Forward<A> {
    backend: BackendChannel,
    api: PhantomData<fn() -> A>,
}

impl<A> Forward<A> {
    pub fn new(backend: Arc<Backend>) -> Forward<A> {
        Forward {
            backend: BackendChannel(backend),
            api: PhantomData,
        }
    }
}

impl<A> Clone for Forward<A> {
    fn clone(&self) -> Forward<A> {
        Forward {
            backend: self.backend.clone(),
            api: PhantomData,
        }
    }
}

impl<A: BackendApi> NamedService for Forward<A> {
    const NAME: &'static str = A::NAME;
}

impl<A> Service<http::Request<Body>> for Forward<A> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = <BackendChannel as Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.backend.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.backend.call(request)
    }
}
