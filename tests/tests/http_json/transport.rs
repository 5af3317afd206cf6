//! HTTP/1.1 callers, and a caller's deadline.

use super::*;

/// A TLS connection to `address` that offers only HTTP/1.1, with the test
/// client's certificate.
async fn http1_connection(
    address: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let pki = aimaq_testing::TestPki::get();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&pki.ca).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(&pki.client.cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&pki.client.key).unwrap();
    // The provider the servers use (see `aimaq_tls`: ring, deprecated only
    // for lacking post-quantum key exchange).
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

/// `asked` over a new HTTP/1.1 connection to `address`: the answer's version,
/// status and body.
async fn http1_send<B>(
    address: std::net::SocketAddr,
    asked: Request<B>,
) -> (http::Version, StatusCode, Bytes)
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tls = http1_connection(address).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let answer = sender.send_request(asked).await.unwrap();
    let (version, status) = (answer.version(), answer.status());
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    (version, status, body)
}

fn http1_get(path: &str, token: &str) -> http::request::Builder {
    Request::get(path)
        .header("host", "localhost")
        .header("authorization", format!("Bearer {token}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_1_callers_are_answered_too() {
    let (_system, gateway, token, channel) = system_with_data().await;
    let asked = http1_get("/v1/programs", &token)
        .body(http_body_util::Empty::new())
        .unwrap();
    let (version, status, body) = http1_send(gateway.address, asked).await;
    assert_eq!(version, http::Version::HTTP_11);
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let over_http2 = get(&channel, "/v1/programs", &token).await;
    assert_eq!(body, over_http2.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_from_the_caller_bounds_the_call() {
    let system = System::start().await;
    let (hung, _hole) = aimaq_e2e::system::black_hole().await;
    let mut backends = system.targets();
    backends.grants_url = aimaq_gateway::Targets::Fixed(vec![format!("https://{hung}")]);
    let gateway = system.gateway(backends, generous(), None).await;
    let token = system.tokens.admin();
    // A deadline as gRPC writes it, 300 ms.
    let asked = http1_get("/v1/grants/statistics", &token)
        .header("grpc-timeout", "300m")
        .body(http_body_util::Empty::new())
        .unwrap();
    let started = std::time::Instant::now();
    let (_, status, body) = http1_send(gateway.address, asked).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let answer = Answer {
        status,
        headers: HeaderMap::new(),
        body,
    };
    assert_eq!(
        answer.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        answer.json()
    );
    assert_eq!(answer.json()["code"], 4);
}

/// A caller whose body arrives after its deadline is answered
/// DEADLINE_EXCEEDED in JSON when the deadline passes, not in gRPC's form
/// (an empty 200) by tonic's own timer on the same header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_passing_while_the_body_arrives_is_answered_in_json() {
    let (_system, gateway, token, _channel) = system_with_data().await;
    let (sender, chunks) = tokio::sync::mpsc::channel::<Bytes>(1);
    let body = http_body_util::StreamBody::new(futures::StreamExt::map(
        tokio_stream::wrappers::ReceiverStream::new(chunks),
        |chunk| Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(chunk)),
    ));
    let asked = Request::post("/v1/programs")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("grpc-timeout", "300m")
        .body(body)
        .unwrap();
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let _ = sender.send(Bytes::from_static(b"{}")).await;
    });
    let started = std::time::Instant::now();
    let (_, status, body) = http1_send(gateway.address, asked).await;
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["code"], 4, "{answer}");
    late.abort();
}
