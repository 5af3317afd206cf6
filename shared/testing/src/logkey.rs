//! The transparency-log key of servers under test: one per test process,
//! written to a file as in production, so that a server restarted on the
//! same database keeps signing with it and accepts its pending records.

use std::path::PathBuf;
use std::sync::OnceLock;

use aimaq_config::LogKeyConfig;
use aimaq_tlog::{KeyRole, NoteSigner};

struct TestLogKey {
    _dir: tempfile::TempDir,
    path: PathBuf,
    verifier_key: String,
}

/// The name (origin) of the test log key.
pub const TEST_LOG_ORIGIN: &str = "aimaq.test/log";

fn key() -> &'static TestLogKey {
    static KEY: OnceLock<TestLogKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let signer = NoteSigner::generate(TEST_LOG_ORIGIN, KeyRole::Log).unwrap();
        let path = dir.path().join("log-signing.key");
        aimaq_config::files::write_private(&path, &format!("{}\n", signer.private_key())).unwrap();
        TestLogKey {
            _dir: dir,
            path,
            verifier_key: signer.verifier_key(),
        }
    })
}

/// The log key setting of a server under test.
pub fn test_log_key() -> LogKeyConfig {
    LogKeyConfig {
        log_signing_key: Some(key().path.clone()),
        log_cosigner: Vec::new(),
    }
}

/// The public key that checkpoints of servers under test verify with.
pub fn test_log_verifier_key() -> String {
    key().verifier_key.clone()
}
