//! Sending one call to a backend, and when to send it again. A call is sent
//! again only when it surely did not run (it never left, or the backend refused
//! the stream or answered UNAVAILABLE at once), or when it is a read and its
//! connection failed under it; never after an answer the gateway could not
//! read, and never beyond the retry budget, so retries cannot multiply an
//! outage or a hostile call.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use crate::{Reach, SendError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tonic::body::Body;
use tower::retry::budget::Budget;

use super::{Backend, now_millis};

/// Attempts of a call at most (the first and its retries).
const ATTEMPTS: usize = 3;
/// A unary read's answer is read whole before it is passed on, up to this
/// many bytes: a bound far above the message sizes the services allow.
const READ_ANSWER_BYTES: usize = 64 << 20;

impl Backend {
    /// Sends one gRPC call and answers with the backend's response, or with a
    /// status of the gateway's own when the backend cannot be reached.
    pub async fn send(&self, request: http::Request<Body>) -> http::Response<Body> {
        self.retries.deposit();
        if is_read(request.uri().path()) {
            self.send_read(request).await
        } else {
            self.send_write(request).await
        }
    }

    /// A write is sent again only when it never left: whether one that failed
    /// on the way was applied is not known here, and the caller's retry with
    /// the same request id is what makes that safe.
    async fn send_write(&self, request: http::Request<Body>) -> http::Response<Body> {
        let limit = self.max_request_bytes;
        let exceeded = Arc::new(AtomicBool::new(false));
        let mut request = request.map(|body| {
            Body::new(CappedBody {
                inner: body,
                remaining: limit,
                exceeded: Arc::clone(&exceeded),
            })
        });
        let mut attempt = 1;
        let answer = loop {
            match self.call(request).await {
                Err(SendError {
                    unsent: Some(unsent),
                    ..
                }) if attempt < ATTEMPTS && self.retries.withdraw() => {
                    attempt += 1;
                    tracing::debug!(backend = self.name, attempt, "sending a write again");
                    request = unsent;
                }
                answer => break answer,
            }
        };
        // The stream was cut because it grew too large, whatever the backend saw.
        if exceeded.load(Ordering::Relaxed) {
            return too_large(limit);
        }
        match answer {
            Ok(response) => response,
            Err(error) => self.failed(&error),
        }
    }

    /// A read is buffered (its request is small and unary), so it can be sent
    /// again on another connection.
    async fn send_read(&self, request: http::Request<Body>) -> http::Response<Body> {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, self.max_request_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => {
                return too_large(self.max_request_bytes);
            }
            Err(error) => {
                return tonic::Status::cancelled(format!("the request could not be read: {error}"))
                    .into_http();
            }
        };
        let unary = !is_stream(parts.uri.path());
        let mut attempt = 1;
        loop {
            let answer = match self.call(replay(&parts, body.clone())).await {
                Ok(response) if unary => read_whole(response).await,
                answer => answer,
            };
            let again = match &answer {
                Err(error) => error.reach != Reach::Unreadable,
                Ok(response) => unavailable_at_once(response),
            };
            if again && attempt < ATTEMPTS && self.retries.withdraw() {
                attempt += 1;
                tracing::debug!(backend = self.name, attempt, "retrying a read");
                continue;
            }
            return match answer {
                Ok(response) => response,
                Err(error) => self.failed(&error),
            };
        }
    }

    async fn call(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Response<Body>, SendError> {
        let Some(taken) = self.take() else {
            return Err(SendError {
                reach: Reach::NotSent,
                error: format!("no endpoint of {} is known", self.name).into(),
                unsent: Some(request),
            });
        };
        // The backend's span becomes a child of the gateway's.
        aimaq_telemetry::inject_headers(request.headers_mut());
        let answer = taken.link.send(request).await;
        if answer
            .as_ref()
            .is_err_and(|error| error.reach != Reach::Unreadable)
        {
            taken.failed_at.store(now_millis(), Ordering::Relaxed);
        }
        answer
    }

    /// The gateway's own answer for a call the backend did not answer.
    fn failed(&self, error: &SendError) -> http::Response<Body> {
        let name = self.name;
        if error.reach == Reach::Unreadable {
            tracing::error!(backend = name, error = %chain(error), "backend answer refused");
            return tonic::Status::internal(format!(
                "the {name} service's answer could not be read by the gateway; not retried"
            ))
            .into_http();
        }
        tracing::warn!(backend = name, error = %chain(error), "backend unreachable");
        tonic::Status::unavailable(format!("the {name} service cannot be reached now; retry"))
            .into_http()
    }
}

/// Reads: safe to send again. Every backend names its reads so.
fn is_read(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or_default();
    ["Get", "List", "Verify", "Export", "Watch"]
        .iter()
        .any(|prefix| method.starts_with(prefix))
}

/// The server-streaming reads, whose answers are passed on as they come.
fn is_stream(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or_default();
    ["Export", "Watch"]
        .iter()
        .any(|prefix| method.starts_with(prefix))
}

/// The answer read to its end (trailers included): a connection that fails
/// under the answer's body is then a lost call that may be sent again, not
/// a broken answer passed on.
async fn read_whole(response: http::Response<Body>) -> Result<http::Response<Body>, SendError> {
    let (parts, body) = response.into_parts();
    match Limited::new(body, READ_ANSWER_BYTES).collect().await {
        Ok(collected) => Ok(http::Response::from_parts(parts, Body::new(collected))),
        Err(error) => {
            let reach = if error.is::<LengthLimitError>() {
                Reach::Unreadable
            } else {
                Reach::Lost
            };
            Err(SendError {
                reach,
                error,
                unsent: None,
            })
        }
    }
}

/// A response that says UNAVAILABLE in its headers (no message sent yet).
fn unavailable_at_once(response: &http::Response<Body>) -> bool {
    response
        .headers()
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == b"14")
}

fn replay(parts: &http::request::Parts, body: Bytes) -> http::Request<Body> {
    let mut request = http::Request::new(Body::new(Full::new(body)));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    request
}

fn too_large(limit: usize) -> http::Response<Body> {
    aimaq_error::Error::ResourceExhausted {
        message: format!("the request is larger than the gateway's limit of {limit} bytes"),
        retry_after: None,
    }
    .into_status()
    .into_http()
}

/// A request body cut off once it carries more than `remaining` bytes; the cut
/// is recorded, since the transport reports it only as a reset stream.
struct CappedBody {
    inner: Body,
    remaining: usize,
    exceeded: Arc<AtomicBool>,
}

impl http_body::Body for CappedBody {
    type Data = Bytes;
    type Error = tower::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tower::BoxError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            match self.remaining.checked_sub(data.len()) {
                Some(remaining) => self.remaining = remaining,
                None => {
                    self.exceeded.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err("the request is over the size limit".into())));
                }
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_named_so() {
        assert!(is_read("/aimaq.budget.v1.BudgetService/GetAllocation"));
        assert!(is_read("/aimaq.budget.v1.BudgetService/ListProjects"));
        assert!(is_read("/aimaq.grants.v1.GrantsService/WatchChanges"));
        assert!(!is_read("/aimaq.budget.v1.BudgetService/CreateProject"));
        assert!(!is_read(
            "/aimaq.governance.v1.GovernanceService/ImportTerritories"
        ));
    }
}
