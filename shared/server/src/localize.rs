//! Every refusal a server answers carries a `google.rpc.LocalizedMessage` in
//! the caller's language, from the `accept-language` header (kk, ru or en;
//! English when absent or another): a refusal sent as a trailers-only response
//! (every unary refusal), one made by the layers outside the service (a
//! deadline cut, a shed call), and a stream that fails after its first
//! message, in its trailers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use aimaq_types::Language;
use http_body::{Body, Frame, SizeHint};
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tower::{BoxError, Layer, Service};

#[derive(Clone, Copy, Debug, Default)]
pub struct LocalizeLayer;

impl<S> Layer<S> for LocalizeLayer {
    type Service = Localize<S>;

    fn layer(&self, inner: S) -> Localize<S> {
        Localize { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Localize<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for Localize<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    R: Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    R::Error: Into<BoxError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let language = request
            .headers()
            .get("accept-language")
            .and_then(|value| value.to_str().ok())
            .map_or(Language::En, Language::from_header);
        let response = self.inner.call(request);
        Box::pin(async move {
            match response.await {
                Ok(mut response) => {
                    localize(response.headers_mut(), language);
                    Ok(response
                        .map(|inner| tonic::body::Body::new(LocalizedBody { inner, language })))
                }
                // A refusal of a layer inside this one (a deadline, a shed
                // call) becomes the response later: localized here.
                Err(error) => Err(match error.into().downcast::<Status>() {
                    Ok(status) => Box::new(localized(&status, language).unwrap_or(*status)),
                    Err(other) => other,
                }),
            }
        })
    }
}

/// A response body whose trailers, when they carry a refusal, get the
/// caller's language.
pub struct LocalizedBody<B> {
    inner: B,
    language: Language,
}

impl<B: Body + Unpin> Body for LocalizedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let language = self.language;
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(frame.map(|frame| {
            frame.map(|frame| match frame.into_trailers() {
                Ok(mut trailers) => {
                    localize(&mut trailers, language);
                    Frame::trailers(trailers)
                }
                Err(frame) => frame,
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `status` with the localized message added; none when it is not a refusal
/// or already has one (a backend's answer forwarded by the gateway).
fn localized(status: &Status, language: Language) -> Option<Status> {
    if status.code() == Code::Ok {
        return None;
    }
    let mut details = status.get_error_details();
    if details.localized_message().is_some() {
        return None;
    }
    let text = aimaq_error::localized(language, status.code(), status.message(), &details);
    details.set_localized_message(language.tag(), text);
    Some(Status::with_error_details(
        status.code(),
        status.message(),
        details,
    ))
}

/// Adds the localized message to a refusal in `headers` (or trailers).
fn localize(headers: &mut http::HeaderMap, language: Language) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let Some(localized) = localized(&status, language) else {
        return;
    };
    if localized.add_header(headers).is_err() {
        tracing::warn!(code = ?status.code(), "a refusal could not carry its localized message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: &Status) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        headers
    }

    #[test]
    fn a_refusal_gets_the_callers_language_once() {
        let status = aimaq_error::Error::invalid("iin", "bad check digit").into_status();
        let mut headers = refusal(&status);
        localize(&mut headers, Language::Ru);
        let localized = Status::from_header_map(&headers).unwrap();
        assert_eq!(localized.code(), Code::InvalidArgument);
        assert_eq!(localized.message(), status.message());
        let details = localized.get_error_details();
        let message = details.localized_message().unwrap();
        assert_eq!(message.locale, "ru");
        assert_eq!(message.message, "Запрос отклонён, проверьте поля: iin.");
        assert_eq!(details.bad_request().unwrap().field_violations.len(), 1);
        // Forwarded again in another language: the first stays.
        localize(&mut headers, Language::Kk);
        let again = Status::from_header_map(&headers).unwrap();
        assert_eq!(
            again
                .get_error_details()
                .localized_message()
                .unwrap()
                .locale,
            "ru"
        );
    }

    fn localized_text(status: &Status) -> (String, String) {
        let details = status.get_error_details();
        let message = details.localized_message().unwrap();
        (message.locale.clone(), message.message.clone())
    }

    /// A deadline cut or a shed call, refused by a layer inside, is localized
    /// on its way out.
    #[tokio::test]
    async fn a_refusal_of_an_inner_layer_is_localized() {
        use tower::ServiceExt;
        let cut = tower::service_fn(|_: http::Request<()>| async {
            Err::<http::Response<String>, BoxError>(Box::new(Status::deadline_exceeded(
                "the call did not finish within 30s",
            )))
        });
        let request = http::Request::builder()
            .header("accept-language", "kk")
            .body(())
            .unwrap();
        let error = LocalizeLayer.layer(cut).oneshot(request).await.unwrap_err();
        let status = error.downcast::<Status>().unwrap();
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert_eq!(
            localized_text(&status),
            ("kk".into(), "Жауап күту уақыты өтті.".into())
        );
    }

    /// A stream failing after its first message says so in its trailers, in
    /// the caller's language; an OK end is left alone.
    #[tokio::test]
    async fn a_stream_failing_midway_is_localized_in_its_trailers() {
        use http_body_util::BodyExt;
        for (status, localized_to) in [
            (Status::unavailable("the database went away"), Some("ru")),
            (Status::ok(""), None),
        ] {
            let frames = vec![
                Ok::<_, std::convert::Infallible>(Frame::data(bytes::Bytes::from_static(b"x"))),
                Ok(Frame::trailers(refusal(&status))),
            ];
            let body = LocalizedBody {
                inner: http_body_util::StreamBody::new(futures::stream::iter(frames)),
                language: Language::Ru,
            };
            let trailers = body.collect().await.unwrap().trailers().cloned().unwrap();
            let status = Status::from_header_map(&trailers).unwrap();
            let locale = status
                .get_error_details()
                .localized_message()
                .map(|m| m.locale.clone());
            assert_eq!(locale.as_deref(), localized_to);
        }
    }

    #[test]
    fn success_is_left_alone() {
        let mut headers = http::HeaderMap::new();
        localize(&mut headers, Language::Kk);
        assert!(headers.is_empty());
    }
}
