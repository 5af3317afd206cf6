//! A consumer of the budget's change feed on JetStream: a durable pull
//! consumer of allocation events that keeps one region's, reading each
//! allocation from the event itself.
//!
//! `cargo run -p aimaq-relay --example regional_allocations -- nats://127.0.0.1:4222 61`
//! (61: the Turkestan region's KATO prefix) prints the region's allocations
//! as they change, from the first event on, and acknowledges each.

use std::time::Duration;

use aimaq_proto::budget::v1::Allocation;
use aimaq_proto::common::v1::ChangeEvent;
use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use prost::Message;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let region = args.next().unwrap_or_else(|| "61".into());
    let context = jetstream::new(async_nats::connect(url.as_str()).await?);
    let stream = context.get_stream("AIMAQ_BUDGET").await?;
    // Durable: a restart resumes after the last acknowledged event.
    let consumer = stream
        .get_or_create_consumer(
            &format!("allocations-{region}"),
            pull::Config {
                durable_name: Some(format!("allocations-{region}")),
                filter_subject: "aimaq.budget.allocation.>".into(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..pull::Config::default()
            },
        )
        .await?;
    let mut messages = consumer
        .stream()
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        let event = ChangeEvent::decode(message.payload.clone())?;
        // The event carries the allocation: no call back to the budget service.
        if let Some(allocation) = event
            .resource
            .as_ref()
            .and_then(|resource| resource.to_msg::<Allocation>().ok())
            .filter(|allocation| allocation.territory_kato.starts_with(&region))
        {
            println!(
                "{} {}: {} tiyn, {} committed (version {})",
                event.sequence,
                allocation.name,
                allocation.amount_tiyn,
                allocation.committed_tiyn,
                allocation.version
            );
        }
        message.ack().await?;
    }
    Ok(())
}
