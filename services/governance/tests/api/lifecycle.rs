//! The real binary: configured from the environment only, migrating on request,
//! serving, and stopping on SIGTERM within its grace period while a change-feed
//! stream is open.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aimaq_proto::governance::v1::WatchChangesRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_testing::{TestPki, TestTokens, with_token};
use sea_orm::ConnectionTrait;

async fn serving(url: &str) -> bool {
    let client = TestPki::get().client();
    aimaq_server::is_serving(url, &client, "aimaq.governance.v1.GovernanceService").await
}

fn database_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("g.sqlite").display())
}

/// The binary configured by environment variables, on a free port.
fn binary(dir: &Path, tokens: &TestTokens) -> (Command, String) {
    let pki = TestPki::get();
    let keys = dir.join("token-keys");
    tokens.keys.publish(&keys).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_aimaq-governance"));
    command
        .env("AIMAQ_LISTEN", format!("127.0.0.1:{port}"))
        .env("AIMAQ_DATABASE_URL", database_url(dir))
        .env("AIMAQ_TOKEN_KEYS", &keys)
        .env("AIMAQ_TLS_CERT", &pki.server.cert)
        .env("AIMAQ_TLS_KEY", &pki.server.key)
        .env("AIMAQ_TLS_CLIENT_CA", &pki.ca)
        .env("AIMAQ_SHUTDOWN_GRACE", "3s")
        .env("AIMAQ_LOG", "warn")
        .stdout(Stdio::null());
    (command, format!("https://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_only_creates_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut command, url) = binary(dir.path(), &TestTokens::new());
    let status = command.env("AIMAQ_MIGRATE", "only").status().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!serving(&url).await, "a migration run serves nothing");
    let db = sea_orm::Database::connect(database_url(dir.path()))
        .await
        .unwrap();
    for table in [
        "territories",
        "audit_log",
        "change_events",
        "idempotency_keys",
    ] {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                format!("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{table}'"),
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{table} exists");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = TestTokens::new();
    let (mut command, url) = binary(dir.path(), &tokens);
    let mut child = command.spawn().unwrap();

    let started = Instant::now();
    while !serving(&url).await {
        assert!(started.elapsed() < Duration::from_secs(20), "did not start");
        assert!(child.try_wait().unwrap().is_none(), "exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A long-lived call in flight: the change feed's live tail.
    let channel = aimaq_tls::Target::parse(&url, &TestPki::get().client())
        .unwrap()
        .channel();
    let mut feed = GovernanceServiceClient::new(channel)
        .watch_changes(with_token(WatchChangesRequest::default(), &tokens.admin()))
        .await
        .unwrap()
        .into_inner();

    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "did not exit within the grace period"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    // The feed ended with the server, and nothing listens any more.
    assert!(!matches!(feed.message().await, Ok(Some(_))));
    assert!(!serving(&url).await);
}
