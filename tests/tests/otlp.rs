//! Traces leave over TLS: the OTLP exporter verifies the collector against the
//! configured CA and presents the process's certificate to a collector that
//! requires one; `http://` is refused unless `--plaintext` says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aimaq_config::TlsConfig;
use aimaq_testing::TestPki;
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::net::TcpListener;

/// A collector that counts the spans it receives.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        self.spans.fetch_add(spans, Ordering::SeqCst);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_mutual_tls() {
    let pki = TestPki::get();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let collector = Collector::default();
    // The test servers' TLS: a client certificate of the test CA required.
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(aimaq_tls::incoming(listener, Some(pki.server_tls()))),
    );

    let tls = pki.server_config();
    let exporter = aimaq_telemetry::span_exporter(&format!("https://{address}"), &tls).unwrap();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build();
    provider.tracer("otlp-test").in_span("exported", |_| {});
    provider.force_flush().unwrap();
    assert_eq!(collector.spans.load(Ordering::SeqCst), 1);

    // No client certificate: the collector refuses the connection.
    let anonymous = TlsConfig {
        tls_cert: None,
        tls_key: None,
        ..tls.clone()
    };
    let exporter =
        aimaq_telemetry::span_exporter(&format!("https://{address}"), &anonymous).unwrap();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build();
    provider.tracer("otlp-test").in_span("refused", |_| {});
    let _ = provider.force_flush();
    assert_eq!(
        collector.spans.load(Ordering::SeqCst),
        1,
        "sent without a certificate"
    );

    // Plaintext only where a flag says so.
    let plain = aimaq_telemetry::span_exporter(&format!("http://{address}"), &tls);
    assert!(plain.is_err(), "http:// accepted without --plaintext");
}
