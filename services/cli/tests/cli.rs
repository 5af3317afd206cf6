//! The `aimaq` binary run as an operator runs it, against a real gateway and
//! backends: each command's happy path, what it prints in each format, and
//! its errors (a bad token, the gateway down, no CA, a refused argument).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aimaq_e2e::scenario::*;
use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_commands_print_what_the_services_hold() {
    let stack = stack().await;

    let me = stack.lines(&["whoami", "-o", "jsonl"]).await;
    assert_eq!(me[0]["subject"], "test-admin");
    assert_eq!(me[0]["scopes"], serde_json::json!(["admin"]));

    let health = stack.lines(&["health", "-o", "jsonl"]).await;
    assert_eq!(health.len(), 5);
    assert!(
        health.iter().all(|row| row["status"] == "SERVING"),
        "{health:?}"
    );

    // Children of a district, as CSV read back.
    let output = stack
        .run(&[
            "list",
            "territories",
            "--territory",
            DISTRICT,
            "-o",
            "csv",
            "--columns",
            "kato,name,kind",
        ])
        .await;
    succeeded(&output);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    assert_eq!(reader.headers().unwrap(), vec!["kato", "name", "kind"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(rows.iter().any(|row| &row[0] == RURAL_DISTRICT), "{rows:?}");

    // A table of programmes; an allocation's money as people write it.
    let output = stack.run(&["list", "programs", "-o", "table"]).await;
    succeeded(&output);
    assert!(
        stdout(&output)
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("AUYL_EL_BESIGI")
    );
    let allocations = stack
        .lines(&[
            "list",
            "allocations",
            "--program",
            "AUYL_EL_BESIGI",
            "-o",
            "jsonl",
        ])
        .await;
    let name = allocations[0]["name"].as_str().unwrap().to_string();
    let output = stack
        .run(&[
            "get",
            "allocations",
            &name,
            "-o",
            "table",
            "--language",
            "ru",
        ])
        .await;
    succeeded(&output);
    assert!(stdout(&output).contains("500,00 ₸"), "{}", stdout(&output));

    let village = stack
        .lines(&["get", "territories", VILLAGE, "-o", "jsonl"])
        .await;
    assert_eq!(village[0]["kato"], VILLAGE);
    let applications = stack.lines(&["list", "applications", "-o", "jsonl"]).await;
    assert!(!applications.is_empty());
    let one = applications[0]["name"].as_str().unwrap();
    assert_eq!(
        stack
            .lines(&["get", "applications", one, "-o", "jsonl"])
            .await[0]["name"],
        one
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_and_the_audit_chain() {
    let stack = stack().await;
    let changes = stack
        .lines(&[
            "watch",
            "--service",
            "budget",
            "--from",
            "0",
            "--count",
            "3",
            "-o",
            "jsonl",
        ])
        .await;
    let sequences: Vec<u64> = changes
        .iter()
        .map(|c| c["sequence"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(sequences.len(), 3);
    assert!(sequences.windows(2).all(|w| w[0] < w[1]));
    // Resumed after the first: the second and third again.
    let from = sequences[0].to_string();
    let resumed = stack
        .lines(&[
            "watch",
            "--service",
            "budget",
            "--from",
            &from,
            "--count",
            "2",
            "-o",
            "jsonl",
        ])
        .await;
    assert_eq!(resumed, changes[1..]);

    for service in ["governance", "budget", "grants"] {
        let verified = stack
            .lines(&["audit", "verify", "--service", service, "-o", "jsonl"])
            .await;
        assert_eq!(verified[0]["intact"], true, "{service}");
        assert!(!verified[0]["headHash"].as_str().unwrap().is_empty());
    }

    // The signed log, checked as an outsider would: a checkpoint saved, then
    // shown to be extended, with every record and its events proven in it.
    let key = aimaq_testing::test_log_verifier_key();
    let saved = stack.dir.path().join("budget.checkpoint");
    let saved = saved.to_str().unwrap();
    let first = stack
        .lines(&[
            "audit",
            "verify",
            "--service",
            "budget",
            "--log-key",
            &key,
            "--save",
            saved,
            "-o",
            "jsonl",
        ])
        .await;
    let size = first[1]["tree_size"].as_u64().unwrap();
    assert!(size > 0, "{first:?}");
    let range = format!("1..{size}");
    let again = stack
        .lines(&[
            "audit",
            "verify",
            "--service",
            "budget",
            "--log-key",
            &key,
            "--saved",
            saved,
            "--records",
            &range,
            "--events",
            "-o",
            "jsonl",
        ])
        .await;
    assert_eq!(again[1]["extends_saved_size"], size, "{again:?}");
    assert_eq!(again[1]["records_included"], size);
    // A key that is not the log's finds no valid signature; a witness asked
    // for cosigned nothing the log serves: both refused, exit 4.
    let impostor =
        aimaq_tlog::NoteSigner::generate(aimaq_testing::TEST_LOG_ORIGIN, aimaq_tlog::KeyRole::Log)
            .unwrap()
            .verifier_key();
    let witness =
        aimaq_tlog::NoteSigner::generate("aimaq.test/witness", aimaq_tlog::KeyRole::Cosigner)
            .unwrap()
            .verifier_key();
    let verify = ["audit", "verify", "--service", "budget", "--log-key"];
    for (extra, reason) in [
        (vec![impostor.as_str()], "not validly signed"),
        (
            vec![key.as_str(), "--witness", &witness, "--min-cosigners", "1"],
            "0 of the witnesses given",
        ),
    ] {
        let refused = stack.run(&[&verify[..], &extra[..]].concat()).await;
        assert_eq!(refused.status.code(), Some(4));
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains(reason),
            "{refused:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_tokens_are_minted_only_with_a_development_key() {
    let stack = stack().await;
    let data_dir = stack.dir.path().to_str().unwrap().to_string();
    let output = aimaq(
        &stack.gateway.url(),
        None,
        &[
            "token",
            "mint",
            "--data-dir",
            &data_dir,
            "--subject",
            "akimat-61-portal",
            "--agency",
            "akimat-61",
            "--scope",
            "budget.read,grants.read",
            "--kato-prefix",
            "61",
        ],
    )
    .await;
    succeeded(&output);
    let minted = stdout(&output).trim().to_string();
    let me = stack.run_with(&minted, &["whoami", "-o", "jsonl"]).await;
    succeeded(&me);
    let me: Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(me["agency"], "akimat-61");
    assert_eq!(me["katoPrefix"], "61");
    assert_eq!(
        me["scopes"],
        serde_json::json!(["budget.read", "grants.read"])
    );

    // A directory without a signing key (as a production key set): refused.
    let empty = tempfile::tempdir().unwrap();
    let output = aimaq(
        &stack.gateway.url(),
        None,
        &[
            "token",
            "mint",
            "--data-dir",
            empty.path().to_str().unwrap(),
            "--subject",
            "x",
            "--agency",
            "y",
            "--scope",
            "admin",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("identity provider"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_what_went_wrong_with_their_own_exit_status() {
    let stack = stack().await;

    let output = stack.run_with("not-a-token", &["list", "programs"]).await;
    assert_eq!(output.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Unauthenticated"));

    let output = stack.run(&["get", "territories", "61363"]).await;
    assert_eq!(output.status.code(), Some(4));
    let said = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        said.contains("InvalidArgument") && said.contains("kato"),
        "{said}"
    );

    // In the caller's language first, when the service gives it.
    let output = stack
        .run(&["get", "territories", "61363", "--language", "ru"])
        .await;
    let said = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        said.contains("Запрос отклонён") && said.contains("kato"),
        "{said}"
    );

    let output = stack.run(&["get", "mci-rates", "first of May"]).await;
    assert_eq!(output.status.code(), Some(2));

    // Nobody listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let output = aimaq(&format!("https://{address}"), None, &["health"]).await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach"));

    // No CA for https.
    let output = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_aimaq"))
            .env_remove("AIMAQ_CA")
            .args(["health"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--ca"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_write_what_lists_read() {
    use calamine::Reader;
    let stack = stack().await;

    let output = stack
        .run(&[
            "export",
            "allocations",
            "--program",
            "AUYL_EL_BESIGI",
            "--format",
            "csv",
        ])
        .await;
    succeeded(&output);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    let amount = headers.iter().position(|h| h == "amount (KZT)").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let listed = stack
        .lines(&[
            "list",
            "allocations",
            "--program",
            "AUYL_EL_BESIGI",
            "-o",
            "jsonl",
        ])
        .await;
    assert_eq!(rows.len(), listed.len());
    assert_eq!(&rows[0][amount], "500.00");

    let workbook = stack.dir.path().join("projects.xlsx");
    let output = stack
        .run(&[
            "export",
            "projects",
            "--program",
            "AUYL_EL_BESIGI",
            "--format",
            "xlsx",
            "--file",
            workbook.to_str().unwrap(),
        ])
        .await;
    succeeded(&output);
    let mut read: calamine::Xlsx<_> = calamine::open_workbook(&workbook).unwrap();
    let sheet = read.worksheet_range_at(0).unwrap().unwrap();
    let mut lines = sheet.rows();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let cost = header.iter().position(|h| h == "cost (KZT)").unwrap();
    let projects: Vec<_> = lines.collect();
    assert_eq!(
        projects.len(),
        stack
            .lines(&["list", "projects", "-o", "jsonl"])
            .await
            .len()
    );
    assert_eq!(projects[0][cost], calamine::Data::Float(300.0));

    let output = stack
        .run(&["export", "applications", "--format", "jsonl"])
        .await;
    succeeded(&output);
    let exported: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        exported,
        stack.lines(&["list", "applications", "-o", "jsonl"]).await
    );

    let output = stack.run(&["export", "projects", "--format", "xlsx"]).await;
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_file_gives_the_connection() {
    let stack = stack().await;
    let pki = aimaq_testing::TestPki::get();
    let token_file = stack.dir.path().join("token");
    std::fs::write(&token_file, &stack.token).unwrap();
    let config = stack.dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "endpoint: {}\nca: {}\ncert: {}\nkey: {}\ntoken_file: {}\nlanguage: ru\n",
            stack.gateway.url(),
            pki.ca.display(),
            pki.client.cert.display(),
            pki.client.key.display(),
            token_file.display()
        ),
    )
    .unwrap();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_aimaq"))
                .env_remove("AIMAQ_TOKEN")
                .args(args)
                .output()
                .unwrap()
        })
    };
    let config = config.to_str().unwrap().to_string();
    let output = run(vec![
        "--config".into(),
        config.clone(),
        "whoami".into(),
        "-o".into(),
        "jsonl".into(),
    ])
    .await
    .unwrap();
    succeeded(&output);
    assert!(stdout(&output).contains("test-admin"));

    // A setting the file does not know is named.
    std::fs::write(&config, "endpont: https://localhost:1\n").unwrap();
    let output = run(vec!["--config".into(), config, "health".into()])
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("endpont"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_name_the_territories_beside_their_codes() {
    let stack = stack().await;
    let output = stack
        .run(&["list", "projects", "-o", "csv", "--language", "ru"])
        .await;
    succeeded(&output);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let kato = headers.iter().position(|h| h == "settlementKato").unwrap();
    assert_eq!(headers[kato + 1], "settlementName");
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[kato], VILLAGE);
    let village = stack
        .lines(&["get", "territories", VILLAGE, "-o", "jsonl"])
        .await;
    assert_eq!(&row[kato + 1], village[0]["name"]["ru"].as_str().unwrap());

    // JSON keeps the data as the service gave it.
    let projects = stack.lines(&["list", "projects", "-o", "jsonl"]).await;
    assert!(projects[0].get("settlementName").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_shown_and_exported_in_order() {
    let stack = stack().await;
    let records = stack
        .lines(&["audit", "show", "--service", "budget", "-o", "jsonl"])
        .await;
    assert!(records.len() >= 5, "{records:?}");
    assert_eq!(records[0]["sequence"], "1");
    for pair in records.windows(2) {
        assert_eq!(pair[1]["previousHash"], pair[0]["hash"]);
    }
    let kind = records[0]["resourceType"].as_str().unwrap().to_string();
    let of_kind = stack
        .lines(&[
            "audit",
            "show",
            "--service",
            "budget",
            "--resource-type",
            &kind,
            "-o",
            "jsonl",
        ])
        .await;
    assert!(!of_kind.is_empty() && of_kind.iter().all(|r| r["resourceType"] == kind.as_str()));
    let two = stack
        .lines(&[
            "audit",
            "show",
            "--service",
            "budget",
            "--from",
            "1",
            "--limit",
            "2",
            "-o",
            "jsonl",
        ])
        .await;
    assert_eq!(two, records[1..3]);

    let output = stack
        .run(&[
            "export",
            "audit",
            "--service",
            "budget",
            "--format",
            "jsonl",
        ])
        .await;
    succeeded(&output);
    let exported: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported, records);

    // Reading the log takes the audit scope.
    let reader = stack
        .system
        .tokens
        .token("reader", &[aimaq_auth::Scope::BudgetRead], None);
    let output = stack
        .run_with(&reader, &["audit", "show", "--service", "budget"])
        .await;
    assert_eq!(output.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PermissionDenied"));
}
