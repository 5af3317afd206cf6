//! A NATS server with JetStream for the tests that publish to it:
//! `AIMAQ_TEST_NATS_URL` (default `nats://127.0.0.1:4222`). When it is
//! unreachable the tests skip with a message — unless `AIMAQ_REQUIRE_NATS=1`
//! (set by `.ci/run`), where they fail.

use std::time::Duration;

const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// The test NATS server's URL, or None (with a message) when none answers.
pub async fn test_nats_url() -> Option<String> {
    let url = std::env::var("AIMAQ_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.into());
    let required = std::env::var("AIMAQ_REQUIRE_NATS").is_ok_and(|v| v == "1");
    let address = url
        .rsplit("://")
        .next()
        .unwrap_or(&url)
        .rsplit('@')
        .next()
        .unwrap_or(&url)
        .to_owned();
    let reached = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(address.as_str()),
    )
    .await;
    match reached {
        Ok(Ok(_)) => Some(url),
        _ if required => panic!("NATS is required (AIMAQ_REQUIRE_NATS=1) but {url} is unreachable"),
        _ => {
            eprintln!("SKIPPED: NATS JetStream test: {url} is unreachable");
            None
        }
    }
}
