//! The real binary: configured from the environment, serving, and stopping on
//! SIGTERM within its grace period while a change-feed stream is open.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aimaq_proto::governance::v1::WatchChangesRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_testing::{TestTokens, with_token};
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

async fn serving(url: &str) -> bool {
    let Ok(channel) = Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
    else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "aimaq.governance.v1.GovernanceService".into(),
        })
        .await
        .is_ok_and(|a| a.get_ref().status == ServingStatus::Serving as i32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = TestTokens::new();
    let key = dir.path().join("public.pem");
    std::fs::write(&key, &tokens.keys.public_pem).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimaq-governance"))
        .env("AIMAQ_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "AIMAQ_DATABASE_URL",
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("g.sqlite").display()
            ),
        )
        .env("AIMAQ_TOKEN_PUBLIC_KEY", &key)
        .env("AIMAQ_SHUTDOWN_GRACE", "3s")
        .env("AIMAQ_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let started = Instant::now();
    while !serving(&url).await {
        assert!(started.elapsed() < Duration::from_secs(20), "did not start");
        assert!(child.try_wait().unwrap().is_none(), "exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A long-lived call in flight: the change feed's live tail.
    let channel = Endpoint::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
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
