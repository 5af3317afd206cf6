//! One HTTP/2 connection to an Aimaq server, made when a call first needs it,
//! made again when it has closed, and replaced before the server would close it.
//!
//! Servers close every connection at [`aimaq_server::MAX_CONNECTION_AGE`], and
//! under steady load that cuts the calls still running on it (a tonic `Channel`
//! goes on using such a connection to the end). A link replaces its connection
//! earlier and leaves the calls on the old one to finish there.
//!
//! Calls go straight to hyper's connection task: a `Channel` also puts a buffer
//! task in front of it, which costs every call one more task switch on the way
//! out. Balancing over several links and retries are [`Backend`]'s: the one
//! outbound client stack, for the gateway's backends and the territory checks.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

mod backend;
mod failure;

use aimaq_tls::{Outbound, Target};
pub use backend::{Backend, BackendChannel, Targets};
pub use failure::{Reach, SendError};
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tonic::body::Body;

/// The longest a new connection may take to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often an idle connection is checked with an HTTP/2 ping, and how long the
/// answer may take before the connection is dropped.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a link keeps a connection: well within the age at which servers
/// close it themselves.
pub const MAX_AGE: Duration =
    Duration::from_secs(aimaq_server::MAX_CONNECTION_AGE.as_secs() * 4 / 5);

pub struct Link {
    target: Target,
    /// A connection is replaced once between 3/4 of this age and this age, so that
    /// the replacements of many links do not coincide.
    max_age: Duration,
    current: Mutex<Option<Open>>,
    /// One connection attempt at a time; the others wait for its outcome.
    connecting: tokio::sync::Mutex<()>,
    connections: std::sync::atomic::AtomicU64,
}

/// The connection calls go to, until it closes or is due for replacement. A
/// replaced connection is not closed: the calls running on it finish there, and
/// hyper closes it after the last.
struct Open {
    sender: SendRequest<Body>,
    replace_at: Instant,
    /// Tells this connection from the ones before and after it.
    number: u64,
}

impl Link {
    /// A link to the server at `url` (`https://host:port`, or `http://` where
    /// `outbound` allows it), with connections of at most [`MAX_AGE`]; nothing
    /// is connected yet.
    pub fn to(url: &str, outbound: &Outbound) -> Result<Link, String> {
        Ok(Link::new(Target::parse(url, outbound)?, MAX_AGE))
    }

    /// A link to `target` whose connections live at most `max_age`; nothing is
    /// connected yet.
    pub fn new(target: Target, max_age: Duration) -> Link {
        Link {
            target,
            max_age,
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            connections: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Sends `request` to the endpoint, with the endpoint's scheme and authority.
    /// A failure says how far the call got, and gives back a request that
    /// never left.
    pub async fn send(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Response<Body>, SendError> {
        let (mut sender, number) = match self.sender().await {
            Ok(open) => open,
            Err(error) => return Err(SendError::not_sent(error, Some(request))),
        };
        let mut uri = std::mem::take(request.uri_mut()).into_parts();
        uri.scheme = Some(self.target.scheme());
        uri.authority = Some(self.target.authority.clone());
        if uri.path_and_query.is_none() {
            uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        }
        match http::Uri::from_parts(uri) {
            Ok(uri) => *request.uri_mut() = uri,
            Err(error) => return Err(SendError::not_sent(error, None)),
        }
        if let Err(error) = sender.ready().await {
            self.forget(number);
            return Err(SendError::not_sent(error, Some(request)));
        }
        match sender.try_send_request(request).await {
            Ok(response) => Ok(response.map(Body::new)),
            Err(mut failed) => {
                // The connection failed the call: the next call gets a new one
                // rather than one that may be closing.
                self.forget(number);
                match failed.take_message() {
                    Some(request) => Err(SendError::not_sent(failed.into_error(), Some(request))),
                    None => Err(SendError::after_handing(failed.into_error())),
                }
            }
        }
    }

    fn open(&self) -> Option<(SendRequest<Body>, u64)> {
        self.lock()
            .as_ref()
            .filter(|open| !open.sender.is_closed() && Instant::now() < open.replace_at)
            .map(|open| (open.sender.clone(), open.number))
    }

    /// Drops connection `number` from the link, if it is still the current one.
    fn forget(&self, number: u64) {
        let mut current = self.lock();
        if current.as_ref().is_some_and(|open| open.number == number) {
            *current = None;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Open>> {
        // The guarded value is replaced whole, so a poisoned lock holds no half state.
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn sender(&self) -> Result<(SendRequest<Body>, u64), tower::BoxError> {
        if let Some(open) = self.open() {
            return Ok(open);
        }
        let _turn = self.connecting.lock().await;
        if let Some(open) = self.open() {
            return Ok(open);
        }
        let sender = tokio::time::timeout(CONNECT_TIMEOUT, self.connect())
            .await
            .map_err(|_| format!("connecting to {} timed out", self.target.authority))??;
        let number = self
            .connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.lock() = Some(Open {
            sender: sender.clone(),
            replace_at: Instant::now() + self.lifetime(),
            number,
        });
        Ok((sender, number))
    }

    /// Between 3/4 of the maximum age and all of it.
    fn lifetime(&self) -> Duration {
        let spread = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos() % 1000);
        self.max_age
            .mul_f64(0.75 + 0.25 * f64::from(spread) / 1000.0)
    }

    async fn connect(&self) -> Result<SendRequest<Body>, tower::BoxError> {
        let stream = self.target.connect().await?;
        let (sender, connection) = Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(stream))
            .await?;
        let authority = self.target.authority.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%authority, %error, "backend connection closed");
            }
        });
        Ok(sender)
    }
}

/// A link as a tower service, for generated gRPC clients.
#[derive(Clone)]
pub struct LinkService(pub Arc<Link>);

impl tower::Service<http::Request<Body>> for LinkService {
    type Response = http::Response<Body>;
    type Error = tower::BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let link = Arc::clone(&self.0);
        Box::pin(async move { link.send(request).await.map_err(|failed| failed.error) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio_stream::StreamExt;
    use tokio_stream::wrappers::TcpListenerStream;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    use super::*;

    /// A server that closes every connection after a while (as Aimaq servers do
    /// so that new replicas receive load) cuts the calls still on it; a link
    /// replacing its connection before that loses no call. Each call is sent
    /// once, as a write is.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_are_replaced_before_the_server_cuts_them() {
        async fn failures_over(max_age: Duration) -> (usize, usize) {
            let accepted = Arc::new(AtomicUsize::new(0));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let counted = Arc::clone(&accepted);
            let incoming = TcpListenerStream::new(listener).map(move |stream| {
                counted.fetch_add(1, Ordering::Relaxed);
                stream
            });
            let (_reporter, health) = tonic_health::server::health_reporter();
            tokio::spawn(
                tonic::transport::Server::builder()
                    .max_connection_age(Duration::from_millis(300))
                    .max_connection_age_grace(Duration::from_millis(300))
                    .add_service(health)
                    .serve_with_incoming(incoming),
            );
            let plaintext = Outbound {
                tls: None,
                allow_plaintext: true,
            };
            let target = Target::parse(&format!("http://{address}"), &plaintext).unwrap();
            let link = Arc::new(Link::new(target, max_age));
            let callers: Vec<_> = (0..16)
                .map(|_| {
                    let mut client = HealthClient::new(LinkService(Arc::clone(&link)));
                    tokio::spawn(async move {
                        let until = Instant::now() + Duration::from_secs(3);
                        let mut failures = 0;
                        while Instant::now() < until {
                            if client.check(HealthCheckRequest::default()).await.is_err() {
                                failures += 1;
                            }
                        }
                        failures
                    })
                })
                .collect();
            let mut failures = 0;
            for caller in callers {
                failures += caller.await.unwrap();
            }
            (failures, accepted.load(Ordering::Relaxed))
        }

        // Replaced every 150 to 200 ms: nothing lost, and replaced indeed.
        let (failures, connections) = failures_over(Duration::from_millis(200)).await;
        assert_eq!(failures, 0);
        assert!(connections >= 10, "{connections} connections");
        // Kept until the server cuts them: calls are lost.
        let (failures, _) = failures_over(Duration::from_secs(60)).await;
        assert!(failures > 0);
    }
}
