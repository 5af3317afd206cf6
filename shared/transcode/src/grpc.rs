//! The gRPC side of a transcoded call: the request as the gRPC stack expects
//! it, and the messages and status of its answer, read frame by frame.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, TE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use http_body::Body as _;
use prost_reflect::MethodDescriptor;
use tonic::body::Body;
use tonic::{Code, Status};

/// The headers of an HTTP request that are not the call's metadata.
const NOT_METADATA: [&str; 8] = [
    "accept",
    "accept-encoding",
    "connection",
    "content-encoding",
    "host",
    "keep-alive",
    "last-event-id",
    "transfer-encoding",
];

/// One message in the gRPC length-prefixed framing (uncompressed).
pub fn frame(message: &[u8]) -> Result<Bytes, Status> {
    let length = u32::try_from(message.len())
        .map_err(|_| Status::invalid_argument("the request is too large"))?;
    let mut framed = BytesMut::with_capacity(message.len() + 5);
    framed.put_u8(0);
    framed.put_u32(length);
    framed.put_slice(message);
    Ok(framed.freeze())
}

/// The gRPC request for `rpc` made from an HTTP request's parts: the same
/// connection facts (extensions), token, language, trace and deadline
/// (`grpc-timeout`), with `body` as its messages.
pub fn request(
    mut parts: http::request::Parts,
    rpc: &MethodDescriptor,
    body: Body,
) -> Result<Request<Body>, Status> {
    let path = format!("/{}/{}", rpc.parent_service().full_name(), rpc.name());
    parts.uri = path
        .parse::<Uri>()
        .map_err(|_| Status::internal("an RPC path that is not a URI"))?;
    parts.method = Method::POST;
    parts.version = http::Version::HTTP_2;
    let headers = &mut parts.headers;
    for name in NOT_METADATA {
        headers.remove(name);
    }
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    Ok(Request::from_parts(parts, body))
}

/// Reads an answer's messages as they come, then its status.
pub struct Answer {
    body: Body,
    buffer: BytesMut,
    /// The status of a call that failed before any message (in the headers).
    headers: HeaderMap,
    done: bool,
    limit: usize,
}

/// What an answer gives next.
pub enum Next {
    Message(Bytes),
    /// The end, with the call's status (OK or not).
    End(Status),
}

impl Answer {
    pub fn new(response: Response<Body>, limit: usize) -> Answer {
        let (parts, body) = response.into_parts();
        Answer {
            body,
            buffer: BytesMut::new(),
            headers: parts.headers,
            done: false,
            limit,
        }
    }

    /// The next message, or the end with the status.
    pub async fn next(&mut self) -> Next {
        loop {
            if let Some(message) = self.take_message() {
                return message;
            }
            if self.done {
                return Next::End(self.final_status(None));
            }
            match std::future::poll_fn(|cx| std::pin::Pin::new(&mut self.body).poll_frame(cx)).await
            {
                None => self.done = true,
                Some(Err(error)) => return Next::End(error),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        self.done = true;
                        let trailers = frame.into_trailers().ok();
                        if self.buffer.is_empty() {
                            return Next::End(self.final_status(trailers));
                        }
                        self.headers.extend(trailers.unwrap_or_default());
                    }
                },
            }
        }
    }

    /// A whole message from the buffer, if one has arrived.
    fn take_message(&mut self) -> Option<Next> {
        if self.buffer.len() < 5 {
            return None;
        }
        let compressed = self.buffer[0] != 0;
        let length = u32::from_be_bytes([
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
        ]);
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        if compressed || length > self.limit {
            self.done = true;
            self.buffer.clear();
            return Some(Next::End(Status::internal(
                "the service answered with a message this gateway cannot read",
            )));
        }
        if self.buffer.len() < 5 + length {
            return None;
        }
        self.buffer.advance(5);
        Some(Next::Message(self.buffer.split_to(length).freeze()))
    }

    fn final_status(&mut self, trailers: Option<HeaderMap>) -> Status {
        let mut map = std::mem::take(&mut self.headers);
        map.extend(trailers.unwrap_or_default());
        Status::from_header_map(&map).unwrap_or_else(|| {
            Status::new(Code::Unknown, "the service's answer ended without a status")
        })
    }
}

/// Whether a request is gRPC (or gRPC-Web) rather than HTTP/JSON.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// The header a client may name to resume a stream of server-sent events.
pub fn last_event_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(HeaderName::from_static("last-event-id"))
        .and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn answer(chunks: Vec<Bytes>, trailers: HeaderMap) -> Answer {
        let frames = chunks
            .into_iter()
            .map(|c| Ok::<_, Status>(http_body::Frame::data(c)))
            .chain(std::iter::once(Ok(http_body::Frame::trailers(trailers))));
        let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
        Answer::new(Response::new(Body::new(body)), 1024)
    }

    fn ok_trailers() -> HeaderMap {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        trailers
    }

    #[tokio::test]
    async fn messages_split_across_chunks_are_joined() {
        let one = frame(b"first").unwrap();
        let two = frame(b"second").unwrap();
        let mut joined = BytesMut::new();
        joined.extend_from_slice(&one);
        joined.extend_from_slice(&two);
        let (a, b) = joined.split_at(7);
        let mut answer = answer(
            vec![Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)],
            ok_trailers(),
        );
        assert!(matches!(answer.next().await, Next::Message(m) if &m[..] == b"first"));
        assert!(matches!(answer.next().await, Next::Message(m) if &m[..] == b"second"));
        assert!(matches!(answer.next().await, Next::End(s) if s.code() == Code::Ok));
    }

    #[tokio::test]
    async fn an_oversized_message_ends_the_answer() {
        let big = frame(&[7; 2048]).unwrap();
        let mut answer = answer(vec![big], ok_trailers());
        assert!(matches!(answer.next().await, Next::End(s) if s.code() == Code::Internal));
    }

    #[tokio::test]
    async fn a_status_in_the_trailers_is_the_answer() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("5"));
        trailers.insert("grpc-message", HeaderValue::from_static("no%20such"));
        let mut answer = answer(vec![], trailers);
        match answer.next().await {
            Next::End(status) => {
                assert_eq!(status.code(), Code::NotFound);
                assert_eq!(status.message(), "no such");
            }
            Next::Message(_) => panic!("a message"),
        }
    }
}
