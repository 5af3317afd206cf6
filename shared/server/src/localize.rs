//! Every refusal a server answers carries a `google.rpc.LocalizedMessage` in
//! the caller's language, from the `accept-language` header (kk, ru or en;
//! English when absent or another). Refusals sent as a trailers-only response
//! (every unary refusal) get it; a stream that fails after its first message
//! keeps the English text only.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use aimaq_types::Language;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tower::{Layer, Service};

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
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let language = request
            .headers()
            .get("accept-language")
            .and_then(|value| value.to_str().ok())
            .map_or(Language::En, Language::from_header);
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            localize(response.headers_mut(), language);
            Ok(response)
        })
    }
}

/// Adds the localized message to a refusal in `headers`, unless it has one
/// (a backend's answer forwarded by the gateway).
fn localize(headers: &mut http::HeaderMap, language: Language) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    if status.code() == Code::Ok {
        return;
    }
    let mut details = status.get_error_details();
    if details.localized_message().is_some() {
        return;
    }
    let text = aimaq_error::localized(language, status.code(), status.message(), &details);
    details.set_localized_message(language.tag(), text);
    let localized = Status::with_error_details(status.code(), status.message(), details);
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

    #[test]
    fn success_is_left_alone() {
        let mut headers = http::HeaderMap::new();
        localize(&mut headers, Language::Kk);
        assert!(headers.is_empty());
    }
}
