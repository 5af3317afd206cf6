//! Publishes a service's change feed to NATS JetStream, for agencies' systems
//! that want changes pushed rather than polled.
//!
//! The relay follows the sequenced feed in order (the replica's own
//! `ChangeFeed`: replay from the last position, then the live tail) and
//! publishes each event to `aimaq.<service>.<resource_type>.<action>` with
//! `Nats-Msg-Id: <service>/<sequence>`. It records the last sequence
//! JetStream acknowledged only after the acknowledgement, so nothing is
//! skipped; an event published again after a crash or a failover has the same
//! message id, and JetStream stores it once. Exactly one replica relays at a
//! time: the one holding the relay's lease (see `lease.rs`).

mod lease;
mod publish;

use std::time::Duration;

use aimaq_config::{RelayConfig, TlsConfig};
use aimaq_records::Records;
use async_nats::jetstream;
use futures::FutureExt;
use tokio::sync::watch;
use tokio_stream::StreamExt;

pub use lease::{FeedRelays, Lease};
pub use publish::Destination;

/// Events published before their acknowledgements are awaited together.
const BATCH: usize = 256;
/// How long JetStream remembers a message id: longer than any failover.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);
/// How long the stream keeps an event.
const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error("reading the change feed: {0}")]
    Feed(#[from] tonic::Status),
    #[error(transparent)]
    Records(#[from] aimaq_error::Error),
}

impl RelayError {
    fn nats(error: impl std::fmt::Display) -> RelayError {
        RelayError::Nats(error.to_string())
    }
}

/// One replica's relay of its service's feed to JetStream.
pub struct Relay {
    destination: Destination,
    records: Records,
    jetstream: jetstream::Context,
    lease: Lease,
    replicas: usize,
}

impl Relay {
    /// The relay `config` asks for (None without `--nats-url`). It connects in
    /// the background, so a NATS server that is down delays the feed's
    /// publishing, not the service.
    pub async fn from_config(
        service: &'static str,
        config: &RelayConfig,
        tls: &TlsConfig,
        records: Records,
    ) -> Result<Option<Relay>, RelayError> {
        let Some(url) = &config.nats_url else {
            return Ok(None);
        };
        let destination =
            Destination::new(&config.nats_prefix, service).map_err(RelayError::Nats)?;
        let mut options = match &config.nats_credentials {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(RelayError::nats)?,
            None => async_nats::ConnectOptions::new(),
        };
        if url.starts_with("tls://") {
            options = options.require_tls(true);
            if let Some(ca) = &tls.tls_ca {
                options = options.add_root_certificates(ca.clone());
            }
            if let (Some(cert), Some(key)) = (&tls.tls_cert, &tls.tls_key) {
                options = options.add_client_certificate(cert.clone(), key.clone());
            }
        }
        let client = options
            .name(format!("aimaq-{service}"))
            .retry_on_initial_connect()
            .connect(url.as_str())
            .await
            .map_err(RelayError::nats)?;
        let holder = format!("{}-{}", hostname(), std::process::id());
        Ok(Some(Relay::new(
            destination,
            records,
            jetstream::new(client),
            Lease {
                relay: "jetstream".into(),
                holder,
                length: config.relay_lease,
            },
            config.nats_replicas,
        )))
    }

    pub fn new(
        destination: Destination,
        records: Records,
        jetstream: jetstream::Context,
        lease: Lease,
        replicas: usize,
    ) -> Relay {
        Relay {
            destination,
            records,
            jetstream,
            lease,
            replicas,
        }
    }

    /// Relays while this replica holds the lease, and waits for it while
    /// another does, until `draining`; then lets the lease go.
    pub async fn run(self, mut draining: watch::Receiver<bool>) {
        let db = self.records.database().connection();
        while !*draining.borrow() {
            match self.lease.claim(db).await {
                Ok(Some(position)) => {
                    tracing::info!(
                        stream = %self.destination.stream_name(),
                        position,
                        "relaying the change feed to JetStream"
                    );
                    if let Err(error) = self.relay_from(position, &mut draining).await {
                        tracing::warn!(stream = %self.destination.stream_name(), %error, "relaying the change feed");
                        metrics::counter!("aimaq_relay_failures_total").increment(1);
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "claiming the relay's lease"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.wait()) => {}
                _ = draining.changed() => {}
            }
        }
        if let Err(error) = self.lease.release(db).await {
            tracing::warn!(%error, "letting the relay's lease go");
        }
    }

    /// How long a replica waits between claims, and at most between renewals.
    fn wait(&self) -> Duration {
        (self.lease.length / 3).max(Duration::from_millis(50))
    }

    /// Publishes the feed after `position` until the lease is lost, the server
    /// drains, or an error (the caller tries again from the stored position).
    async fn relay_from(
        &self,
        position: i64,
        draining: &mut watch::Receiver<bool>,
    ) -> Result<(), RelayError> {
        self.ensure_stream().await?;
        let db = self.records.database().connection();
        let after = u64::try_from(position).unwrap_or(0);
        let mut events = self.records.feed().watch(after, Vec::new(), |event| event);
        let mut last = position;
        loop {
            let first = tokio::select! {
                event = events.next() => event,
                _ = tokio::time::sleep(self.wait()) => {
                    if !self.lease.advance(db, last).await? {
                        return Ok(());
                    }
                    continue;
                }
                _ = draining.changed() => return Ok(()),
            };
            let Some(first) = first else {
                return Ok(());
            };
            let mut batch = vec![first?];
            while batch.len() < BATCH {
                match events.next().now_or_never() {
                    Some(Some(event)) => batch.push(event?),
                    _ => break,
                }
            }
            last = self.publish(&batch).await?;
            metrics::gauge!("aimaq_relay_acknowledged_sequence").set(last as f64);
            if !self.lease.advance(db, last).await? {
                tracing::info!(
                    stream = %self.destination.stream_name(),
                    "another replica took the relay over"
                );
                return Ok(());
            }
        }
    }

    /// Publishes a batch, then awaits every acknowledgement; the last sequence.
    async fn publish(
        &self,
        batch: &[aimaq_proto::common::v1::ChangeEvent],
    ) -> Result<i64, RelayError> {
        let mut acknowledgements = Vec::with_capacity(batch.len());
        for event in batch {
            let (subject, headers, payload) = publish::message(&self.destination, event);
            let acknowledgement = self
                .jetstream
                .publish_with_headers(subject, headers, payload)
                .await
                .map_err(RelayError::nats)?;
            acknowledgements.push(acknowledgement);
        }
        for acknowledgement in acknowledgements {
            acknowledgement.await.map_err(RelayError::nats)?;
        }
        let last = batch.last().map_or(0, |event| event.sequence);
        Ok(i64::try_from(last).unwrap_or(i64::MAX))
    }

    /// The service's stream, made when missing.
    async fn ensure_stream(&self) -> Result<(), RelayError> {
        let config = jetstream::stream::Config {
            name: self.destination.stream_name(),
            subjects: vec![self.destination.subjects()],
            duplicate_window: DUPLICATE_WINDOW,
            max_age: MAX_AGE,
            num_replicas: self.replicas,
            ..Default::default()
        };
        self.jetstream
            .get_or_create_stream(config)
            .await
            .map_err(RelayError::nats)?;
        Ok(())
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".into())
}
