//! Why a call got no answer, and whether the server may have run it: what a
//! caller needs to know before sending it again.

use std::fmt;

use tonic::body::Body;

/// How far a failed call got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// It never left: no connection could be made, the connection closed
    /// before the call was handed to it, or the server refused the stream
    /// (HTTP/2 REFUSED_STREAM, which promises the request was not processed).
    NotSent,
    /// It was sent and the connection failed before the answer came: the
    /// server may have run it.
    Lost,
    /// An answer came that this side refused to read (a header block over the
    /// size limit, a protocol error): the server ran it; sending it again
    /// would run it again for the same unreadable answer.
    Unreadable,
}

/// A call that got no answer.
pub struct SendError {
    pub reach: Reach,
    pub error: tower::BoxError,
    /// The request itself, when it never left and is whole: it may be sent again.
    pub unsent: Option<http::Request<Body>>,
}

impl SendError {
    pub(crate) fn not_sent(
        error: impl Into<tower::BoxError>,
        request: Option<http::Request<Body>>,
    ) -> SendError {
        SendError {
            reach: Reach::NotSent,
            error: error.into(),
            unsent: request,
        }
    }

    /// A failure of hyper's after the request was handed to the connection.
    pub(crate) fn after_handing(error: hyper::Error) -> SendError {
        let reach = match http2_error(&error) {
            Some(h2) if h2.is_remote() && h2.reason() == Some(h2::Reason::REFUSED_STREAM) => {
                Reach::NotSent
            }
            Some(h2) if h2.is_library() => Reach::Unreadable,
            _ => Reach::Lost,
        };
        SendError {
            reach,
            error: error.into(),
            unsent: None,
        }
    }
}

fn http2_error(error: &hyper::Error) -> Option<&h2::Error> {
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        if let Some(h2) = error.downcast_ref::<h2::Error>() {
            return Some(h2);
        }
        cause = error.source();
    }
    None
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("reach", &self.reach)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error.as_ref())
    }
}
