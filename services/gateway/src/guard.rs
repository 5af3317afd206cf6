//! What every call through the gateway passes first: its bearer token verified
//! against the certificate the call came with (the backends verify it again,
//! and the views pass it on), and its caller's rate limit. The certificate is
//! passed on to the backends in a header of ours; a caller's own header of that
//! name is replaced. Long-lived streams (change feeds, exports) hold a place
//! among each caller's capped open streams for as long as they are open.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use aimaq_auth::{Authenticator, FORWARDED_CERTIFICATE, Peer, forwarded_value};
use aimaq_error::Error;
use aimaq_server::{Permitted, StreamLimits, StreamPermit};
use futures::future::{BoxFuture, FutureExt};
use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

use crate::domain::rate::RateLimits;

/// Token verification and per-caller rate limits, shared by every guarded service.
#[derive(Clone)]
pub struct Guard {
    authenticator: Authenticator,
    limits: Arc<Mutex<RateLimits>>,
    streams: StreamLimits,
}

impl Guard {
    pub fn new(authenticator: Authenticator, limits: RateLimits) -> Guard {
        Guard {
            authenticator,
            limits: Arc::new(Mutex::new(limits)),
            streams: StreamLimits::default(),
        }
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

    /// The caller of `request`, within its rate, with the certificate it came
    /// with put in the header the backends read it from; a stream's place
    /// among the caller's open streams.
    fn admit(&self, request: &mut http::Request<Body>) -> Result<Option<StreamPermit>, Error> {
        let peer = request.extensions().get::<Peer>();
        let caller = self.authenticator.authenticate(request.headers(), peer)?;
        self.rate_limit(&caller)?;
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

    fn rate_limit(&self, caller: &aimaq_auth::Caller) -> Result<(), Error> {
        let admitted = match self.limits.lock() {
            Ok(mut limits) => limits.admit(&caller.subject, &caller.agency, Instant::now()),
            Err(poisoned) => {
                poisoned
                    .into_inner()
                    .admit(&caller.subject, &caller.agency, Instant::now())
            }
        };
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
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
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
        match self.guard.admit(&mut request) {
            Ok(None) => self.inner.call(request).boxed(),
            Ok(Some(permit)) => self
                .inner
                .call(request)
                .map(|answer| {
                    answer.map(|response| {
                        response.map(|body| Body::new(Permitted::new(body, permit)))
                    })
                })
                .boxed(),
            Err(error) => {
                let refused = error.into_status().into_http();
                async move { Ok(refused) }.boxed()
            }
        }
    }
}
