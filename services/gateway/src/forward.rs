//! The backends' APIs at the gateway's address. A forwarded call is not decoded:
//! its path, metadata (the token, the deadline, the trace), streaming bodies,
//! status and error details pass through as they are, so callers use the
//! backends' own protos against the gateway. A write is looked at on its way
//! (its first bytes, for the territories it names), and when its answer ends
//! the views it may have changed are dropped from the gateway's recent answers.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
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
struct Looked {
    inner: Body,
    seen: Seen,
}

impl http_body::Body for Looked {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref))
            && let Some(data) = data
            && let Ok(mut seen) = self.seen.lock()
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
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that, when its answer ends (trailers or the end, before
/// they go out) or is dropped, drops the views the write may have changed.
struct Answered {
    inner: Body,
    written: Option<(Seen, Views)>,
}

impl Answered {
    fn done(&mut self) {
        if let Some((seen, views)) = self.written.take() {
            let seen = seen.lock().ok().and_then(|seen| seen.clone());
            views.written(seen.as_deref().and_then(katos_in).as_deref());
        }
    }
}

impl http_body::Body for Answered {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        let ends = match &frame {
            Some(Ok(frame)) => frame.is_trailers(),
            _ => true,
        };
        if ends {
            self.done();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Answered {
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
        let looked = Arc::clone(&seen);
        let request = request.map(|inner| {
            Body::new(Looked {
                inner,
                seen: looked,
            })
        });
        let views = self.views.clone();
        let answer = self.backend.call(request);
        Box::pin(async move {
            let answer = answer.await?;
            Ok(answer.map(|inner| {
                Body::new(Answered {
                    inner,
                    written: Some((seen, views)),
                })
            }))
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
