//! A service witnessing another's log: it cosigns each checkpoint that
//! extends the last it saw, and a rollback turns that log NOT_SERVING at the
//! witness, which cosigns nothing more of it.

use std::path::PathBuf;
use std::time::Duration;

use aimaq_config::WitnessConfig;
use aimaq_testing::{TestDatabase, TestPki, TestServer, TestTokens, test_log_verifier_key};
use aimaq_tlog::{KeyRole, NoteSigner, NoteVerifier};
use aimaq_witness::read_witnessed;

use crate::attacker::Attacker;
use aimaq_verify::Finding;

use crate::{governance, log, options, write};

const WITNESSED: &str = "aimaq.witness/aimaq.test/log";

struct Witnessing {
    server: TestServer,
    file: PathBuf,
    key: NoteVerifier,
    _dir: tempfile::TempDir,
}

/// Governance on its own database, witnessing `log`.
async fn witness_of(log: &TestServer, tokens: &TestTokens) -> Witnessing {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("aimaq.test/witness", KeyRole::Cosigner).unwrap();
    let key_file = dir.path().join("witness.key");
    std::fs::write(&key_file, signer.private_key()).unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, tokens.admin()).unwrap();
    let file = dir.path().join("witnessed.jsonl");
    let witness = WitnessConfig {
        witness_key: Some(key_file),
        witness_peers: vec![format!(
            "governance {} {}",
            log.url(),
            test_log_verifier_key()
        )],
        witness_token_file: Some(token_file),
        witness_file: Some(file.clone()),
        witness_interval: Duration::from_millis(100),
    };
    let server = TestServer::start(
        TestDatabase::sqlite().await,
        tokens,
        move |mut config, listener, shutdown| {
            config.witness = witness;
            config.limits.health_interval = Duration::from_millis(100);
            aimaq_governance::run(config, listener, shutdown)
        },
    )
    .await;
    Witnessing {
        server,
        file,
        key: NoteVerifier::parse(&signer.verifier_key()).unwrap(),
        _dir: dir,
    }
}

impl Witnessing {
    async fn cosigned_size(&self) -> u64 {
        read_witnessed(&self.file)
            .unwrap()
            .get(aimaq_testing::TEST_LOG_ORIGIN)
            .map_or(0, |w| w.tree_size)
    }

    async fn until_cosigned(&self, size: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.cosigned_size().await != size {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never cosigned {size}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn health(&self, name: &str) -> Option<bool> {
        aimaq_server::health(&self.server.url(), &TestPki::get().client(), name).await
    }
}

pub async fn a_witness_cosigns_the_log_and_alerts_on_a_rollback(database: TestDatabase) {
    let tokens = TestTokens::new();
    let server = governance(database, &tokens).await;
    let witness = witness_of(&server, &tokens).await;
    witness.until_cosigned(13).await;
    let entry = read_witnessed(&witness.file).unwrap()[aimaq_testing::TEST_LOG_ORIGIN].clone();
    let log_key = NoteVerifier::parse(&test_log_verifier_key()).unwrap();
    let verified =
        aimaq_verify::open_checkpoint(&entry.note, &log_key, std::slice::from_ref(&witness.key))
            .unwrap();
    assert_eq!(verified.cosigned_by, vec!["aimaq.test/witness".to_owned()]);
    assert_eq!(witness.health(WITNESSED).await, Some(true));

    write(&server, &tokens, 1).await;
    write(&server, &tokens, 2).await;
    witness.until_cosigned(15).await;
    // An auditor holding the witness's file checks the log against it.
    let cosigned = read_witnessed(&witness.file).unwrap()[aimaq_testing::TEST_LOG_ORIGIN]
        .note
        .clone();
    let against_witness = || {
        let mut options = options(None);
        options.witnessed = Some(cosigned.clone());
        options.witnesses = vec![witness.key.clone()];
        options
    };
    let report = aimaq_verify::verify(&log(&server, &tokens).await, &against_witness())
        .await
        .unwrap();
    assert_eq!(report.extends_witnessed_size, Some(15));
    assert_eq!(report.cosigned_by, vec!["aimaq.test/witness".to_owned()]);

    // Rolled back to 13, with the genuine checkpoint of 13 put back.
    let attacker = Attacker::on(&server.database.url).await;
    let older = aimaq_tlog::Note::parse(&entry.note).unwrap();
    let older_log_only = format!("{}\n{}", older.text, older.signatures[0].line);
    attacker.truncate(13).await;
    attacker.set_checkpoint(&older_log_only).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while witness.health(WITNESSED).await != Some(false) {
        assert!(tokio::time::Instant::now() < deadline, "no alert");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The witness itself still serves, and cosigned nothing of the rollback;
    // its file shows the auditor the rollback too.
    assert_eq!(witness.health("").await, Some(true));
    assert_eq!(witness.cosigned_size().await, 15);
    let found = aimaq_verify::verify(&log(&server, &tokens).await, &against_witness()).await;
    assert!(
        matches!(
            found,
            Err(aimaq_verify::SourceError::Finding(Finding::RolledBack {
                saved: 15,
                current: 13
            }))
        ),
        "{found:?}"
    );
}
