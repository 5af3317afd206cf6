//! A tower layer around every gRPC server: one span per call (child of the
//! caller's trace), its trace id in every log line, and per-method metrics —
//! request count by status code and latency — measured to the end of the response
//! stream.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame};
use opentelemetry::trace::TraceContextExt;
use tonic::Code;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::propagation::extract_context;

/// The full method of the call being served (`/package.Service/Method`), put in
/// the request's extensions for handlers that record what was called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcMethod(pub String);

#[derive(Clone, Copy, Debug)]
pub struct RpcTelemetryLayer {
    service: &'static str,
}

impl RpcTelemetryLayer {
    /// `service` labels the metrics and logs (`governance`, `budget`, …).
    pub fn new(service: &'static str) -> RpcTelemetryLayer {
        RpcTelemetryLayer { service }
    }
}

impl<S> Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetryService<S>;

    fn layer(&self, inner: S) -> RpcTelemetryService<S> {
        RpcTelemetryService {
            inner,
            service: self.service,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RpcTelemetryService<S> {
    inner: S,
    service: &'static str,
}

impl<S, B> Service<http::Request<B>> for RpcTelemetryService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Into<tower::BoxError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        request.extensions_mut().insert(RpcMethod(method.clone()));
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %method,
            service = self.service,
            trace_id = tracing::field::Empty,
        );
        if let Err(error) = span.set_parent(extract_context(request.headers())) {
            tracing::debug!(?error, "no parent context");
        }
        let trace_id = span.context().span().span_context().trace_id();
        span.record("trace_id", tracing::field::display(trace_id));
        let completion = Completion {
            service: self.service,
            method,
            started: Instant::now(),
            span: span.clone(),
            finished: false,
        };
        let response = self.inner.call(request).instrument(span);
        Box::pin(async move {
            let response = match response.await {
                Ok(response) => response,
                // Shed load and expired timeouts come up as errors: answer them as
                // the status tonic would, so they are counted like any other.
                Err(error) => {
                    let status = tonic::Status::from_error(error.into());
                    completion.finish(status.code());
                    return Ok(status.into_http());
                }
            };
            match header_code(response.headers()) {
                // Trailers-only response (errors, mostly): the status is known now.
                Some(code) => {
                    completion.finish(code);
                    Ok(response)
                }
                None => Ok(response.map(|body| {
                    tonic::body::Body::new(ObservedBody {
                        inner: body,
                        completion: Some(completion),
                    })
                })),
            }
        })
    }
}

fn header_code(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<i32>().ok())
        .map(Code::from_i32)
}

/// Records the call when its status is known; a call dropped before that (the
/// client went away) counts as CANCELLED.
struct Completion {
    service: &'static str,
    method: String,
    started: Instant,
    span: tracing::Span,
    finished: bool,
}

impl Completion {
    fn finish(mut self, code: Code) {
        self.record(code);
    }

    fn record(&mut self, code: Code) {
        if self.finished {
            return;
        }
        self.finished = true;
        let seconds = self.started.elapsed().as_secs_f64();
        let code_name = format!("{code:?}");
        metrics::counter!(
            "rpc_server_requests_total",
            "service" => self.service,
            "method" => self.method.clone(),
            "code" => code_name.clone(),
        )
        .increment(1);
        metrics::histogram!(
            "rpc_server_duration_seconds",
            "service" => self.service,
            "method" => self.method.clone(),
        )
        .record(seconds);
        // Probes and tooling call health and reflection constantly: keep them quiet.
        let routine = self.method.starts_with("/grpc.");
        self.span.in_scope(|| {
            let millis = seconds * 1000.0;
            match code {
                Code::Ok if routine => tracing::debug!(code = %code_name, millis, "rpc completed"),
                Code::Ok => tracing::info!(code = %code_name, millis, "rpc completed"),
                Code::Internal | Code::Unknown | Code::DataLoss => {
                    tracing::error!(code = %code_name, millis, "rpc failed")
                }
                _ => tracing::warn!(code = %code_name, millis, "rpc refused"),
            }
        });
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

/// The response body, watched for the trailers that carry the status.
struct ObservedBody {
    inner: tonic::body::Body,
    completion: Option<Completion>,
}

impl Body for ObservedBody {
    type Data = <tonic::body::Body as Body>::Data;
    type Error = <tonic::body::Body as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(header_code)
                    && let Some(completion) = self.completion.take()
                {
                    completion.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(completion) = self.completion.take() {
                    completion.finish(Code::Unknown);
                }
            }
            Poll::Ready(None) => {
                if let Some(completion) = self.completion.take() {
                    completion.finish(Code::Ok);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use opentelemetry::trace::{TraceId, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tower::ServiceExt;
    use tracing_subscriber::prelude::*;

    use super::*;

    /// The server span continues the caller's trace from `traceparent`, and the
    /// handler sees the method it serves.
    #[tokio::test(flavor = "current_thread")]
    async fn server_spans_continue_the_callers_trace() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _guard = tracing::subscriber::set_default(subscriber);

        let handler = tower::service_fn(|request: http::Request<()>| async move {
            let trace_id = tracing::Span::current()
                .context()
                .span()
                .span_context()
                .trace_id();
            let method = request.extensions().get::<RpcMethod>().cloned();
            let mut response = http::Response::new(tonic::body::Body::empty());
            response
                .headers_mut()
                .insert("x-trace", trace_id.to_string().parse().unwrap());
            response.headers_mut().insert(
                "x-method",
                method.map(|m| m.0).unwrap_or_default().parse().unwrap(),
            );
            response
                .headers_mut()
                .insert("grpc-status", "0".parse().unwrap());
            Ok::<_, Infallible>(response)
        });
        let service = RpcTelemetryLayer::new("test").layer(handler);
        let request = http::Request::builder()
            .uri("/aimaq.test.v1.Test/Call")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(())
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(
            response.headers()["x-trace"],
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")
                .unwrap()
                .to_string()
                .as_str()
        );
        assert_eq!(response.headers()["x-method"], "/aimaq.test.v1.Test/Call");
    }
}
