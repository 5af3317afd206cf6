//! Connections to one backend service: several HTTP/2 connections to each of its
//! endpoints — a fixed list, or every address a DNS name resolves to (a headless
//! Kubernetes Service), looked up again periodically — with each call sent over
//! the less busy of two connections picked at random; a connection that just
//! failed is passed over for a second. Connections keep alive, reconnect by
//! themselves, and are replaced before the backend's own age limit would cut
//! the calls on them. Each endpoint's health is checked at an interval: one
//! that does not answer SERVING is passed over, and a backend with no endpoint
//! that does is one its callers report NOT_SERVING. When a call is sent again
//! is `send`'s to say. The gateway reaches each backend so, and budget and
//! grants reach governance so for their territory checks.

mod health;
mod send;
mod targets;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::Link;
use aimaq_tls::{Outbound, Target};
pub use targets::Targets;
use tonic::body::Body;
use tower::Service;
use tower::retry::budget::TpsBudget;

/// How often a DNS name is looked up again.
const RESOLVE_EVERY: Duration = Duration::from_secs(5);
/// How long a connection that could not carry a call is passed over while
/// another can be chosen.
const AVOID_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// One HTTP/2 connection, the calls in flight on it, when it last failed, and
/// whether its endpoint answered the last health check SERVING.
#[derive(Clone)]
struct Connection {
    url: String,
    link: Arc<Link>,
    in_flight: Arc<AtomicUsize>,
    failed_at: Arc<AtomicU64>,
    healthy: Arc<AtomicBool>,
}

impl Connection {
    /// Calls in flight, counting a recent failure or an unhealthy endpoint as a
    /// queue no call wants.
    fn load(&self, now: u64) -> u64 {
        let failed_at = self.failed_at.load(Ordering::Relaxed);
        let failed = failed_at != 0 && now.saturating_sub(failed_at) < millis(AVOID_AFTER_FAILURE);
        let avoided = failed || !self.healthy.load(Ordering::Relaxed);
        self.in_flight.load(Ordering::Relaxed) as u64 + if avoided { 1 << 32 } else { 0 }
    }
}

/// Milliseconds since the first call of this process (never 0 once read).
fn now_millis() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    millis(start.elapsed()) + 1
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn connect(url: String, target: &Target, count: usize, max_age: Duration) -> Vec<Connection> {
    // Healthy until a check says otherwise: calls flow from the start.
    let healthy = Arc::new(AtomicBool::new(true));
    (0..count)
        .map(|_| Connection {
            url: url.clone(),
            link: Arc::new(Link::new(target.clone(), max_age)),
            in_flight: Arc::default(),
            failed_at: Arc::default(),
            healthy: Arc::clone(&healthy),
        })
        .collect()
}

/// A backend service as its callers reach it.
pub struct Backend {
    name: &'static str,
    connections: RwLock<Arc<Vec<Connection>>>,
    /// The server behind a DNS name: each address it resolves to is reached
    /// as it, with its certificate verified for the name.
    named: Option<Target>,
    per_endpoint: usize,
    connection_age: Duration,
    picks: AtomicUsize,
    retries: TpsBudget,
    max_request_bytes: usize,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").field("name", &self.name).finish()
    }
}

/// A connection taken for one call; the call counts as in flight until dropped.
struct Taken {
    link: Arc<Link>,
    in_flight: Arc<AtomicUsize>,
    failed_at: Arc<AtomicU64>,
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Backend {
    /// Connects (lazily) `per_endpoint` times to each target, each connection
    /// living at most `connection_age`; a DNS target is looked up now and every
    /// few seconds while the backend is in use.
    pub async fn new(
        name: &'static str,
        targets: &Targets,
        outbound: &Outbound,
        per_endpoint: usize,
        connection_age: Duration,
        max_request_bytes: usize,
    ) -> Result<Arc<Backend>, String> {
        let per_endpoint = per_endpoint.max(1);
        let mut connections = Vec::new();
        let mut named = None;
        match targets {
            Targets::Fixed(urls) => {
                for url in urls {
                    let target = Target::parse(url, outbound)?;
                    connections.extend(connect(url.clone(), &target, per_endpoint, connection_age));
                }
            }
            Targets::Dns { host, port } => {
                let scheme = if outbound.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                named = Some(Target::parse(
                    &format!("{scheme}://{host}:{port}"),
                    outbound,
                )?);
            }
        }
        let backend = Arc::new(Backend {
            name,
            connections: RwLock::new(Arc::new(connections)),
            named,
            per_endpoint,
            connection_age,
            picks: AtomicUsize::new(0),
            // Retries may add a tenth to the calls, and always a few per second.
            retries: TpsBudget::new(Duration::from_secs(10), 5, 0.1),
            max_request_bytes,
        });
        if let Targets::Dns { host, port } = targets {
            backend.resolve(host, *port).await;
            tokio::spawn(keep_resolving(
                Arc::downgrade(&backend),
                host.clone(),
                *port,
            ));
        }
        Ok(backend)
    }

    /// The endpoints being balanced over.
    pub fn endpoints(&self) -> Vec<String> {
        let connections = self.current();
        let mut urls: Vec<String> = connections.iter().map(|c| c.url.clone()).collect();
        urls.dedup();
        urls
    }

    fn current(&self) -> Arc<Vec<Connection>> {
        match self.connections.read() {
            Ok(connections) => Arc::clone(&connections),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the connections by those to what `host` resolves to now, keeping
    /// the connections to addresses that remain.
    async fn resolve(&self, host: &str, port: u16) {
        let addresses = match tokio::net::lookup_host((host, port)).await {
            Ok(addresses) => {
                let mut addresses: Vec<_> = addresses.collect();
                addresses.sort();
                addresses.dedup();
                addresses
            }
            Err(error) => {
                tracing::warn!(backend = self.name, host, %error, "cannot resolve the backend; keeping its last addresses");
                return;
            }
        };
        if addresses.is_empty() {
            tracing::warn!(
                backend = self.name,
                host,
                "the backend resolves to no address; keeping its last addresses"
            );
            return;
        }
        let Some(named) = &self.named else {
            return;
        };
        let current = self.current();
        let mut next = Vec::new();
        for address in addresses {
            let url = format!("{}://{address}", named.scheme());
            let kept: Vec<&Connection> = current.iter().filter(|c| c.url == url).collect();
            if kept.is_empty() {
                let target = named.at(address);
                next.extend(connect(
                    url,
                    &target,
                    self.per_endpoint,
                    self.connection_age,
                ));
            } else {
                next.extend(kept.into_iter().cloned());
            }
        }
        let changed = next.len() != current.len()
            || next.iter().zip(current.iter()).any(|(a, b)| a.url != b.url);
        if changed {
            tracing::info!(
                backend = self.name,
                endpoints = next.len() / self.per_endpoint,
                "backend endpoints changed"
            );
            if let Ok(mut connections) = self.connections.write() {
                *connections = Arc::new(next);
            }
        }
    }

    /// The less busy of two connections picked at random ("power of two choices").
    fn take(&self) -> Option<Taken> {
        let connections = self.current();
        let count = connections.len();
        let chosen = match count {
            0 => return None,
            1 => &connections[0],
            _ => {
                let draw = mix(self.picks.fetch_add(1, Ordering::Relaxed));
                let first = draw % count;
                let second = (first + 1 + (draw >> 32) % (count - 1)) % count;
                let (a, b) = (&connections[first], &connections[second]);
                let now = now_millis();
                if b.load(now) < a.load(now) { b } else { a }
            }
        };
        chosen.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Taken {
            link: Arc::clone(&chosen.link),
            in_flight: Arc::clone(&chosen.in_flight),
            failed_at: Arc::clone(&chosen.failed_at),
        })
    }
}

async fn keep_resolving(backend: Weak<Backend>, host: String, port: u16) {
    loop {
        tokio::time::sleep(RESOLVE_EVERY).await;
        let Some(backend) = backend.upgrade() else {
            return;
        };
        backend.resolve(&host, port).await;
    }
}

/// Spreads consecutive counters over the whole range (SplitMix64's finaliser).
fn mix(counter: usize) -> usize {
    let mut z = (counter as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as usize
}

/// A backend as a tower service, for generated clients: the same connections,
/// balancing and retries as calls sent with [`Backend::send`].
#[derive(Clone, Debug)]
pub struct BackendChannel(pub Arc<Backend>);

impl Service<http::Request<Body>> for BackendChannel {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let backend = Arc::clone(&self.0);
        // Sent from inside the future, so within the call's span.
        Box::pin(async move { Ok(backend.send(request).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGE: Duration = Duration::from_secs(60);
    const PLAINTEXT: Outbound = Outbound {
        tls: None,
        allow_plaintext: true,
    };

    #[tokio::test]
    async fn balances_over_every_connection() {
        let targets = "http://127.0.0.1:1,http://127.0.0.1:2".parse().unwrap();
        let backend = Backend::new("budget", &targets, &PLAINTEXT, 3, AGE, 1024)
            .await
            .unwrap();
        assert_eq!(backend.current().len(), 6);
        let mut held = Vec::new();
        for _ in 0..600 {
            held.push(backend.take().unwrap());
        }
        // The two choices keep the connections within one call of each other.
        let loads: Vec<usize> = backend
            .current()
            .iter()
            .map(|c| c.in_flight.load(Ordering::Relaxed))
            .collect();
        let (least, most) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
        assert!(most - least <= 3, "{loads:?}");
        drop(held);
        assert!(
            backend
                .current()
                .iter()
                .all(|c| c.in_flight.load(Ordering::Relaxed) == 0)
        );
    }

    #[tokio::test]
    async fn a_connection_that_just_failed_is_passed_over() {
        let targets = "http://127.0.0.1:1,http://127.0.0.1:2".parse().unwrap();
        let backend = Backend::new("budget", &targets, &PLAINTEXT, 1, AGE, 1024)
            .await
            .unwrap();
        backend.current()[0]
            .failed_at
            .store(now_millis(), Ordering::Relaxed);
        for _ in 0..100 {
            let taken = backend.take().unwrap();
            assert!(Arc::ptr_eq(
                &taken.in_flight,
                &backend.current()[1].in_flight
            ));
        }
    }

    #[tokio::test]
    async fn resolves_names() {
        let targets = "dns://localhost:50052".parse().unwrap();
        let backend = Backend::new("grants", &targets, &PLAINTEXT, 2, AGE, 1024)
            .await
            .unwrap();
        assert!(!backend.endpoints().is_empty());
        assert!(
            backend
                .endpoints()
                .iter()
                .all(|url| url.ends_with(":50052"))
        );
    }
}
