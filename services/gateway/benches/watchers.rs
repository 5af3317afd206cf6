//! Open `WatchChanges` streams on one governance server: the database queries
//! its change feed makes a second while territories are written at a steady
//! rate, and the server's own memory per open stream, for 0, 100, 1,000 and
//! 10,000 streams. The server runs in a process of its own, so its memory
//! and its metrics (`aimaq_feed_queries_total`) are its alone.
//!
//!     cargo bench -p aimaq-gateway --bench watchers
//!
//! Runs on SQLite, and on PostgreSQL when `AIMAQ_TEST_POSTGRES_URL` (default
//! postgres://postgres@127.0.0.1:5432/test) is reachable. Prints a Markdown table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    TerritoryInput, TerritoryKind, UpsertTerritoryRequest, WatchChangesRequest,
};
use aimaq_testing::{TestDatabase, TestTokens, with_token};

mod servers;
use servers::{ServerProcess, connect};

const WATCHERS: [usize; 4] = [0, 100, 1_000, 10_000];
/// Streams per connection, under the server's 256 calls at once.
const STREAMS_PER_CONNECTION: usize = 200;
const WRITES_PER_SECOND: u64 = 5;
const WINDOW: Duration = Duration::from_secs(10);
const REGION: &str = "710000000";

fn main() {
    if servers::served_as_child(|role, _, _| async move { panic!("no role {role} here") }) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("| backend | streams | tail queries/s | replay queries/s | all queries/s, over none open | last event at every stream, after its write was answered | server's own memory | per stream | server's peak resident |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        run("SQLite", None).await;
        match TestDatabase::postgres().await {
            Some(database) => run("PostgreSQL", Some(database)).await,
            None => eprintln!("PostgreSQL not reachable: measured on SQLite only"),
        }
    });
}

/// What one number of open streams measured.
struct Figures {
    tail: f64,
    replay: f64,
    delivered_after: Duration,
    memory: f64,
}

async fn run(backend: &str, database: Option<TestDatabase>) {
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let metrics = free_address();
    let mut settings = vec![
        (servers::MAX_STREAMS, "20000".to_owned()),
        (servers::METRICS, metrics.to_string()),
    ];
    if let Some(database) = &database {
        settings.push((servers::DATABASE, database.url.clone()));
    }
    let server = ServerProcess::start("governance", "governance", &settings, &tokens).await;
    eprintln!("{backend}: {} at {}", server.name, server.url());
    let mut writer = Writer::new(GovernanceServiceClient::new(server.channel().await), &token);
    writer.create().await;
    let mut baseline = None;
    for count in WATCHERS {
        server.forget_peak();
        let idle = servers::anonymous(server.pid());
        let received = Arc::new(AtomicUsize::new(0));
        let streams = open(&server, count, writer.events, &token, &received).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let memory = servers::anonymous(server.pid()) - idle;
        let before = feed_queries(metrics);
        let started = Instant::now();
        let writes = writer.steady().await;
        let written = Instant::now();
        let elapsed = started.elapsed().as_secs_f64();
        let after = feed_queries(metrics);
        let expected = count * writes;
        while received.load(Ordering::Relaxed) < expected {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "streams fell silent"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let delivered_after = written.elapsed();
        let figures = Figures {
            tail: (after.0 - before.0) / elapsed,
            replay: (after.1 - before.1) / elapsed,
            delivered_after,
            memory,
        };
        let all = figures.tail + figures.replay;
        let ratio = all / *baseline.get_or_insert(all);
        println!(
            "| {backend} | {count} | {:.1} | {:.1} | {all:.1} ({ratio:.2}) | {:.1} ms | {:.1} MiB | {} | {:.0} MiB |",
            figures.tail,
            figures.replay,
            figures.delivered_after.as_secs_f64() * 1000.0,
            figures.memory,
            per_stream(figures.memory, count),
            server.memory().1,
        );
        for stream in streams {
            stream.abort();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn per_stream(memory: f64, count: usize) -> String {
    if count == 0 {
        return "".into();
    }
    format!("{:.1} KiB", memory * 1024.0 / count as f64)
}

/// `count` streams after `sequence`, each counting what it receives.
async fn open(
    server: &ServerProcess,
    count: usize,
    sequence: u64,
    token: &str,
    received: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let channels = connect(server.address, count.div_ceil(STREAMS_PER_CONNECTION)).await;
    let mut streams = Vec::with_capacity(count);
    for n in 0..count {
        let mut client = GovernanceServiceClient::new(channels[n / STREAMS_PER_CONNECTION].clone());
        let asked = WatchChangesRequest {
            after_sequence: sequence,
            resource_types: Vec::new(),
        };
        let mut stream = client
            .watch_changes(with_token(asked, token))
            .await
            .unwrap()
            .into_inner();
        let received = received.clone();
        streams.push(tokio::spawn(async move {
            while let Some(_event) = stream.message().await.unwrap() {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    streams
}

/// Writes one territory again and again, each time a change in the feed.
struct Writer {
    client: GovernanceServiceClient<tonic::transport::Channel>,
    token: String,
    version: i64,
    /// Events in the feed so far.
    events: u64,
}

impl Writer {
    fn new(client: GovernanceServiceClient<tonic::transport::Channel>, token: &str) -> Writer {
        Writer {
            client,
            token: token.into(),
            version: 0,
            events: 0,
        }
    }

    async fn create(&mut self) {
        self.write().await;
    }

    /// WRITES_PER_SECOND writes over WINDOW; how many.
    async fn steady(&mut self) -> usize {
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / WRITES_PER_SECOND));
        let writes = (WINDOW.as_secs() * WRITES_PER_SECOND) as usize;
        for _ in 0..writes {
            tick.tick().await;
            self.write().await;
        }
        writes
    }

    async fn write(&mut self) {
        let asked = UpsertTerritoryRequest {
            request_id: format!("watchers-{}", uuid_like(self.events)),
            territory: Some(TerritoryInput {
                kato: REGION.into(),
                kind: TerritoryKind::Region as i32,
                name: Some(LocalizedText {
                    ru: "Бенчмарк облысы".into(),
                    ..LocalizedText::default()
                }),
                population: self.version + 1,
                ..TerritoryInput::default()
            }),
            expected_version: self.version,
        };
        let answer = self
            .client
            .upsert_territory(with_token(asked, &self.token))
            .await
            .unwrap()
            .into_inner();
        self.version = answer.territory.unwrap().version;
        self.events += 1;
    }
}

/// A request id unique to this run and write.
fn uuid_like(n: u64) -> String {
    format!("{}-{n}", std::process::id())
}

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The server's feed queries so far, by the tail and by replays.
fn feed_queries(metrics: SocketAddr) -> (f64, f64) {
    let mut connection = TcpStream::connect(metrics).unwrap();
    connection
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: metrics\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    connection.read_to_string(&mut page).unwrap();
    let count = |reader: &str| {
        page.lines()
            .find(|line| {
                line.starts_with("aimaq_feed_queries_total")
                    && line.contains(&format!("reader=\"{reader}\""))
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0)
    };
    (count("tail"), count("replay"))
}
