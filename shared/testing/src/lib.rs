// A test harness fails loudly: a panic here is a failed test, not a server fault.
#![allow(clippy::expect_used, clippy::unwrap_used)]

//! Test harness shared by every crate: a fresh database per test on SQLite and on
//! PostgreSQL, development tokens, and the macro that runs one test body on both
//! backends.
//!
//! PostgreSQL tests use `AIMAQ_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) to create a uniquely named database,
//! dropped afterwards. When the server is unreachable they skip with a message —
//! unless `AIMAQ_REQUIRE_POSTGRES=1` (set by `.ci/run`), where they fail.

pub mod child;
mod database;
mod external;
pub mod hostile;
mod logkey;
pub mod pki;
pub mod plan;
mod server;
pub mod stub;
pub mod territories;
mod tokens;

pub use database::{Engine, TestDatabase};
pub use external::{test_nats_url, test_redis_url};
pub use logkey::{TEST_LOG_ORIGIN, test_log_key, test_log_verifier_key};
pub use pki::TestPki;
pub use server::{ShutdownSignal, TestServer, init_logs, test_config, with_token};
pub use tokens::TestTokens;

/// Runs an async test body `fn(TestDatabase)` as two tests, `<name>::sqlite` and
/// `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($body:ident),+ $(,)?) => {$(
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::TestDatabase::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(database) = $crate::TestDatabase::postgres().await {
                    super::$body(database).await;
                }
            }
        }
    )+};
}
