//! What every call through the gateway passes first: its bearer token verified
//! against the certificate the call came with (the backends verify it again,
//! and the views pass it on), and its caller's rate limit. The certificate is
//! passed on to the backends in a header of ours; a caller's own header of that
//! name is replaced. Long-lived streams (change feeds, exports) hold a place
//! among each caller's capped open streams for as long as they are open.
//!
//! With a shared store (`--rate-limit-url`), every replica admits against one
//! limit per caller; while the store does not answer, each replica admits its
//! share of the limit on its own (the limit divided by `--gateway-replicas`),
//! and says so in its health (`aimaq.rate-limit-store`) and metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aimaq_auth::{Authenticator, FORWARDED_CERTIFICATE, Peer, forwarded_value};
use aimaq_error::Error;
use aimaq_server::{Permitted, StreamLimits, StreamPermit};
use futures::future::{BoxFuture, FutureExt};
use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

use crate::domain::rate::RateLimits;
use crate::store::rate::{STORE_TIMEOUT, SharedRates};

/// The health name that reports whether the shared rate limit store answers.
pub const RATE_STORE_HEALTH: &str = "aimaq.rate-limit-store";

/// Token verification and per-caller rate limits, shared by every guarded service.
#[derive(Clone)]
pub struct Guard {
    authenticator: Authenticator,
    /// Each caller's limit, this replica's own (or, with a shared store,
    /// what it reads the limits from).
    limits: Arc<Mutex<RateLimits>>,
    shared: Option<Shared>,
    streams: StreamLimits,
}

/// Limits kept in a store shared by the replicas, and this replica's share
/// for when the store does not answer.
#[derive(Clone)]
struct Shared {
    rates: SharedRates,
    share: Arc<Mutex<RateLimits>>,
    answering: Arc<AtomicBool>,
    /// While the store does not answer, calls do not wait for it: one call
    /// asks it again after this time.
    ask_again: Arc<Mutex<Instant>>,
}

/// How often a replica whose store stopped answering asks it again.
const STORE_RETRY: Duration = Duration::from_secs(1);

impl Shared {
    /// Whether this call should ask the store: always while it answers, once
    /// a [`STORE_RETRY`] while it does not.
    fn ask_store(&self, now: Instant) -> bool {
        if self.answering.load(Ordering::Relaxed) {
            return true;
        }
        let mut ask_again = lock(&self.ask_again);
        if now < *ask_again {
            return false;
        }
        *ask_again = now + STORE_RETRY;
        true
    }
}

impl Guard {
    pub fn new(authenticator: Authenticator, limits: RateLimits) -> Guard {
        Guard {
            authenticator,
            limits: Arc::new(Mutex::new(limits)),
            shared: None,
            streams: StreamLimits::default(),
        }
    }

    /// Admits against `rates`, shared by `replicas` replicas of the gateway.
    pub fn with_shared_rates(mut self, rates: SharedRates, replicas: u32) -> Guard {
        let share = lock(&self.limits).shared_by(replicas);
        self.shared = Some(Shared {
            rates,
            share: Arc::new(Mutex::new(share)),
            answering: Arc::new(AtomicBool::new(true)),
            ask_again: Arc::new(Mutex::new(Instant::now())),
        });
        self
    }

    /// Whether the shared store answered the last admission (None: no store).
    pub fn shared_store_answers(&self) -> Option<bool> {
        self.shared
            .as_ref()
            .map(|shared| shared.answering.load(Ordering::Relaxed))
    }

    /// Caps the streams callers hold open through the gateway.
    pub fn with_stream_limits(mut self, streams: StreamLimits) -> Guard {
        self.streams = streams;
        self
    }

    /// Puts `service` behind the guard.
    pub fn protect<S>(&self, service: S) -> Guarded<S> {
        Guarded {
            inner: service,
            guard: self.clone(),
        }
    }

    /// The caller of `request`, with the certificate it came with put in the
    /// header the backends read it from; a stream's place among the caller's
    /// open streams. Its rate is checked before.
    fn authenticate(&self, request: &http::Request<Body>) -> Result<aimaq_auth::Caller, Error> {
        let peer = request.extensions().get::<Peer>();
        self.authenticator.authenticate(request.headers(), peer)
    }

    fn admit(
        &self,
        request: &mut http::Request<Body>,
        caller: aimaq_auth::Caller,
    ) -> Result<Option<StreamPermit>, Error> {
        let permit = if is_long_lived(request.uri().path()) {
            Some(self.streams.open(&caller.subject)?)
        } else {
            None
        };
        request.headers_mut().insert(
            FORWARDED_CERTIFICATE,
            forwarded_value(caller.certificate.as_deref()),
        );
        request.extensions_mut().insert(caller);
        Ok(permit)
    }

    /// This replica's own admission of one call of `caller`.
    fn local_rate(&self, caller: &aimaq_auth::Caller) -> Result<(), Error> {
        let admitted = lock(&self.limits).admit(&caller.subject, &caller.agency, Instant::now());
        refuse_over(caller, admitted)
    }

    /// One call of `caller` admitted by the shared store, or by this
    /// replica's share when the store does not answer in time.
    async fn shared_rate(&self, shared: &Shared, caller: &aimaq_auth::Caller) -> Result<(), Error> {
        let now = Instant::now();
        if !shared.ask_store(now) {
            let admitted = lock(&shared.share).admit(&caller.subject, &caller.agency, now);
            return refuse_over(caller, admitted);
        }
        let gcra = lock(&self.limits).limit_of(&caller.agency).gcra();
        let answered =
            tokio::time::timeout(STORE_TIMEOUT, shared.rates.admit(&caller.subject, gcra)).await;
        let admitted = match answered {
            Ok(Ok(admitted)) => {
                if !shared.answering.swap(true, Ordering::Relaxed) {
                    tracing::info!("the rate limit store answers again: limits are shared");
                    metrics::gauge!("aimaq_gateway_rate_limit_shared").set(1.0);
                }
                admitted
            }
            failed => {
                if shared.answering.swap(false, Ordering::Relaxed) {
                    let why = match failed {
                        Ok(Err(error)) => format!("{:?}", error.kind()),
                        _ => "no answer in time".to_owned(),
                    };
                    tracing::warn!(%why, "the rate limit store does not answer: each replica admits its share");
                    metrics::gauge!("aimaq_gateway_rate_limit_shared").set(0.0);
                }
                *lock(&shared.ask_again) = Instant::now() + STORE_RETRY;
                metrics::counter!("aimaq_gateway_rate_limit_store_failures_total").increment(1);
                lock(&shared.share).admit(&caller.subject, &caller.agency, Instant::now())
            }
        };
        refuse_over(caller, admitted)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// RESOURCE_EXHAUSTED with when to retry, for a call over its limit.
fn refuse_over(caller: &aimaq_auth::Caller, admitted: Result<(), Duration>) -> Result<(), Error> {
    match admitted {
        Ok(()) => Ok(()),
        Err(wait) => {
            metrics::counter!("aimaq_gateway_rate_limited_total", "agency" => caller.agency.clone())
                    .increment(1);
            Err(Error::ResourceExhausted {
                message: format!(
                    "{} is over its rate limit; retry in {} ms",
                    caller.subject,
                    wait.as_millis().max(1)
                ),
                retry_after: Some(wait),
            })
        }
    }
}

/// A service behind the [`Guard`]; it keeps the inner service's name.
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

/// Calls that stay open while their answer streams: change feeds and exports.
fn is_long_lived(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or_default();
    method.starts_with("Watch") || method.starts_with("Export")
}

impl<S> Service<http::Request<Body>> for Guarded<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let caller = match self.guard.authenticate(&request) {
            Ok(caller) => caller,
            Err(error) => return refused(error),
        };
        let Some(shared) = self.guard.shared.clone() else {
            // Limited here alone: no wait for anything.
            if let Err(error) = self.guard.local_rate(&caller) {
                return refused(error);
            }
            return match self.guard.admit(&mut request, caller) {
                Ok(permit) => pass(self.inner.call(request), permit),
                Err(error) => refused(error),
            };
        };
        // The service made ready is the one that takes the call; a clone
        // stays for the next.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let guard = self.guard.clone();
        async move {
            let checked = match guard.shared_rate(&shared, &caller).await {
                Ok(()) => guard.admit(&mut request, caller),
                Err(error) => Err(error),
            };
            match checked {
                Ok(permit) => pass(inner.call(request), permit).await,
                Err(error) => refused(error).await,
            }
        }
        .boxed()
    }
}

/// The inner service's answer, its body holding the stream's place if any.
fn pass<F, E>(
    answer: F,
    permit: Option<StreamPermit>,
) -> BoxFuture<'static, Result<http::Response<Body>, E>>
where
    F: std::future::Future<Output = Result<http::Response<Body>, E>> + Send + 'static,
{
    match permit {
        None => answer.boxed(),
        Some(permit) => answer
            .map(|answer| {
                answer.map(|response| response.map(|body| Body::new(Permitted::new(body, permit))))
            })
            .boxed(),
    }
}

fn refused<E: Send + 'static>(error: Error) -> BoxFuture<'static, Result<http::Response<Body>, E>> {
    let refused = error.into_status().into_http();
    async move { Ok(refused) }.boxed()
}
