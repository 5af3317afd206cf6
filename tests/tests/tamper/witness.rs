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

use crate::{governance_accepting, log, options, write};

const WITNESSED: &str = "aimaq.witness/aimaq.test/log";

struct Witnessing {
    server: TestServer,
    file: PathBuf,
    key: NoteVerifier,
    signer: NoteSigner,
    _dir: tempfile::TempDir,
}

/// Governance on its own database, witnessing `log` with `signer`'s key.
async fn witness_of(log: &TestServer, tokens: &TestTokens, signer: &NoteSigner) -> Witnessing {
    let dir = tempfile::tempdir().unwrap();
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
        signer: signer.clone(),
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
    let signer = NoteSigner::generate("aimaq.test/witness", KeyRole::Cosigner).unwrap();
    let server = governance_accepting(database, &tokens, vec![signer.verifier_key()]).await;
    let witness = witness_of(&server, &tokens, &signer).await;
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
    the_log_serves_its_cosignatures_back(&server, &tokens, &witness, 15).await;
    // The cosignature of 13, handed back late, leaves that of 15 served.
    let late = log(&server, &tokens).await;
    late.add_cosignature(&entry.note).await.unwrap();
    let served = late.checkpoints().await.unwrap().cosigned;
    assert_eq!(served.len(), 1, "{served:?}");
    assert!(served[0].contains("\n15\n"), "{served:?}");

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
    // So does an auditor holding only the witness's public key: the log
    // still serves the cosignature of 15, which it no longer extends.
    let mut served = options(None);
    served.witnesses = vec![witness.key.clone()];
    for auditor in [against_witness(), served] {
        let found = aimaq_verify::verify(&log(&server, &tokens).await, &auditor).await;
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
}

/// The witness handed its cosignature of `size` back: the log serves it, an
/// auditor holding only the witness's public key checks the log against
/// it, and asks for a witness. A cosignature of another witness, or of a
/// checkpoint the log did not sign, is refused.
async fn the_log_serves_its_cosignatures_back(
    server: &TestServer,
    tokens: &TestTokens,
    witness: &Witnessing,
    size: u64,
) {
    let log = log(server, tokens).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let cosigned = loop {
        let served = log.checkpoints().await.unwrap().cosigned;
        if let Some(note) = served
            .iter()
            .find(|note| note.contains(&format!("\n{size}\n")))
        {
            break note.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never served {served:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log_key = NoteVerifier::parse(&test_log_verifier_key()).unwrap();
    let verified =
        aimaq_verify::open_checkpoint(&cosigned, &log_key, std::slice::from_ref(&witness.key))
            .unwrap();
    assert_eq!(verified.cosigned_by, vec!["aimaq.test/witness".to_owned()]);

    let mut served = options(None);
    served.witnesses = vec![witness.key.clone()];
    served.min_cosigners = 1;
    let report = aimaq_verify::verify(&log, &served).await.unwrap();
    assert_eq!(report.extends_witnessed_size, Some(size));
    assert_eq!(report.cosigned_by, vec!["aimaq.test/witness".to_owned()]);
    served.min_cosigners = 2;
    assert!(matches!(
        aimaq_verify::verify(&log, &served).await,
        Err(aimaq_verify::SourceError::Finding(
            Finding::TooFewCosigners {
                wanted: 2,
                found: 1
            }
        ))
    ));

    // Another witness's cosignature is not kept; nor one of a checkpoint
    // this log's key did not sign.
    let stranger = NoteSigner::generate("aimaq.test/stranger", KeyRole::Cosigner).unwrap();
    let parsed = aimaq_tlog::Note::parse(&cosigned).unwrap();
    let line = stranger.signature_line(&parsed.text).unwrap();
    let by_stranger = format!("{}\n{}{line}", parsed.text, parsed.signatures[0].line);
    let refused = log.add_cosignature(&by_stranger).await.unwrap_err();
    assert!(
        refused.to_string().contains("no valid cosignature"),
        "{refused}"
    );
    let other_log = NoteSigner::generate(aimaq_testing::TEST_LOG_ORIGIN, KeyRole::Log).unwrap();
    let forged = other_log.sign(&parsed.text).unwrap();
    let forged = aimaq_tlog::Note::parse(&forged).unwrap();
    let line = witness.signer.signature_line(&forged.text).unwrap();
    let refused = log
        .add_cosignature(&forged.with_signature(&line).unwrap())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("not a checkpoint signed"),
        "{refused}"
    );

    // Signed with the log's own key, but of another tree (a fork): refused,
    // so the log never serves a witness's view of a tree it does not hold.
    let key_file = aimaq_testing::test_log_key().log_signing_key.unwrap();
    let log_signer = NoteSigner::parse(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    let mut fork = aimaq_tlog::Checkpoint::parse(&parsed.text).unwrap();
    fork.root[0] ^= 1;
    let fork = aimaq_tlog::Note::parse(&log_signer.sign(&fork.text()).unwrap()).unwrap();
    let line = witness.signer.signature_line(&fork.text).unwrap();
    let refused = log
        .add_cosignature(&fork.with_signature(&line).unwrap())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("its root is not the log's"),
        "{refused}"
    );
}

/// A cosignature the log did not take is offered again each round: a log
/// that takes no more writes still comes to serve its witness's latest.
pub async fn a_refused_cosignature_is_offered_again(database: TestDatabase) {
    let tokens = TestTokens::new();
    let signer = NoteSigner::generate("aimaq.test/witness", KeyRole::Cosigner).unwrap();
    // At first the log accepts no witness: the cosignature of 13 is refused.
    let mut server = governance_accepting(database, &tokens, Vec::new()).await;
    let witness = witness_of(&server, &tokens, &signer).await;
    witness.until_cosigned(13).await;
    let served = log(&server, &tokens).await.checkpoints().await.unwrap();
    assert!(served.cosigned.is_empty(), "{:?}", served.cosigned);

    // Restarted where it was, now accepting the witness, and written to no
    // more: its checkpoint stays the one the witness cosigned.
    let address = server.address;
    let handle = server.database.another_handle();
    let database = std::mem::replace(&mut server.database, handle);
    drop(server);
    let accepted = vec![signer.verifier_key()];
    let server = TestServer::start_at(
        address,
        database,
        &tokens,
        move |mut config, listener, shutdown| {
            config.log.log_cosigner = accepted;
            aimaq_governance::run(config, listener, shutdown)
        },
    )
    .await;
    the_log_serves_its_cosignatures_back(&server, &tokens, &witness, 13).await;
    assert_eq!(witness.cosigned_size().await, 13);
}
