//! The request timeout, applied inside the telemetry layer so that a call cut off
//! is counted and answered as DEADLINE_EXCEEDED. A caller's shorter `grpc-timeout`
//! wins over the configured limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{BoxError, Layer, Service};

/// How much sooner than a caller's `grpc-timeout` the call is cut off:
/// tonic's own timer on that header, started a little earlier, would
/// otherwise sometimes fire first and answer CANCELLED instead.
const CALLER_MARGIN: Duration = Duration::from_millis(5);

#[derive(Clone, Copy, Debug)]
pub struct DeadlineLayer {
    limit: Duration,
}

impl DeadlineLayer {
    pub fn new(limit: Duration) -> DeadlineLayer {
        DeadlineLayer { limit }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
}

impl<S, B> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let limit = grpc_timeout(request.headers()).map_or(self.limit, |asked| {
            asked.saturating_sub(CALLER_MARGIN).min(self.limit)
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(limit, response).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(Box::new(tonic::Status::deadline_exceeded(format!(
                    "the call did not finish within {limit:?}"
                ))) as BoxError),
            }
        })
    }
}

/// The caller's deadline from the `grpc-timeout` header: up to 8 digits and a unit
/// (H, M, S, m, u, n).
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        headers
    }

    #[test]
    fn caller_deadlines_are_read_in_every_unit() {
        assert_eq!(grpc_timeout(&header("2H")), Some(Duration::from_secs(7200)));
        assert_eq!(grpc_timeout(&header("3M")), Some(Duration::from_secs(180)));
        assert_eq!(grpc_timeout(&header("5S")), Some(Duration::from_secs(5)));
        assert_eq!(
            grpc_timeout(&header("250m")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(grpc_timeout(&header("7u")), Some(Duration::from_micros(7)));
        assert_eq!(grpc_timeout(&header("9n")), Some(Duration::from_nanos(9)));
    }

    #[test]
    fn malformed_deadlines_are_ignored() {
        for bad in ["", "S", "123456789S", "5x", "-5S", "5"] {
            assert_eq!(grpc_timeout(&header(bad)), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }
}
