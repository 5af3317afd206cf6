//! The backends' APIs at the gateway's address. A forwarded call is not decoded:
//! its path, metadata (the token, the deadline, the trace), streaming bodies,
//! status and error details pass through as they are, so callers use the
//! backends' own protos against the gateway. A write is looked at on its way
//! (its first bytes, for the territories it names), and when its answer ends
//! the views it may have changed are dropped from the gateway's recent answers.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

use aimaq_link::{Backend, BackendChannel};

use crate::api::Views;
use crate::domain::written::{LOOKED_AT, katos_in};

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
    views: Views,
    api: PhantomData<fn() -> A>,
}

impl<A> Forward<A> {
    pub fn new(backend: Arc<Backend>, views: Views) -> Forward<A> {
        Forward {
            backend: BackendChannel(backend),
            views,
            api: PhantomData,
        }
    }
}

impl<A> Clone for Forward<A> {
    fn clone(&self) -> Forward<A> {
        Forward {
            backend: self.backend.clone(),
            views: self.views.clone(),
            api: PhantomData,
        }
    }
}

/// Whether the method at `path` (`/package.Service/Method`) may change data:
/// every one but the reads.
fn writes(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or_default();
    !["Get", "List", "Watch", "Export", "Verify"]
        .iter()
        .any(|read| method.starts_with(read))
}

/// The first bytes of a request, as far as [`LOOKED_AT`]; `None` once more
/// came than that.
type Seen = Arc<Mutex<Option<Vec<u8>>>>;

/// A request body that keeps a copy of its first bytes as they pass.
fn looked(inner: Body, seen: Seen) -> Body {
    Body::new(inner.map_frame(move |frame: Frame<Bytes>| {
        if let Some(data) = frame.data_ref()
            && let Ok(mut seen) = seen.lock()
        {
            let full = seen
                .as_ref()
                .is_some_and(|s| s.len() + data.len() > LOOKED_AT);
            match seen.as_mut() {
                Some(_) if full => *seen = None,
                Some(bytes) => bytes.extend_from_slice(data),
                None => {}
            }
        }
        frame
    }))
}

/// A response body that, when its answer ends (as its trailers pass, before
/// they go out, or when it is dropped), drops the views the write may have
/// changed.
fn answered(inner: Body, seen: Seen, views: Views) -> Body {
    let mut written = Written(Some((seen, views)));
    Body::new(inner.map_frame(move |frame: Frame<Bytes>| {
        if frame.is_trailers() {
            written.done();
        }
        frame
    }))
}

/// A write whose views are still to be dropped: once, at the latest when it
/// is dropped with the answer's body.
struct Written(Option<(Seen, Views)>);

impl Written {
    fn done(&mut self) {
        if let Some((seen, views)) = self.0.take() {
            let seen = seen.lock().ok().and_then(|seen| seen.clone());
            views.written(seen.as_deref().and_then(katos_in).as_deref());
        }
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        self.done();
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
        if !writes(request.uri().path()) {
            return self.backend.call(request);
        }
        let seen: Seen = Arc::new(Mutex::new(Some(Vec::new())));
        let looked_at = Arc::clone(&seen);
        let request = request.map(|inner| looked(inner, looked_at));
        let views = self.views.clone();
        let answer = self.backend.call(request);
        Box::pin(async move {
            let answer = answer.await?;
            Ok(answer.map(|inner| answered(inner, seen, views)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::writes;

    #[test]
    fn reads_are_told_from_writes_by_their_method() {
        for read in [
            "/aimaq.budget.v1.BudgetService/GetSufficiency",
            "/aimaq.budget.v1.BudgetService/ListProjects",
            "/aimaq.budget.v1.BudgetService/ExportAllocations",
            "/aimaq.grants.v1.GrantsService/WatchChanges",
            "/aimaq.grants.v1.GrantsService/VerifyAuditLog",
        ] {
            assert!(!writes(read), "{read}");
        }
        for write in [
            "/aimaq.budget.v1.BudgetService/RecordStandardStatus",
            "/aimaq.grants.v1.GrantsService/DecideApplication",
            "/aimaq.governance.v1.GovernanceService/UpsertTerritory",
        ] {
            assert!(writes(write), "{write}");
        }
    }
}
