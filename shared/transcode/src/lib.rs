//! HTTP/JSON for the gRPC APIs, from the same contract: each RPC's
//! `google.api.http` rule (AIP-127) makes it a resource-oriented HTTP method,
//! and a call is transcoded into a gRPC call on the server's own stack, so it
//! meets the same token check, rate limits, deadline (`grpc-timeout`),
//! validation and idempotency (`request_id`) as a gRPC caller. Answers are
//! proto3 JSON; failures are `google.rpc.Status` JSON with the HTTP code of
//! AIP-193. Server streams are NDJSON, or Server-Sent Events for change
//! feeds; a client stream is sent as a JSON array or NDJSON. The OpenAPI 3.1
//! document is at `/openapi.json`, and a page of it, needing no network, at
//! `/docs`.

mod deadline;
mod docs;
mod grpc;
mod input;
mod openapi;
mod route;
mod status;
mod stream;

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{Layer, Service, ServiceExt as _};

pub use deadline::{caller_deadline, grpc_timeout};
use grpc::{Answer, Next};
pub use input::set_from_text;
use route::Route;
pub use status::http_code;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The server's stack within the layer, as a transcoded call meets it.
type Inner = tower::util::BoxService<Request<Body>, Response<Body>, BoxError>;

/// The most bytes of a client-streaming request body (a JSON array or NDJSON
/// of import batches): each batch is bounded as a message is.
pub const MAX_STREAM_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The HTTP/JSON API of every RPC with an HTTP rule in the descriptors.
pub struct JsonApi {
    pool: DescriptorPool,
    routes: Vec<Route>,
    openapi: Bytes,
    docs: Bytes,
    /// The most bytes of one message, as the gRPC API allows.
    limit: usize,
}

/// Why the HTTP/JSON API could not be made from the descriptors.
#[derive(Debug, thiserror::Error)]
#[error("HTTP/JSON API: {0}")]
pub struct JsonApiError(String);

/// Where a request goes.
enum Found<'a> {
    Route(&'a Route, Vec<(String, String)>),
    /// The path exists, for other methods.
    OtherMethods(Vec<Method>),
    Nothing,
}

impl JsonApi {
    /// The API of the RPCs in `descriptors` (an encoded `FileDescriptorSet`
    /// that includes `google.api.http` and `google.rpc.Status`), for messages
    /// of at most `limit` bytes.
    pub fn new(descriptors: &[u8], limit: usize) -> Result<JsonApi, JsonApiError> {
        let pool = DescriptorPool::decode(descriptors).map_err(|e| JsonApiError(e.to_string()))?;
        let routes = route::routes(&pool).map_err(JsonApiError)?;
        let document = openapi::document(&routes);
        let docs = Bytes::from(docs::page(&document));
        let openapi = serde_json::to_vec(&document).map_err(|e| JsonApiError(e.to_string()))?;
        Ok(JsonApi {
            pool,
            routes,
            openapi: Bytes::from(openapi),
            docs,
            limit,
        })
    }

    /// The OpenAPI document, as served at `/openapi.json`.
    pub fn openapi(&self) -> &Bytes {
        &self.openapi
    }

    fn find(&self, method: &Method, path: &str) -> Found<'_> {
        let mut others = Vec::new();
        for route in &self.routes {
            if let Some(bindings) = route.template.matches(path) {
                if route.method == *method {
                    return Found::Route(route, bindings);
                }
                others.push(route.method.clone());
            }
        }
        others.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        if others.is_empty() {
            Found::Nothing
        } else {
            Found::OtherMethods(others)
        }
    }

    /// The answer to an HTTP request that is not gRPC.
    async fn answer(self: Arc<Self>, inner: Inner, request: Request<Body>) -> Response<Body> {
        let path = request.uri().path().to_string();
        if request.method() == Method::GET {
            match path.as_str() {
                "/openapi.json" => return fixed(self.openapi.clone(), status::JSON),
                "/docs" => return fixed(self.docs.clone(), "text/html; charset=utf-8"),
                _ => {}
            }
        }
        let refused = match self.find(request.method(), &path) {
            Found::Route(route, bindings) => {
                let route = route.clone();
                let answered = match (
                    route.rpc.is_client_streaming(),
                    route.rpc.is_server_streaming(),
                ) {
                    (false, false) => self.unary(inner, &route, &bindings, request).await,
                    (false, true) => {
                        stream::server_stream(&self, inner, &route, &bindings, request).await
                    }
                    (true, false) => {
                        stream::client_stream(&self, inner, &route, &bindings, request).await
                    }
                    (true, true) => Err(Status::unimplemented(
                        "a bidirectional stream has no HTTP form",
                    )),
                };
                match answered {
                    Ok(response) => return response,
                    Err(status) => status,
                }
            }
            Found::OtherMethods(methods) => {
                let allowed: Vec<_> = methods.iter().map(Method::as_str).collect();
                let mut response = status::json_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &status::status_json(
                        &Status::unimplemented(format!("{path} answers {}", allowed.join(", "))),
                        &self.pool,
                    ),
                );
                if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                    response.headers_mut().insert(http::header::ALLOW, value);
                }
                return response;
            }
            Found::Nothing => Status::not_found(format!("no method at {path}: see /openapi.json")),
        };
        status::error_response(&refused, &self.pool)
    }

    /// A unary call: one JSON request, one JSON answer.
    async fn unary(
        &self,
        inner: Inner,
        route: &Route,
        bindings: &[(String, String)],
        request: Request<Body>,
    ) -> Result<Response<Body>, Status> {
        let (parts, body) = request.into_parts();
        let body = read_body(body, self.limit).await?;
        let message = input::build(route, bindings, parts.uri.query(), &body)?;
        let framed = grpc::frame(&message.encode_to_vec())?;
        let answer = self
            .call(
                inner,
                parts,
                route,
                Body::new(http_body_util::Full::new(framed)),
            )
            .await?;
        self.only_reply(answer, route).await
    }

    /// The one message of a single answer, as JSON, or the call's failure.
    async fn only_reply(
        &self,
        mut answer: Answer,
        route: &Route,
    ) -> Result<Response<Body>, Status> {
        let reply = match answer.next().await {
            Next::Message(reply) => reply,
            Next::End(status) if status.code() == Code::Ok => {
                return Err(Status::internal("the service answered without a message"));
            }
            Next::End(status) => return Err(status),
        };
        match answer.next().await {
            Next::End(status) if status.code() == Code::Ok => {}
            Next::End(status) => return Err(status),
            Next::Message(_) => return Err(Status::internal("the service answered twice")),
        }
        let reply = self.decode(route, &reply)?;
        Ok(status::json_response(
            StatusCode::OK,
            &status::message_json(&reply),
        ))
    }

    /// Sends a gRPC call with `body` through the server's stack.
    async fn call(
        &self,
        inner: Inner,
        parts: http::request::Parts,
        route: &Route,
        body: Body,
    ) -> Result<Answer, Status> {
        let request = grpc::request(parts, &route.rpc, body)?;
        let response = inner.oneshot(request).await.map_err(Status::from_error)?;
        Ok(Answer::new(response, self.limit))
    }

    fn decode(&self, route: &Route, reply: &[u8]) -> Result<DynamicMessage, Status> {
        DynamicMessage::decode(route.rpc.output(), reply)
            .map_err(|_| Status::internal("the service's answer does not match its contract"))
    }
}

/// A request's whole body, refused beyond `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Status> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(
            Status::resource_exhausted(format!("the request body is larger than {limit} bytes")),
        ),
        Err(error) => Err(Status::invalid_argument(format!(
            "the request body could not be read: {error}"
        ))),
    }
}

fn fixed(bytes: Bytes, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(bytes)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Serves HTTP/JSON in front of a gRPC stack; gRPC calls pass untouched.
#[derive(Clone)]
pub struct JsonLayer {
    api: Arc<JsonApi>,
}

impl JsonLayer {
    pub fn new(api: Arc<JsonApi>) -> JsonLayer {
        JsonLayer { api }
    }
}

impl<S> Layer<S> for JsonLayer {
    type Service = JsonService<S>;

    fn layer(&self, inner: S) -> JsonService<S> {
        JsonService {
            inner,
            api: self.api.clone(),
        }
    }
}

#[derive(Clone)]
pub struct JsonService<S> {
    inner: S,
    api: Arc<JsonApi>,
}

impl<S, ResBody> Service<Request<Body>> for JsonService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if grpc::is_grpc(request.headers()) {
            let answer = self.inner.call(request);
            return Box::pin(async move { Ok(answer.await?.map(Body::new)) });
        }
        // The clone is not ready; the one polled ready is taken for the call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let inner = Inner::new(
            inner
                .map_response(|response: Response<ResBody>| response.map(Body::new))
                .map_err(Into::into),
        );
        let api = self.api.clone();
        // Bounded here, before tonic's own timer on the same header can
        // answer in gRPC's form.
        let deadline = caller_deadline(request.headers());
        Box::pin(async move {
            let Some(limit) = deadline else {
                return Ok(api.answer(inner, request).await);
            };
            let answered = tokio::time::timeout(limit, api.clone().answer(inner, request)).await;
            Ok(answered.unwrap_or_else(|_| {
                let late =
                    Status::deadline_exceeded(format!("the call did not finish within {limit:?}"));
                status::error_response(&late, &api.pool)
            }))
        })
    }
}
