//! A closed-loop load generator for benchmarks: a fixed number of callers, each
//! calling again as soon as its call returns, through a warm-up and a measured
//! window; and the Markdown rows the results are reported in. The servers under
//! load run on a runtime of their own, handed to each benchmark, as they would
//! run in a process of their own.

// A benchmark fails loudly: a panic here is a failed run, not a server fault.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aimaq_testing::{TestDatabase, TestServer};
use tokio::runtime::Handle;
use tonic::transport::Channel;

/// How a workload is driven.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub callers: usize,
    pub warm_up: Duration,
    pub window: Duration,
}

/// What one workload achieved in the measured window.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub calls: u64,
    pub failures: u64,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Measurement {
    /// A Markdown table row: name, calls, calls/s, ratio to `baseline` calls/s,
    /// p50, p99, failures.
    pub fn row(&self, name: &str, baseline: f64) -> String {
        format!(
            "| {name} | {} | {:.0} | {:.2} | {:.2} ms | {:.2} ms | {} |",
            self.calls,
            self.per_second,
            self.per_second / baseline,
            self.p50.as_secs_f64() * 1000.0,
            self.p99.as_secs_f64() * 1000.0,
            self.failures
        )
    }
}

/// The latencies of the successful calls of one or more measured windows, and
/// the failures.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    latencies: Vec<Duration>,
    failures: u64,
    measured: Duration,
}

impl Samples {
    /// Adds the calls of another window of the same workload.
    pub fn add(&mut self, mut other: Samples) {
        self.latencies.append(&mut other.latencies);
        self.failures += other.failures;
        self.measured += other.measured;
    }

    pub fn measurement(mut self) -> Measurement {
        self.latencies.sort();
        let at = |q: f64| {
            self.latencies
                .get(((self.latencies.len() as f64) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        Measurement {
            calls: self.latencies.len() as u64,
            failures: self.failures,
            per_second: self.latencies.len() as f64 / self.measured.as_secs_f64(),
            p50: at(0.5),
            p99: at(0.99),
        }
    }
}

impl Load {
    /// Runs `call(caller)` from every caller; a call answers whether it succeeded.
    /// Only calls begun after the warm-up are counted.
    pub async fn measure<F, Fut>(self, call: F) -> Measurement
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send,
    {
        self.sample(Arc::new(call)).await.measurement()
    }

    /// As [`Load::measure`], keeping the samples, so that windows of a workload
    /// taking turns with others can be added up.
    pub async fn sample<F, Fut>(self, call: Arc<F>) -> Samples
    where
        F: Fn(usize) -> Fut + Send + Sync + ?Sized + 'static,
        Fut: Future<Output = bool> + Send,
    {
        let start = Instant::now();
        let tasks: Vec<_> = (0..self.callers)
            .map(|caller| {
                let call = call.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut failures = 0;
                    while start.elapsed() < self.warm_up + self.window {
                        let began = Instant::now();
                        let ok = call(caller).await;
                        if began >= start + self.warm_up {
                            if ok {
                                latencies.push(began.elapsed());
                            } else {
                                failures += 1;
                            }
                        }
                    }
                    (latencies, failures)
                })
            })
            .collect();
        let mut samples = Samples {
            measured: self.window,
            ..Samples::default()
        };
        for task in tasks {
            let (mut mine, failed) = task.await.expect("a caller panicked");
            samples.latencies.append(&mut mine);
            samples.failures += failed;
        }
        samples
    }
}

/// `count` HTTP/2 connections to the server, for callers to share.
pub async fn channels(server: &TestServer, count: usize) -> Vec<Channel> {
    let mut channels = Vec::new();
    for _ in 0..count {
        channels.push(server.channel().await);
    }
    channels
}

/// A benchmark's `main`: runs `run` on a fresh SQLite database, then on a fresh
/// PostgreSQL one when the server is reachable. `run` is given the runtime its
/// servers are to be started on ([`TestServer::start_on`]): apart from the load
/// generator's, so that a server's tasks never wait in its callers' queue.
pub fn on_both_backends<F, Fut>(run: F)
where
    F: Fn(TestDatabase, &'static str, Handle) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let servers = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("server")
        .build()
        .expect("a runtime for the servers");
    let on = servers.handle();
    runtime.block_on(async {
        run(TestDatabase::sqlite().await, "SQLite", on.clone()).await;
        match TestDatabase::postgres().await {
            Some(database) => run(database, "PostgreSQL", on.clone()).await,
            None => println!("\nPostgreSQL unreachable: skipped."),
        }
    });
}

/// `pgbench -b tpcb-like` with `clients` for `window` on a fresh database of the
/// test PostgreSQL server, initialised at `scale`: its transactions per second.
/// `None` when the server or `pgbench` is not there.
pub async fn pgbench(clients: usize, window: Duration, scale: usize) -> Option<f64> {
    let database = TestDatabase::postgres().await?;
    let run = |args: &[&str]| {
        std::process::Command::new("pgbench")
            .args(args)
            .arg(&database.url)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    run(&["-i", "-q", "-s", &scale.to_string()])?;
    let clients = clients.to_string();
    let seconds = window.as_secs().to_string();
    let report = run(&[
        "-b",
        "tpcb-like",
        "-n",
        "-c",
        &clients,
        "-j",
        "2",
        "-T",
        &seconds,
    ])?;
    report
        .lines()
        .find(|line| line.starts_with("tps = "))
        .and_then(|line| line.split_whitespace().nth(2))
        .and_then(|tps| tps.parse().ok())
}
