//! Servers the tests of the scale-out features talk to: NATS with JetStream
//! (`AIMAQ_TEST_NATS_URL`, default `nats://127.0.0.1:4222`) and Redis
//! (`AIMAQ_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`). When one is
//! unreachable its tests skip with a message — unless `AIMAQ_REQUIRE_NATS=1`
//! or `AIMAQ_REQUIRE_REDIS=1` (set by `.ci/run`), where they fail.

use std::time::Duration;

/// The test NATS server's URL, or None (with a message) when none answers.
pub async fn test_nats_url() -> Option<String> {
    reachable(
        "NATS JetStream",
        "AIMAQ_TEST_NATS_URL",
        "nats://127.0.0.1:4222",
        "AIMAQ_REQUIRE_NATS",
    )
    .await
}

/// The test Redis server's URL, or None (with a message) when none answers.
pub async fn test_redis_url() -> Option<String> {
    reachable(
        "Redis",
        "AIMAQ_TEST_REDIS_URL",
        "redis://127.0.0.1:6379",
        "AIMAQ_REQUIRE_REDIS",
    )
    .await
}

async fn reachable(what: &str, variable: &str, default: &str, require: &str) -> Option<String> {
    let url = std::env::var(variable).unwrap_or_else(|_| default.into());
    let required = std::env::var(require).is_ok_and(|v| v == "1");
    // host:port, after the scheme and any credentials, before any path.
    let address = url.rsplit("://").next().unwrap_or(&url);
    let address = address.rsplit('@').next().unwrap_or(address);
    let address = address.split('/').next().unwrap_or(address).to_owned();
    let reached = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(address.as_str()),
    )
    .await;
    match reached {
        Ok(Ok(_)) => Some(url),
        _ if required => panic!("{what} is required ({require}=1) but {url} is unreachable"),
        _ => {
            eprintln!("SKIPPED: {what} test: {url} is unreachable");
            None
        }
    }
}
