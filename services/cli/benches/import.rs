//! `aimaq import projects` against the batch RPC it uses, same run: 100,000
//! project rows from a CSV file through the tool (reading the file, checking
//! each row, batches of 500, one after another), and the same rows sent
//! directly as `ImportProjects` batches of 500 by a gRPC client, one after
//! another, both through the gateway to the budget service on SQLite.
//!
//!     cargo bench -p aimaq-cli --bench import
//!
//! Prints Markdown. Target: the tool at ≥ 0.80 of the direct rate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use aimaq_e2e::scenario::{REGION, VILLAGE, this_year};
use aimaq_e2e::system::with_every_scenario;
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_testing::{TestPki, with_token};

const ROWS: usize = 100_000;
const BATCH: usize = 500;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// Room for every row of both runs: a programme's envelope and an
/// allocation at the region far above what they cost.
async fn allocation(
    budget: &mut BudgetServiceClient<tonic::transport::Channel>,
    token: &str,
) -> String {
    let year = this_year();
    budget
        .set_envelope(with_token(
            SetEnvelopeRequest {
                request_id: "bench-envelope".into(),
                program_code: "AUYL_EL_BESIGI".into(),
                fiscal_year: year,
                amount_tiyn: 10_000_000_000,
                expected_version: 1,
            },
            token,
        ))
        .await
        .unwrap();
    let name = format!("allocations/AUYL_EL_BESIGI/{year}/{REGION}");
    let current = budget
        .get_allocation(with_token(
            GetAllocationRequest {
                allocation: name.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .allocation
        .unwrap();
    budget
        .adjust_allocation(with_token(
            AdjustAllocationRequest {
                request_id: "bench-adjust".into(),
                allocation: name.clone(),
                delta_tiyn: 1_000_000_000,
                expected_version: current.version,
                reason: "room for the benchmark's rows".into(),
            },
            token,
        ))
        .await
        .unwrap();
    name
}

async fn run() {
    let (_system, gateway, token) = with_every_scenario().await;
    let channel = gateway.channel().await;
    let mut budget = BudgetServiceClient::new(channel.clone());
    let allocation = allocation(&mut budget, &token).await;

    // Directly: the same rows as batches of ImportProjects.
    let project = |n: usize| ImportedProject {
        allocation: allocation.clone(),
        settlement_kato: VILLAGE.into(),
        category: ProjectCategory::SocialInfrastructure as i32,
        title: format!("Direct project {n}"),
        cost_tiyn: 100,
        status: ProjectStatus::Planned as i32,
        ..ImportedProject::default()
    };
    let started = Instant::now();
    for (index, first) in (0..ROWS).step_by(BATCH).enumerate() {
        let projects = (first..first + BATCH).map(project).collect();
        let request = ImportProjectsRequest {
            request_id: format!("bench-direct-{index}"),
            projects,
            validate_only: false,
        };
        budget
            .import_projects(with_token(request, &token))
            .await
            .unwrap();
    }
    let direct = ROWS as f64 / started.elapsed().as_secs_f64();

    // Through the tool: a CSV file of the same rows, as people write them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("projects.csv");
    let mut text = String::from("Распределение;КАТО;Категория;Наименование;Стоимость;Статус\n");
    for n in 0..ROWS {
        text.push_str(&format!(
            "{allocation};{VILLAGE};social infrastructure;Проект {n};1,00;planned\n"
        ));
    }
    std::fs::write(&file, text).unwrap();
    std::fs::write(dir.path().join("token"), &token).unwrap();
    let pki = TestPki::get();
    let started = Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_aimaq"))
        .args([
            "--endpoint",
            &gateway.url(),
            "-o",
            "jsonl",
            "import",
            "projects",
        ])
        .arg(&file)
        .arg("--ca")
        .arg(&pki.ca)
        .arg("--cert")
        .arg(&pki.client.cert)
        .arg("--key")
        .arg(&pki.client.key)
        .arg("--token-file")
        .arg(dir.path().join("token"))
        .output()
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let through_tool = ROWS as f64 / elapsed;

    println!(
        "## `aimaq import projects` against the batch RPC ({ROWS} rows, batches of {BATCH}, SQLite, one run)\n"
    );
    println!("| way | rows/s | ratio to direct |");
    println!("|---|---|---|");
    println!("| `ImportProjects` directly (batches built in memory) | {direct:.0} | 1.00 |");
    println!(
        "| `aimaq import projects` of a CSV file (read, checked, batched) | {through_tool:.0} | {:.2} |",
        through_tool / direct
    );
    println!(
        "\nThe tool's rate over the direct rate: {:.2} (target ≥ 0.80).",
        through_tool / direct
    );
}
