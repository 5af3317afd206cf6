//! A backend's health follows its database: NOT_SERVING while PostgreSQL
//! cannot be reached (cut off by a proxy the test controls), SERVING again
//! once it can. PostgreSQL only: an embedded SQLite file cannot go away.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aimaq_config::ServerConfig;
use aimaq_testing::{TestDatabase, TestServer, TestTokens};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to `upstream` that can cut every connection and refuse new
/// ones, then let them through again.
struct Proxy {
    address: SocketAddr,
    open: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn to(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let accepting = Arc::clone(&open);
        let cuts = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue;
                }
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { address, open, cut }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

async fn eventually(what: &str, server: &TestServer, serving: bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while aimaq_server::is_serving(&server.url(), &server.client, "").await != serving {
        assert!(Instant::now() < deadline, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_is_not_serving_while_its_database_is_unreachable() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    // postgres://user@host:port/name: the same database, through the proxy.
    let (prefix, rest) = database.url.split_once('@').unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let upstream = tokio::net::lookup_host(authority)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::to(upstream).await;
    let proxied = format!("{prefix}@{}/{path}", proxy.address);

    let tokens = TestTokens::new();
    let server = TestServer::start(database, &tokens, move |config, listener, shutdown| {
        let mut limits = config.limits;
        limits.health_interval = Duration::from_millis(100);
        let config = ServerConfig {
            database_url: proxied.parse().unwrap(),
            limits,
            ..config
        };
        aimaq_governance::run(config, listener, shutdown)
    })
    .await;

    proxy.cut();
    eventually("NOT_SERVING without the database", &server, false).await;
    let service = aimaq_proto::governance::v1::governance_service_server::SERVICE_NAME;
    assert!(!aimaq_server::is_serving(&server.url(), &server.client, service).await);

    proxy.restore();
    eventually("SERVING with the database back", &server, true).await;
    assert!(aimaq_server::is_serving(&server.url(), &server.client, service).await);
}
