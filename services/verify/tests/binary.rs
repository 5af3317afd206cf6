//! `aimaq-verify` as an auditor runs it, against a live service: a key made,
//! a checkpoint saved and extended, records exported and checked offline,
//! and an export edited after the fact refused with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

use aimaq_testing::territories::{TERRITORIES, seed};
use aimaq_testing::{TestDatabase, TestPki, TestServer, TestTokens, test_log_verifier_key};

fn verify(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_aimaq-verify"))
        .args(args)
        .output()
        .unwrap()
}

/// The connection arguments of a command that reads `server`'s log.
fn against(server: &TestServer, token_file: &Path) -> Vec<String> {
    let pki = TestPki::get();
    [
        "--endpoint",
        &server.url(),
        "--ca",
        pki.ca.to_str().unwrap(),
        "--cert",
        pki.client.cert.to_str().unwrap(),
        "--key",
        pki.client.key.to_str().unwrap(),
        "--token-file",
        token_file.to_str().unwrap(),
        "--service",
        "governance",
        "--log-key",
        &test_log_verifier_key(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `command` with `common` and `more` arguments, off the runtime's threads
/// (the server under test runs on them).
async fn run(command: &str, common: &[String], more: &[&str]) -> Output {
    let mut args = vec![command.to_owned()];
    args.extend(common.iter().cloned());
    args.extend(more.iter().map(|arg| (*arg).to_owned()));
    tokio::task::spawn_blocking(move || {
        verify(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_saves_checks_exports_and_checks_offline() {
    let tokens = TestTokens::new();
    let server =
        TestServer::start(TestDatabase::sqlite().await, &tokens, aimaq_governance::run).await;
    seed(server.channel().await, &tokens, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, tokens.admin()).unwrap();
    let common = against(&server, &token_file);
    let saved = dir.path().join("checkpoint");
    let saved = saved.to_str().unwrap();

    let first = run("check", &common, &["--save", saved]).await;
    assert!(first.status.success(), "{first:?}");
    let size = TERRITORIES.len();
    let range = format!("1..{size}");
    let second = run(
        "check",
        &common,
        &["--saved", saved, "--records", &range, "--events"],
    )
    .await;
    assert!(second.status.success(), "{second:?}");
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["records_included"], size);
    assert_eq!(report["extends_saved_size"], size);

    // A witness's file holding a cosigned checkpoint of this log.
    let witness =
        aimaq_tlog::NoteSigner::generate("aimaq.test/witness", aimaq_tlog::KeyRole::Cosigner)
            .unwrap();
    let note = std::fs::read_to_string(saved).unwrap();
    let parsed = aimaq_tlog::Note::parse(&note).unwrap();
    let cosigned = parsed
        .with_signature(&witness.signature_line(&parsed.text).unwrap())
        .unwrap();
    let checkpoint = aimaq_tlog::Checkpoint::parse(&parsed.text).unwrap();
    let entry = aimaq_verify::witnessed::Witnessed::of(&checkpoint, cosigned);
    let witness_file = dir.path().join("witnessed.jsonl");
    std::fs::write(&witness_file, serde_json::to_string(&entry).unwrap() + "\n").unwrap();
    let witnessed = run(
        "check",
        &common,
        &[
            "--witnessed",
            witness_file.to_str().unwrap(),
            "--witness",
            &witness.verifier_key(),
        ],
    )
    .await;
    assert!(witnessed.status.success(), "{witnessed:?}");
    let report: serde_json::Value = serde_json::from_slice(&witnessed.stdout).unwrap();
    assert_eq!(report["cosigned_by"][0], "aimaq.test/witness");
    assert_eq!(report["extends_witnessed_size"], size);

    let export = dir.path().join("export.json");
    let exported = run(
        "export",
        &common,
        &["--records", &range, "--out", export.to_str().unwrap()],
    )
    .await;
    assert!(exported.status.success(), "{exported:?}");
    let key = test_log_verifier_key();
    let offline = [
        "offline",
        "--log-key",
        &key,
        "--export",
        export.to_str().unwrap(),
    ];
    let checked = verify(&offline);
    assert!(checked.status.success(), "{checked:?}");
    let report: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(report["records_included"], size);
    assert_eq!(report["events_checked"], size);

    // The export edited after the fact: a change event renamed, then a
    // record left out.
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let original = document["records"][4]["events"][0]["resource_name"].clone();
    document["records"][4]["events"][0]["resource_name"] = "territories/619999999".into();
    std::fs::write(&export, document.to_string()).unwrap();
    let refused = verify(&offline);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("change events differ"));
    document["records"][4]["events"][0]["resource_name"] = original;
    document["records"].as_array_mut().unwrap().remove(6);
    std::fs::write(&export, document.to_string()).unwrap();
    let refused = verify(&offline);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("record 7"),
        "{refused:?}"
    );
}

#[test]
fn keys_are_made_readable_by_their_owner_only_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.key");
    let made = verify(&[
        "keygen",
        "--origin",
        "aimaq.test/budget",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{made:?}");
    let public = String::from_utf8(made.stdout).unwrap();
    aimaq_tlog::NoteVerifier::parse(public.trim()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = verify(&[
        "keygen",
        "--origin",
        "aimaq.test/budget",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
}
