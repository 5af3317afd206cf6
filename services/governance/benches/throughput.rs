//! Governance throughput at 32 concurrent callers, each workload as a ratio to a
//! trivial RPC (the gRPC health check) on the same server in the same run:
//! `GetTerritory` and `ListTerritories` (a district's children) with the whole
//! classifier loaded, and `SubmitProtocol` (one new station protocol per call).
//!
//!     cargo bench -p aimaq-governance --bench throughput
//!
//! Runs on SQLite, and on PostgreSQL when `AIMAQ_TEST_POSTGRES_URL` (default
//! postgres://postgres@127.0.0.1:5432/test) is reachable. Prints a Markdown table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use aimaq_bench::{Load, channels};
use aimaq_proto::common::v1::Date;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_testing::{TestDatabase, TestServer, TestTokens, with_token};
use aimaq_types::Iin;
use tokio::runtime::Handle;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const CALLERS: usize = 32;
const CONNECTIONS: usize = 4;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
const STATIONS: i32 = 40_000;
/// Stations one ScheduleElection may carry.
const STATIONS_PER_ELECTION: i32 = aimaq_types::bounds::MAX_LIST_MESSAGES as i32;

const LOAD: Load = Load {
    callers: CALLERS,
    warm_up: WARM_UP,
    window: MEASURE,
};

async fn run(database: TestDatabase, label: &str, servers: Handle) {
    let tokens = TestTokens::new();
    let token = tokens.admin();
    let server =
        TestServer::start_on(servers.clone(), database, &tokens, aimaq_governance::run).await;
    let channels = channels(&server, CONNECTIONS).await;
    let mut client = GovernanceServiceClient::new(channels[0].clone());

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kato-2022.csv");
    let rows = aimaq_governance::classifier::read(&path).unwrap();
    let imported = Instant::now();
    let answer = aimaq_governance::classifier::import(&mut client, &token, "bench-kato", rows)
        .await
        .unwrap();
    let import_time = imported.elapsed();
    assert_eq!(answer.created, 16_264);

    // Archival elections with as many stations as a request may carry, for one
    // protocol per call: STATIONS in all, filled one election after another.
    let mut elections = Vec::new();
    for n in 0..STATIONS / STATIONS_PER_ELECTION {
        elections.push(election_with_candidates(&mut client, &token, n).await);
    }

    let pick = {
        let channels = channels.clone();
        move |caller: usize| channels[caller % CONNECTIONS].clone()
    };
    let health = {
        let pick = pick.clone();
        LOAD.measure(move |caller| {
            let mut client = HealthClient::new(pick(caller));
            async move { client.check(HealthCheckRequest::default()).await.is_ok() }
        })
        .await
    };
    let get = {
        let (pick, token) = (pick.clone(), token.clone());
        LOAD.measure(move |caller| {
            let mut client = GovernanceServiceClient::new(pick(caller));
            let request = with_token(
                GetTerritoryRequest {
                    kato: "613633100".into(),
                    include_ancestors: false,
                },
                &token,
            );
            async move { client.get_territory(request).await.is_ok() }
        })
        .await
    };
    let list = {
        let (pick, token) = (pick.clone(), token.clone());
        LOAD.measure(move |caller| {
            let mut client = GovernanceServiceClient::new(pick(caller));
            let request = with_token(
                ListTerritoriesRequest {
                    parent_kato: "613600000".into(),
                    page_size: 100,
                    ..ListTerritoriesRequest::default()
                },
                &token,
            );
            async move { client.list_territories(request).await.is_ok() }
        })
        .await
    };
    let next_station = Arc::new(AtomicI32::new(1));
    let submit = {
        let (pick, token) = (pick.clone(), token.clone());
        let elections = Arc::new(elections);
        LOAD.measure(move |caller| {
            let mut client = GovernanceServiceClient::new(pick(caller));
            let taken = next_station.fetch_add(1, Ordering::Relaxed);
            let (election, candidates) = &elections[((taken - 1) / STATIONS_PER_ELECTION)
                .clamp(0, STATIONS / STATIONS_PER_ELECTION - 1)
                as usize];
            let station = (taken - 1) % STATIONS_PER_ELECTION + 1;
            let request = with_token(
                SubmitProtocolRequest {
                    request_id: format!("bench-protocol-{taken}"),
                    election: election.clone(),
                    station_number: station,
                    ballots_issued: 900,
                    candidate_votes: candidates
                        .iter()
                        .map(|c| CandidateVotes {
                            candidate: c.clone(),
                            votes: 400,
                        })
                        .collect(),
                    against_all: 50,
                    spoiled: 10,
                    ..SubmitProtocolRequest::default()
                },
                &token,
            );
            async move { taken <= STATIONS && client.submit_protocol(request).await.is_ok() }
        })
        .await
    };

    println!("\n### {label}\n");
    println!(
        "Classifier import: 16,264 territories in {:.2} s.\n",
        import_time.as_secs_f64()
    );
    println!(
        "| workload ({CALLERS} callers, {CONNECTIONS} connections) | calls | calls/s | ratio to health check | p50 | p99 | failures |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, m) in [
        ("health check (baseline)", &health),
        ("GetTerritory", &get),
        ("ListTerritories (district's children, 100)", &list),
        ("SubmitProtocol", &submit),
    ] {
        println!("{}", m.row(name, health.per_second));
    }
}

fn main() {
    aimaq_bench::on_both_backends(run);
}

/// Election `n` of the benchmark: archival, with STATIONS_PER_ELECTION
/// stations and two candidates; its name and its candidates' names.
async fn election_with_candidates(
    client: &mut GovernanceServiceClient<Channel>,
    token: &str,
    n: i32,
) -> (String, Vec<String>) {
    let election = client
        .schedule_election(with_token(
            ScheduleElectionRequest {
                request_id: format!("bench-election-{n}"),
                territory_kato: "613600000".into(),
                office: ElectionOffice::DistrictAkim as i32,
                call_date: Some(Date {
                    year: 2023,
                    month: 6,
                    day: 1,
                }),
                voting_date: Some(Date {
                    year: 2023,
                    month: 8,
                    day: 10,
                }),
                archival: true,
                polling_stations: (1..=STATIONS_PER_ELECTION)
                    .map(|number| PollingStation {
                        number,
                        registered_voters: 1000,
                        ..PollingStation::default()
                    })
                    .collect(),
                ..ScheduleElectionRequest::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .election
        .unwrap();
    let mut candidates = Vec::new();
    for (c, serial) in [1000u32, 2000].into_iter().enumerate() {
        let iin = (serial..serial + 10)
            .find_map(|s| Iin::complete(&format!("8001013{s:04}")))
            .unwrap();
        let candidate = client
            .register_candidate(with_token(
                RegisterCandidateRequest {
                    request_id: format!("bench-candidate-{n}-{c}"),
                    election: election.name.clone(),
                    iin: iin.to_string(),
                    full_name: format!("Candidate {c}"),
                    nomination: Nomination::Self_ as i32,
                    party: String::new(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .candidate
            .unwrap();
        candidates.push(candidate.name);
    }
    (election.name, candidates)
}
