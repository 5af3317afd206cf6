//! Caps on the long-lived calls a server holds open (change feeds, exports):
//! each stream takes a permit for as long as it is open, at most so many per
//! calling system and so many in all; beyond either, RESOURCE_EXHAUSTED. The
//! concurrency limit does not see them: a stream's call returns as soon as its
//! first headers are out.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use aimaq_error::Error;

#[derive(Clone)]
pub struct StreamLimits(Arc<Inner>);

struct Inner {
    per_caller: usize,
    total: usize,
    /// Open streams by caller, and in all.
    open: Mutex<(HashMap<String, usize>, usize)>,
}

/// One open stream; dropping it closes its place.
pub struct StreamPermit {
    limits: Arc<Inner>,
    caller: String,
}

impl StreamLimits {
    pub fn new(per_caller: usize, total: usize) -> StreamLimits {
        StreamLimits(Arc::new(Inner {
            per_caller,
            total,
            open: Mutex::default(),
        }))
    }

    /// A place for one more stream of `caller`, or RESOURCE_EXHAUSTED.
    pub fn open(&self, caller: &str) -> Result<StreamPermit, Error> {
        let mut open = self.0.lock();
        let exhausted = |message: String| Error::ResourceExhausted {
            message,
            retry_after: None,
        };
        if open.1 >= self.0.total {
            return Err(exhausted(format!(
                "the server holds its limit of {} open streams; close one or retry later",
                self.0.total
            )));
        }
        let of_caller = open.0.get(caller).copied().unwrap_or(0);
        if of_caller >= self.0.per_caller {
            return Err(exhausted(format!(
                "{caller} holds its limit of {} open streams on this server; close one first",
                self.0.per_caller
            )));
        }
        open.0.insert(caller.to_owned(), of_caller + 1);
        open.1 += 1;
        Ok(StreamPermit {
            limits: Arc::clone(&self.0),
            caller: caller.to_owned(),
        })
    }

    /// Streams open now, in all.
    pub fn open_streams(&self) -> usize {
        self.0.lock().1
    }
}

impl Default for StreamLimits {
    fn default() -> StreamLimits {
        let limits = aimaq_config::LimitsConfig::default();
        StreamLimits::new(limits.max_streams_per_caller, limits.max_streams)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, usize>, usize)> {
        // Counts are updated whole under the lock: a poisoned one is consistent.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.limits.lock();
        if let Some(count) = open.0.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.0.remove(&self.caller);
            }
        }
        open.1 = open.1.saturating_sub(1);
    }
}

/// A stream that holds its permit until it is dropped.
pub struct Permitted<S> {
    inner: S,
    _permit: StreamPermit,
}

impl<S> Permitted<S> {
    pub fn new(inner: S, permit: StreamPermit) -> Permitted<S> {
        Permitted {
            inner,
            _permit: permit,
        }
    }
}

impl<S: futures::Stream + Unpin> futures::Stream for Permitted<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Permitted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
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
    use super::*;

    #[test]
    fn streams_are_capped_per_caller_and_in_all() {
        let limits = StreamLimits::new(2, 3);
        let a1 = limits.open("a").unwrap();
        let _a2 = limits.open("a").unwrap();
        let refused = limits.open("a").err().unwrap();
        assert!(
            matches!(&refused, Error::ResourceExhausted { message, .. } if message.contains("a holds"))
        );
        let _b1 = limits.open("b").unwrap();
        let refused = limits.open("c").err().unwrap();
        assert!(
            matches!(&refused, Error::ResourceExhausted { message, .. } if message.contains("the server holds"))
        );
        drop(a1);
        assert_eq!(limits.open_streams(), 2);
        assert!(limits.open("c").is_ok(), "a closed stream frees its place");
        assert!(limits.open("a").is_ok());
    }
}
