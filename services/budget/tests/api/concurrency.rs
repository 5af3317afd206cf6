//! Randomized concurrency: workers fire Allocate, AdjustAllocation,
//! CreateProject and TransitionProject at a small tree with random amounts, each
//! request sent twice at once under the same request_id. Afterwards the stored
//! tree must equal what the accepted answers add up to, every level must hold its
//! children, and nothing may have been applied twice.
//!
//! The seed is printed; `AIMAQ_TEST_SEED=<n>` replays a run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::{PROGRAM, start, tiyn};

const WORKERS: u64 = 6;
const OPERATIONS: usize = 20;
const ENVELOPE_TENGE: i64 = 1000;
/// Territory and the allocation it draws on (none: the envelope).
const TREE: [(&str, Option<&str>); 7] = [
    ("610000000", None),
    ("613600000", Some("610000000")),
    ("613633000", Some("613600000")),
    ("611000000", Some("610000000")),
    ("611200000", Some("610000000")),
    ("611400000", Some("610000000")),
    ("611600000", Some("610000000")),
];
/// Allocated before the workers start: the chain the projects draw on.
const SETUP: [(&str, i64); 3] = [("610000000", 600), ("613600000", 300), ("613633000", 200)];
/// Allocations projects are committed against, and their settlements.
const PROJECT_PLACES: [(&str, &str); 3] = [
    ("613633000", "613633100"),
    ("613633000", "613633200"),
    ("613600000", "613633100"),
];
const TARGETS: [ProjectStatus; 4] = [
    ProjectStatus::Approved,
    ProjectStatus::InProgress,
    ProjectStatus::Completed,
    ProjectStatus::Cancelled,
];

/// An accepted change, as the caller knows it from its answer.
#[derive(Debug)]
enum Accepted {
    Allocation {
        kato: String,
        delta: i64,
    },
    Project {
        name: String,
        allocation: String,
        cost: i64,
    },
    Transition {
        name: String,
        to: ProjectStatus,
    },
}

fn allocation_name(kato: &str) -> String {
    format!("allocations/{PROGRAM}/2024/{kato}")
}

fn seed() -> u64 {
    std::env::var("AIMAQ_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        })
}

/// Sends a request twice at once under one request_id. Returns the answer when
/// either was accepted; when both were, they must be the same answer.
async fn twice<Q, A, F, Fut>(request: Q, token: &str, call: F) -> Option<A>
where
    Q: Clone,
    A: PartialEq + std::fmt::Debug,
    F: Fn(tonic::Request<Q>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<A>, Status>>,
{
    let (first, second) = tokio::join!(
        call(with_token(request.clone(), token)),
        call(with_token(request, token))
    );
    let refused = |status: &Status| {
        assert!(
            matches!(
                status.code(),
                Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists | Code::NotFound
            ),
            "{status:?}"
        );
    };
    match (first, second) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (a.into_inner(), b.into_inner());
            assert_eq!(a, b, "a retry answered differently");
            Some(a)
        }
        (Ok(a), Err(e)) | (Err(e), Ok(a)) => {
            refused(&e);
            Some(a.into_inner())
        }
        (Err(a), Err(b)) => {
            refused(&a);
            refused(&b);
            None
        }
    }
}

async fn worker(
    mut client: BudgetServiceClient<Channel>,
    token: String,
    mut rng: TestRng,
    worker: u64,
    projects: Arc<Mutex<Vec<String>>>,
) -> Vec<Accepted> {
    let mut accepted = Vec::new();
    for step in 0..OPERATIONS {
        let request_id = format!("w{worker}-{step}");
        let client = &mut client;
        match rng.random_range(0..4u8) {
            0 => {
                let (kato, _) = TREE[rng.random_range(0..TREE.len())];
                let amount = tiyn(rng.random_range(50..600));
                let request = AllocateRequest {
                    request_id,
                    program_code: PROGRAM.into(),
                    fiscal_year: 2024,
                    territory_kato: kato.into(),
                    amount_tiyn: amount,
                };
                if twice(request, &token, |r| {
                    let mut client = client.clone();
                    async move { client.allocate(r).await }
                })
                .await
                .is_some()
                {
                    accepted.push(Accepted::Allocation {
                        kato: kato.into(),
                        delta: amount,
                    });
                }
            }
            1 => {
                let (kato, _) = TREE[rng.random_range(0..TREE.len())];
                let version = client
                    .get_allocation(with_token(
                        GetAllocationRequest {
                            allocation: allocation_name(kato),
                        },
                        &token,
                    ))
                    .await
                    .map_or(1, |r| r.into_inner().allocation.unwrap().version);
                let delta = tiyn(rng.random_range(-150..150i64)) | 1;
                let request = AdjustAllocationRequest {
                    request_id,
                    allocation: allocation_name(kato),
                    delta_tiyn: delta,
                    expected_version: version,
                    reason: "randomized".into(),
                };
                if twice(request, &token, |r| {
                    let mut client = client.clone();
                    async move { client.adjust_allocation(r).await }
                })
                .await
                .is_some()
                {
                    accepted.push(Accepted::Allocation {
                        kato: kato.into(),
                        delta,
                    });
                }
            }
            2 => {
                let (allocation, settlement) =
                    PROJECT_PLACES[rng.random_range(0..PROJECT_PLACES.len())];
                let cost = tiyn(rng.random_range(10..120));
                let request = CreateProjectRequest {
                    request_id,
                    allocation: allocation_name(allocation),
                    settlement_kato: settlement.into(),
                    category: ProjectCategory::EngineeringInfrastructure as i32,
                    title: "Water main".into(),
                    borrower_id: String::new(),
                    cost_tiyn: cost,
                    standard_codes: vec!["DRINKING_WATER".into()],
                };
                if let Some(answer) = twice(request, &token, |r| {
                    let mut client = client.clone();
                    async move { client.create_project(r).await }
                })
                .await
                {
                    let name = answer.project.unwrap().name;
                    projects.lock().unwrap().push(name.clone());
                    accepted.push(Accepted::Project {
                        name,
                        allocation: allocation.into(),
                        cost,
                    });
                }
            }
            _ => {
                let picked = {
                    let projects = projects.lock().unwrap();
                    (!projects.is_empty())
                        .then(|| projects[rng.random_range(0..projects.len())].clone())
                };
                let Some(name) = picked else { continue };
                let version = client
                    .get_project(with_token(
                        GetProjectRequest {
                            project: name.clone(),
                        },
                        &token,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .project
                    .unwrap()
                    .version;
                let to = TARGETS[rng.random_range(0..TARGETS.len())];
                let request = TransitionProjectRequest {
                    request_id,
                    project: name.clone(),
                    to_status: to as i32,
                    expected_version: version,
                    reason: String::new(),
                };
                if twice(request, &token, |r| {
                    let mut client = client.clone();
                    async move { client.transition_project(r).await }
                })
                .await
                .is_some()
                {
                    accepted.push(Accepted::Transition { name, to });
                }
            }
        }
    }
    accepted
}

async fn randomized_mutations_keep_the_tree_whole(database: TestDatabase) {
    let seed = seed();
    eprintln!("randomized concurrency seed {seed} (AIMAQ_TEST_SEED={seed} replays it)");
    let mut harness = start(database).await;
    harness.programme(ENVELOPE_TENGE).await;
    let token = harness.tokens.admin();
    let mut accepted = Vec::new();
    for (kato, tenge) in SETUP {
        harness.allocate(kato, kato, tenge).await.unwrap();
        accepted.push(Accepted::Allocation {
            kato: kato.into(),
            delta: tiyn(tenge),
        });
    }
    let projects = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|n| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.wrapping_add(n).to_le_bytes());
            let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
            tokio::spawn(worker(
                harness.client.clone(),
                token.clone(),
                rng,
                n,
                projects.clone(),
            ))
        })
        .collect();
    for worker in workers {
        accepted.extend(worker.await.unwrap());
    }

    // What the accepted answers add up to.
    let mut amounts: HashMap<String, i64> = HashMap::new();
    let mut costs: HashMap<String, (String, i64)> = HashMap::new();
    let mut transitions: HashMap<String, Vec<ProjectStatus>> = HashMap::new();
    for change in &accepted {
        match change {
            Accepted::Allocation { kato, delta } => {
                *amounts.entry(kato.clone()).or_default() += delta
            }
            Accepted::Project {
                name,
                allocation,
                cost,
            } => {
                costs.insert(name.clone(), (allocation.clone(), *cost));
            }
            Accepted::Transition { name, to } => {
                transitions.entry(name.clone()).or_default().push(*to)
            }
        }
    }

    // The projects: each accepted step applied exactly once.
    let mut drawn_by_projects: HashMap<String, i64> = HashMap::new();
    for (name, (allocation, cost)) in &costs {
        let project = harness
            .client
            .get_project(with_token(
                GetProjectRequest {
                    project: name.clone(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .project
            .unwrap();
        let steps = transitions.get(name).map_or(&[][..], Vec::as_slice);
        assert_eq!(project.version, 1 + steps.len() as i64, "{name}: {steps:?}");
        assert_eq!(project.cost_tiyn, *cost);
        let live = !matches!(
            project.status(),
            ProjectStatus::Completed | ProjectStatus::Cancelled
        );
        if live {
            *drawn_by_projects.entry(allocation.clone()).or_default() += cost;
        }
    }

    // The tree: amounts as accepted, children within parents.
    let mut stored: HashMap<&str, Allocation> = HashMap::new();
    for (kato, _) in TREE {
        match harness
            .client
            .get_allocation(with_token(
                GetAllocationRequest {
                    allocation: allocation_name(kato),
                },
                &token,
            ))
            .await
        {
            Ok(answer) => {
                let allocation = answer.into_inner().allocation.unwrap();
                assert_eq!(Some(&allocation.amount_tiyn), amounts.get(kato), "{kato}");
                stored.insert(kato, allocation);
            }
            Err(status) => {
                assert_eq!(status.code(), Code::NotFound);
                assert_eq!(amounts.get(kato), None, "{kato}");
            }
        }
    }
    for (kato, allocation) in &stored {
        let children: i64 = TREE
            .iter()
            .filter(|(_, parent)| parent == &Some(*kato))
            .filter_map(|(child, _)| stored.get(child).map(|c| c.amount_tiyn))
            .sum();
        let expected = children + drawn_by_projects.get(*kato).copied().unwrap_or(0);
        assert_eq!(allocation.committed_tiyn, expected, "{kato}");
        assert!(
            allocation.committed_tiyn <= allocation.amount_tiyn,
            "{kato}"
        );
    }
    let envelope = harness
        .client
        .get_envelope(with_token(
            GetEnvelopeRequest {
                program_code: PROGRAM.into(),
                fiscal_year: 2024,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .envelope
        .unwrap();
    let regions = stored.get("610000000").map_or(0, |r| r.amount_tiyn);
    assert_eq!(envelope.allocated_tiyn, regions);
    assert!(envelope.allocated_tiyn <= envelope.amount_tiyn);

    // One audit record per accepted request, besides the programme and envelope.
    let verification = harness
        .client
        .verify_audit_log(with_token(VerifyAuditLogRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap();
    assert!(verification.intact);
    assert_eq!(verification.records_checked, 2 + accepted.len() as u64);
    eprintln!(
        "{} changes accepted, {} projects",
        accepted.len(),
        costs.len()
    );
}

on_both_backends!(randomized_mutations_keep_the_tree_whole);
