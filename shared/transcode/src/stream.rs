//! Streams over HTTP. A server stream is newline-delimited JSON, one message a
//! line, or Server-Sent Events when the caller accepts `text/event-stream`:
//! each event's id is the message's `sequence` (its own or its `event`'s), and
//! a caller that reconnects with `Last-Event-ID` resumes after it (the
//! request's `after_sequence`). A failure after the first message ends the
//! stream with an error line (`{"error": …}`) or an `error` event. A client
//! stream is sent as one JSON array of requests, or as NDJSON.

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response};
use http_body::Frame;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage as _, Value,
};
use tonic::body::Body;
use tonic::{Code, Status};

use crate::grpc::{self, Next};
use crate::route::Route;
use crate::{Inner, JsonApi, MAX_STREAM_BODY_BYTES, input, read_body, status};

/// How a server stream is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Lines,
    Events,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Lines => "application/x-ndjson",
            Format::Events => "text/event-stream",
        }
    }
}

/// A server-streaming call.
pub async fn server_stream(
    api: &JsonApi,
    inner: Inner,
    route: &Route,
    bindings: &[(String, String)],
    request: Request<Body>,
) -> Result<Response<Body>, Status> {
    let format = if accepts_events(request.headers()) {
        Format::Events
    } else {
        Format::Lines
    };
    let resume = grpc::last_event_id(request.headers()).map(str::to_string);
    let (parts, body) = request.into_parts();
    let body = read_body(body, api.limit).await?;
    let mut message = input::build(route, bindings, parts.uri.query(), &body)?;
    if let Some(after) = resume {
        resume_after(&mut message, &after)?;
    }
    let framed = grpc::frame(&message.encode_to_vec())?;
    let mut answer = api
        .call(
            inner,
            parts,
            route,
            Body::new(http_body_util::Full::new(framed)),
        )
        .await?;
    // The HTTP status is chosen once the first message or the failure is known.
    let first = match answer.next().await {
        Next::End(status) if status.code() != Code::Ok => return Err(status),
        first => first,
    };
    let writer = Writer {
        output: route.rpc.output(),
        pool: api.pool.clone(),
        format,
    };
    let frames = futures::stream::unfold(
        (Some(first), answer, writer, false),
        |(pending, mut answer, writer, ended)| async move {
            if ended {
                return None;
            }
            let next = match pending {
                Some(next) => next,
                None => answer.next().await,
            };
            let (chunk, ended) = writer.write(next);
            Some((
                Ok::<_, Status>(Frame::data(chunk)),
                (None, answer, writer, ended),
            ))
        },
    );
    let mut response = Response::new(Body::new(http_body_util::StreamBody::new(frames)));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn accepts_events(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// Sets the request's `after_sequence` from a `Last-Event-ID`.
fn resume_after(message: &mut DynamicMessage, last_event_id: &str) -> Result<(), Status> {
    let field = message
        .descriptor()
        .get_field_by_name("after_sequence")
        .ok_or_else(|| invalid("Last-Event-ID", "this stream cannot be resumed"))?;
    let after: u64 = last_event_id
        .trim()
        .parse()
        .map_err(|_| invalid("Last-Event-ID", "not an event id of this stream"))?;
    message.set_field(&field, Value::U64(after));
    Ok(())
}

fn invalid(field: &str, description: &str) -> Status {
    aimaq_error::Error::invalid(field, description).into_status()
}

/// Writes a stream's messages and its end.
struct Writer {
    output: MessageDescriptor,
    pool: DescriptorPool,
    format: Format,
}

impl Writer {
    /// The bytes for `next`, and whether the stream has ended.
    fn write(&self, next: Next) -> (Bytes, bool) {
        match next {
            Next::Message(bytes) => match DynamicMessage::decode(self.output.clone(), bytes) {
                Ok(message) => (self.message(&message), false),
                Err(_) => (
                    self.failure(&Status::internal(
                        "the service's answer does not match its contract",
                    )),
                    true,
                ),
            },
            Next::End(status) if status.code() == Code::Ok => (Bytes::new(), true),
            Next::End(status) => (self.failure(&status), true),
        }
    }

    fn message(&self, message: &DynamicMessage) -> Bytes {
        let json = status::message_json(message);
        let mut out = BytesMut::new();
        if self.format == Format::Events {
            if let Some(sequence) = sequence_of(message) {
                out.extend_from_slice(format!("id: {sequence}\n").as_bytes());
            }
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(json.to_string().as_bytes());
            out.extend_from_slice(b"\n\n");
        } else {
            out.extend_from_slice(json.to_string().as_bytes());
            out.extend_from_slice(b"\n");
        }
        out.freeze()
    }

    fn failure(&self, failure: &Status) -> Bytes {
        let json = status::status_json(failure, &self.pool);
        let text = match self.format {
            Format::Events => format!("event: error\ndata: {json}\n\n"),
            Format::Lines => format!("{}\n", serde_json::json!({ "error": json })),
        };
        Bytes::from(text)
    }
}

/// A message's `sequence`, or its `event`'s.
fn sequence_of(message: &DynamicMessage) -> Option<u64> {
    let own = |message: &DynamicMessage| match message.get_field_by_name("sequence").as_deref() {
        Some(Value::U64(n)) => Some(*n),
        Some(Value::I64(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    own(message).or_else(|| match message.get_field_by_name("event").as_deref() {
        Some(Value::Message(event)) => own(event),
        _ => None,
    })
}

/// A client-streaming call: the body is a JSON array of requests or one
/// request a line.
pub async fn client_stream(
    api: &JsonApi,
    inner: Inner,
    route: &Route,
    bindings: &[(String, String)],
    request: Request<Body>,
) -> Result<Response<Body>, Status> {
    let (parts, body) = request.into_parts();
    let body = read_body(body, MAX_STREAM_BODY_BYTES).await?;
    let mut framed = BytesMut::new();
    for (index, element) in elements(&body)?.into_iter().enumerate() {
        let message = input::build(route, bindings, parts.uri.query(), &element)
            .map_err(|refused| at_element(index, &refused))?;
        let encoded = message.encode_to_vec();
        if encoded.len() > api.limit {
            return Err(invalid(
                &format!("body[{index}]"),
                "larger than one message may be",
            ));
        }
        framed.extend_from_slice(&grpc::frame(&encoded)?);
    }
    let body = Body::new(http_body_util::Full::new(framed.freeze()));
    let answer = api.call(inner, parts, route, body).await?;
    api.only_reply(answer, route).await
}

/// The JSON texts of a client stream's requests.
fn elements(body: &[u8]) -> Result<Vec<Vec<u8>>, Status> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let array: Vec<Box<serde_json::value::RawValue>> = serde_json::from_slice(body)
            .map_err(|error| invalid("body", &format!("not a JSON array of requests: {error}")))?;
        return Ok(array
            .into_iter()
            .map(|raw| raw.get().as_bytes().to_vec())
            .collect());
    }
    Ok(body
        .split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect())
}

/// A refusal of one element, named by its place in the body.
fn at_element(index: usize, refused: &Status) -> Status {
    let described = refused.message().replacen("invalid request: ", "", 1);
    invalid(&format!("body[{index}]"), &described)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_client_stream_is_an_array_or_lines() {
        let array = elements(br#" [{"a":1}, {"b":[2,3]}] "#).unwrap();
        assert_eq!(
            array,
            vec![br#"{"a":1}"#.to_vec(), br#"{"b":[2,3]}"#.to_vec()]
        );
        let lines = elements(b"{\"a\":1}\n\n{\"b\":2}\n").unwrap();
        assert_eq!(lines.len(), 2);
        assert!(elements(b"[{\"a\":1}").is_err());
    }

    #[test]
    fn events_carry_the_sequence_as_their_id() {
        let pool = DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).unwrap();
        let output = pool
            .get_message_by_name("aimaq.budget.v1.WatchChangesResponse")
            .unwrap();
        let message = DynamicMessage::deserialize(
            output.clone(),
            serde_json::json!({"event": {"sequence": "42"}}),
        )
        .unwrap();
        let writer = Writer {
            output,
            pool,
            format: Format::Events,
        };
        let text = String::from_utf8(writer.message(&message).to_vec()).unwrap();
        assert!(text.starts_with("id: 42\ndata: {"), "{text}");
        assert!(text.ends_with("}\n\n"));
        let failure = writer.failure(&Status::unavailable("draining"));
        assert!(String::from_utf8_lossy(&failure).starts_with("event: error\ndata: {\"code\":14"));
    }
}
