//! The server side: certificates read from files and read again when they
//! change (new connections get the new ones; open connections keep theirs),
//! client certificates required when a client CA is given, and the accepted
//! connections with what is known of their peer.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aimaq_auth::{ClientCertificate, Peer};
use aimaq_config::files::Reloading;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::either::Either;
use tonic::transport::server::Connected;

use crate::{TlsError, provider, read_certificates, read_key, read_roots};

/// The longest a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections accepted and not yet taken by the server, at most.
const ACCEPTED_BACKLOG: usize = 128;

/// A server's TLS settings, read again when their files change.
pub struct ServerTls(Reloading<Arc<ServerConfig>>);

impl ServerTls {
    /// The certificate chain and key (PEM), and optionally the CA every client
    /// certificate must be signed by.
    pub fn load(
        cert: PathBuf,
        key: PathBuf,
        client_ca: Option<PathBuf>,
    ) -> Result<ServerTls, TlsError> {
        let mut paths = vec![cert, key];
        paths.extend(client_ca);
        Reloading::load(paths, |paths| build(paths).map(Arc::new))
            .map(ServerTls)
            .map_err(TlsError::Config)
    }

    /// The settings new connections are accepted with.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.0.current().0)
    }
}

fn build(paths: &[PathBuf]) -> Result<ServerConfig, String> {
    let (cert, key) = match paths {
        [cert, key, ..] => (cert, key),
        _ => return Err("a certificate and a key are needed".into()),
    };
    let chain = read_certificates(cert)?;
    let key = read_key(key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match paths.get(2) {
        Some(client_ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(read_roots(client_ca)?, provider())
                    .build()
                    .map_err(|e| format!("{}: {e}", client_ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    // HTTP/1.1 too, for the gateway's HTTP/JSON and gRPC-Web callers that
    // speak only it; a server that does not accept HTTP/1.1 refuses it after
    // the handshake, as it would a client that offered no protocol.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// An accepted connection: plain TCP, or TLS with the client's certificate.
pub struct Connection {
    io: Either<TcpStream, Box<TlsStream<TcpStream>>>,
    peer: Peer,
}

impl Connected for Connection {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The connections accepted on `listener`, through TLS when `tls` is given.
/// Handshakes run apart from the accept loop (a slow client holds up no one)
/// and within a time limit; a failed one is logged and dropped. Accepting stops
/// when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Option<Arc<ServerTls>>,
) -> ReceiverStream<Result<Connection, io::Error>> {
    let (accepted, stream) = mpsc::channel(ACCEPTED_BACKLOG);
    tokio::spawn(async move {
        loop {
            let (tcp, address) = tokio::select! {
                () = accepted.closed() => return,
                next = listener.accept() => match next {
                    Ok(next) => next,
                    Err(error) => {
                        // Out of file descriptors and the like: wait, not spin.
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let peer = Peer {
                address: Some(address),
                certificate: None,
            };
            match &tls {
                None => {
                    let connection = Connection {
                        io: Either::Left(tcp),
                        peer,
                    };
                    if accepted.send(Ok(connection)).await.is_err() {
                        return;
                    }
                }
                Some(tls) => {
                    let (config, accepted) = (tls.current(), accepted.clone());
                    tokio::spawn(async move {
                        match handshake(config, tcp, peer).await {
                            Ok(connection) => {
                                let _ = accepted.send(Ok(connection)).await;
                            }
                            Err(error) => {
                                tracing::info!(%address, %error, "TLS handshake refused");
                            }
                        }
                    });
                }
            }
        }
    });
    ReceiverStream::new(stream)
}

async fn handshake(
    config: Arc<ServerConfig>,
    tcp: TcpStream,
    mut peer: Peer,
) -> Result<Connection, String> {
    let accepting = tokio_rustls::TlsAcceptor::from(config).accept(tcp);
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, accepting)
        .await
        .map_err(|_| "the handshake took too long".to_owned())?
        .map_err(|e| e.to_string())?;
    if let Some(der) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
    {
        let certificate = ClientCertificate::from_der(der)?;
        peer.certificate = Some(Arc::new(certificate));
    }
    Ok(Connection {
        io: Either::Right(Box::new(stream)),
        peer,
    })
}
