//! Browsers: gRPC-Web (and the HTTP/JSON API), and the origins whose pages
//! may call (CORS). A page of another origin may call only if its origin is
//! listed: none are by default.

use std::time::Duration;

use http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Uri};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// What a gRPC-Web or HTTP/JSON call sends beyond a browser's simple headers.
const ASKED_HEADERS: [&str; 5] = [
    "grpc-timeout",
    "x-grpc-web",
    "x-user-agent",
    "traceparent",
    "last-event-id",
];
/// What a page may read of the answer: the status, when a call fails before
/// any message (the answer is then headers only).
const EXPOSED_HEADERS: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];
/// How long a browser may remember a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS rules for pages of `origins`.
pub fn cors(origins: &[HeaderValue]) -> CorsLayer {
    let asked = ASKED_HEADERS.map(HeaderName::from_static);
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        // POST for gRPC-Web; the HTTP/JSON API's methods besides.
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        .allow_headers(
            [AUTHORIZATION, CONTENT_TYPE, ACCEPT_LANGUAGE]
                .into_iter()
                .chain(asked)
                .collect::<Vec<_>>(),
        )
        .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
        .max_age(PREFLIGHT_MAX_AGE)
}

/// An origin as a browser sends it: `https://host` or `http://host:port`,
/// nothing more (no path, no wildcard).
pub fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let refused = || {
        format!(
            "{text:?} is not an origin: give scheme://host[:port], as https://portal.example.kz"
        )
    };
    let uri: Uri = text.parse().map_err(|_| refused())?;
    let scheme_known = matches!(uri.scheme_str(), Some("https" | "http"));
    let bare = uri.path() == "/" && uri.query().is_none() && !text.ends_with('/');
    let host = uri
        .host()
        .is_some_and(|h| !h.is_empty() && !h.contains('*'));
    if !(scheme_known && bare && host) {
        return Err(refused());
    }
    HeaderValue::from_str(text).map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_a_scheme_and_a_host() {
        for origin in [
            "https://portal.example.kz",
            "http://localhost:5173",
            "https://10.0.0.7:8443",
        ] {
            assert_eq!(parse_origin(origin).unwrap(), origin);
        }
        for text in [
            "*",
            "portal.example.kz",
            "https://portal.example.kz/",
            "https://portal.example.kz/app",
            "https://*.example.kz",
            "ftp://portal.example.kz",
            "https://portal.example.kz?x=1",
            "",
        ] {
            let refused = parse_origin(text).unwrap_err();
            assert!(refused.contains("not an origin"), "{text}: {refused}");
        }
    }
}
