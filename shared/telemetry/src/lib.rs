//! Telemetry for every Aimaq process: structured logs carrying the trace id,
//! OpenTelemetry traces (exported over OTLP when an endpoint is configured), W3C
//! trace context carried in gRPC metadata, and per-method RPC metrics on a
//! Prometheus endpoint.

mod layer;
mod propagation;

use std::sync::OnceLock;

use aimaq_config::{LogFormat, TelemetryConfig, TlsConfig};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::prelude::*;

pub use layer::{RpcMethod, RpcTelemetryLayer, RpcTelemetryService};
pub use propagation::{
    TracePropagation, current_traceparent, extract_context, inject_context, inject_headers,
};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log filter {0:?}: {1}")]
    Filter(String, String),
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    #[error("metrics endpoint: {0}")]
    Metrics(String),
}

/// Keeps the tracer provider alive; dropping it flushes pending spans.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("flushing traces: {error}");
        }
    }
}

/// Installs logging, tracing and (when configured) the metrics endpoint for the
/// process. Traces go to the OTLP collector over TLS as `tls` says (the
/// collector verified against `--tls-ca`, this process's certificate
/// presented); `http://` only with `--plaintext`. Call once, from `main`,
/// inside the tokio runtime.
pub fn init(
    service: &str,
    config: &TelemetryConfig,
    tls: &TlsConfig,
) -> Result<TelemetryGuard, TelemetryError> {
    let filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|e| TelemetryError::Filter(config.log_filter.clone(), e.to_string()))?;

    // A provider without an exporter still makes trace ids, so logs and propagated
    // context work the same whether or not traces are exported.
    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service.to_owned())
            .build(),
    );
    if let Some(endpoint) = &config.otlp_endpoint {
        builder = builder.with_batch_exporter(span_exporter(endpoint, tls)?);
    }
    let provider = builder.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());

    // Transport internals make many tiny spans: keep them out of the traces.
    let span_filter = Targets::new()
        .with_default(tracing::Level::TRACE)
        .with_target("h2", tracing::Level::ERROR)
        .with_target("hyper", tracing::Level::ERROR)
        .with_target("hyper_util", tracing::Level::ERROR)
        .with_target("tower", tracing::Level::ERROR)
        .with_target("sqlx", tracing::Level::ERROR);
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service.to_owned()))
        .with_filter(span_filter);

    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let installed = match config.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).try_init(),
    };
    if installed.is_err() {
        // Tests start several servers in one process: the first subscriber stays.
        tracing::debug!("a tracing subscriber is already installed");
    }

    if let Some(address) = config.metrics_listen {
        install_metrics(address)?;
    }
    Ok(TelemetryGuard { provider })
}

/// An OTLP/gRPC exporter to `endpoint`, on a channel of ours: TLS as `tls`
/// says, like every other client of the process.
pub fn span_exporter(
    endpoint: &str,
    tls: &TlsConfig,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
    let outbound = aimaq_tls::Outbound::from_config(tls)
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let target = aimaq_tls::Target::parse(endpoint, &outbound)
        .map_err(|e| TelemetryError::Exporter(format!("{endpoint}: {e}")))?;
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.to_owned())
        .with_channel(target.channel())
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// RPC latency buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Serves `/metrics` in the Prometheus text format on `address`. A process has one
/// recorder: later calls keep the first endpoint.
pub fn install_metrics(address: std::net::SocketAddr) -> Result<(), TelemetryError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            PrometheusBuilder::new()
                .with_http_listener(address)
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?
                .install()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(TelemetryError::Metrics)
}
