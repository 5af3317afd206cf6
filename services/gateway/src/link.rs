//! One HTTP/2 connection to a backend endpoint, made when a call first needs it
//! and made again when it has closed.
//!
//! Calls go straight to hyper's connection task: a tonic `Channel` puts a
//! buffer task in front of it, which costs every call one more task switch on
//! the way out. Balancing, retries and limits are the gateway's own
//! ([`crate::backends`]), so the channel's other layers are not needed.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tonic::body::Body;

/// The longest a new connection may take to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often an idle connection is checked with an HTTP/2 ping, and how long the
/// answer may take before the connection is dropped.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Link {
    authority: Authority,
    sender: Mutex<Option<SendRequest<Body>>>,
    /// One connection attempt at a time; the others wait for its outcome.
    connecting: tokio::sync::Mutex<()>,
}

impl Link {
    /// A link to `authority` (`host:port`); nothing is connected yet.
    pub fn new(authority: Authority) -> Link {
        Link {
            authority,
            sender: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    /// Sends `request` to the endpoint, with the endpoint's scheme and authority.
    pub async fn send(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Response<Body>, tower::BoxError> {
        let mut sender = self.sender().await?;
        let mut uri = std::mem::take(request.uri_mut()).into_parts();
        uri.scheme = Some(Scheme::HTTP);
        uri.authority = Some(self.authority.clone());
        if uri.path_and_query.is_none() {
            uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        }
        *request.uri_mut() = http::Uri::from_parts(uri)?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        Ok(response.map(Body::new))
    }

    fn open(&self) -> Option<SendRequest<Body>> {
        self.lock().as_ref().filter(|s| !s.is_closed()).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, Option<SendRequest<Body>>> {
        // The guarded value is replaced whole, so a poisoned lock holds no half state.
        self.sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn sender(&self) -> Result<SendRequest<Body>, tower::BoxError> {
        if let Some(sender) = self.open() {
            return Ok(sender);
        }
        let _turn = self.connecting.lock().await;
        if let Some(sender) = self.open() {
            return Ok(sender);
        }
        let sender = tokio::time::timeout(CONNECT_TIMEOUT, self.connect())
            .await
            .map_err(|_| format!("connecting to {} timed out", self.authority))??;
        *self.lock() = Some(sender.clone());
        Ok(sender)
    }

    async fn connect(&self) -> Result<SendRequest<Body>, tower::BoxError> {
        let stream = TcpStream::connect(self.authority.as_str()).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(stream))
            .await?;
        let authority = self.authority.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%authority, %error, "backend connection closed");
            }
        });
        Ok(sender)
    }
}
