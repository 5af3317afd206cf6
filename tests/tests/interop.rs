//! Checkpoints and proofs served by a real service, verified by an
//! independent implementation: Go's golang.org/x/mod/sumdb/note and
//! sumdb/tlog (`tests/interop/tlogcheck`). Needs Go and Debian's
//! golang-golang-x-mod-dev; skipped with a message without them, failed
//! instead under `AIMAQ_REQUIRE_GO=1` (as `.ci/run` sets).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use aimaq_testing::territories::{TERRITORIES, seed};
use aimaq_testing::{TestDatabase, TestServer, TestTokens, test_log_verifier_key};
use aimaq_tlog::{Checkpoint, Note};
use aimaq_verify::checks::record_leaf_data;
use aimaq_verify::{GrpcLog, Service};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

const GOPATH: &str = "/usr/share/gocode";

fn go_available() -> bool {
    let go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let module = std::path::Path::new(GOPATH)
        .join("src/golang.org/x/mod/sumdb/tlog")
        .is_dir();
    if go && module {
        return true;
    }
    let message = "Go or golang.org/x/mod (Debian: golang-go golang-golang-x-mod-dev) is missing";
    assert!(std::env::var("AIMAQ_REQUIRE_GO").is_err(), "{message}");
    eprintln!("skipped: {message}");
    false
}

/// Runs the Go checker on `input`; its success and what it said.
fn go_check(input: &serde_json::Value) -> (bool, String) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/tlogcheck");
    let cache = tempfile::tempdir().unwrap();
    let mut child = Command::new("go")
        .args(["run", "main.go"])
        .current_dir(dir)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", cache.path())
        .env("GOFLAGS", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_sumdb_verifies_checkpoints_and_proofs() {
    if !go_available() {
        return;
    }
    let tokens = TestTokens::new();
    let server =
        TestServer::start(TestDatabase::sqlite().await, &tokens, aimaq_governance::run).await;
    let log = GrpcLog {
        channel: server.channel().await,
        service: Service::Governance,
        authorization: Some(format!("Bearer {}", tokens.admin()).parse().unwrap()),
        timeout: Duration::from_secs(5),
    };
    seed(server.channel().await, &tokens, &[]).await;
    let old =
        Checkpoint::parse(&Note::parse(&log.checkpoint().await.unwrap()).unwrap().text).unwrap();
    assert_eq!(old.size, TERRITORIES.len() as u64);
    seed_more(&server, &tokens).await;
    let note = log.checkpoint().await.unwrap();
    let current = Checkpoint::parse(&Note::parse(&note).unwrap().text).unwrap();
    let (records, _) = log.records(0, 1000).await.unwrap();
    let mut inclusions = Vec::new();
    for record in &records {
        let proof = log.inclusion(record.sequence, current.size).await.unwrap();
        inclusions.push(serde_json::json!({
            "index": record.sequence - 1,
            "leaf_data": b64(&record_leaf_data(record)),
            "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        }));
    }
    let mut consistency = Vec::new();
    for from in [1u64, 2, 7, old.size] {
        let root = root_at(&records, from);
        let proof = log.consistency(from, current.size).await.unwrap();
        consistency.push(serde_json::json!({
            "old_size": from,
            "old_root": b64(&root),
            "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        }));
    }
    let input = serde_json::json!({
        "verifier_key": test_log_verifier_key(),
        "checkpoint": note,
        "inclusions": inclusions,
        "consistency": consistency,
    });
    let (passed, said) = go_check(&input);
    assert!(passed, "{said}");
    assert!(
        said.contains(&format!("checkpoint of {} records", current.size)),
        "{said}"
    );

    // The same checker refuses a record that is not the one logged.
    let mut altered = input.clone();
    let mut data = BASE64
        .decode(altered["inclusions"][2]["leaf_data"].as_str().unwrap())
        .unwrap();
    *data.last_mut().unwrap() ^= 1;
    altered["inclusions"][2]["leaf_data"] = b64(&data).into();
    let (passed, said) = go_check(&altered);
    assert!(!passed, "{said}");
    assert!(said.contains("record 2"), "{said}");
}

/// The root of the log's first `size` records, from their leaves.
fn root_at(records: &[aimaq_proto::common::v1::AuditRecord], size: u64) -> aimaq_tlog::Hash {
    let leaves: Vec<aimaq_tlog::Hash> = records[..size as usize]
        .iter()
        .map(aimaq_verify::checks::record_leaf)
        .collect();
    aimaq_tlog::hash::root_of(&leaves)
}

async fn seed_more(server: &TestServer, tokens: &TestTokens) {
    use aimaq_proto::governance::v1::TerritoryKind;
    let more = [
        ("613633300", TerritoryKind::Village),
        ("613633400", TerritoryKind::Village),
        ("613633500", TerritoryKind::Village),
    ];
    // `seed` writes the base territories again (answered from their request
    // ids) and then these.
    seed(server.channel().await, tokens, &more).await;
}
