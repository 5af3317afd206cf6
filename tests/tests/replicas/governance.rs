//! Governance: two different protocols raced for each polling station, both
//! as a first submission (expected version 0): one per station is kept.

use std::collections::BTreeSet;
use std::time::Duration;

use aimaq_e2e::scenario::{election_with_candidates, protocol};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_testing::{TestDatabase, with_token};

use crate::{Shared, load, unique_prefix};

const STATIONS: i32 = 20;

pub async fn three_replicas_behave_as_one(shared: &Shared) {
    let database = TestDatabase::postgres().await.unwrap();
    let prefix = unique_prefix();
    let mut replicas = shared.replicas("governance", &database, &prefix).await;
    let token = shared.token.clone();
    let channel = replicas[0].channel().await;
    aimaq_testing::territories::seed(channel.clone(), &shared.tokens, &[]).await;
    let stations = (1..=STATIONS)
        .map(|number| PollingStation {
            number,
            address: format!("School No. {number}"),
            registered_voters: 1000,
            ..PollingStation::default()
        })
        .collect();
    let mut governance = GovernanceServiceClient::new(channel);
    let (election, candidates) = election_with_candidates(&mut governance, &token, stations).await;

    let requests = 2 * STATIONS as usize;
    let outcome = load::race(&mut replicas, requests, move |channel, k| {
        // Station k / 2 + 1, with one of two different counts.
        let first = 400 + (k % 2) as i64;
        let station = (k / 2 + 1) as i32;
        let asked = protocol(
            &format!("protocol-{k}"),
            &election.name,
            station,
            &candidates,
            first,
        );
        let token = token.clone();
        async move {
            let mut request = with_token(asked, &token);
            request.set_timeout(Duration::from_secs(5));
            let answer = GovernanceServiceClient::new(channel)
                .submit_protocol(request)
                .await?;
            Ok(answer.into_inner().protocol.unwrap().station_number)
        }
    })
    .await;
    assert_eq!(outcome.killed, 1, "one replica was killed mid-load");
    assert!(outcome.retried > 0, "requests met the killed replica");
    eprintln!(
        "governance: {} protocols kept, {} sends retried on another replica",
        outcome.made.len(),
        outcome.retried
    );
    let kept: BTreeSet<i32> = outcome.made.iter().map(|(_, station)| *station).collect();
    assert_eq!(kept.len(), outcome.made.len(), "one protocol a station");
    assert_eq!(kept.len() as i32, STATIONS, "every station reported once");

    let alive: Vec<_> = replicas.iter().filter(|r| r.alive()).collect();
    let stream = format!("{prefix}_GOVERNANCE").to_uppercase();
    let feed = shared.behave_as_one(&alive, &stream).await;
    let protocols = feed
        .iter()
        .filter(|e| e.resource_type == "protocol")
        .count();
    assert_eq!(
        protocols as i32, STATIONS,
        "each kept protocol recorded once"
    );
}
