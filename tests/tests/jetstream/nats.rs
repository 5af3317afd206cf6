//! NATS servers the tests start on ports of their own: one that takes only
//! mutual TLS with the test PKI, and one in operator mode that takes only
//! users with credentials its operator's account signed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aimaq_testing::TestPki;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use serde_json::json;

/// A NATS server with JetStream on its own port; stopped when dropped.
pub struct SpawnedNats {
    pub url: String,
    process: std::process::Child,
    /// The JetStream store and the server's configuration.
    _dir: tempfile::TempDir,
}

impl SpawnedNats {
    /// Taking only mutual TLS with the test PKI; None (the test skips)
    /// without nats-server unless `AIMAQ_REQUIRE_NATS=1`.
    pub fn with_mutual_tls() -> Option<SpawnedNats> {
        let pki = TestPki::get();
        let path = |path: &Path| path.display().to_string();
        let args = vec![
            "--tlsverify".into(),
            "--tlscert".into(),
            path(&pki.server.cert),
            "--tlskey".into(),
            path(&pki.server.key),
            "--tlscacert".into(),
            path(&pki.ca),
        ];
        SpawnedNats::start("tls", |_| args)
    }

    /// In operator mode: only users whose credentials (a user JWT signed by
    /// the account, and its NKey seed) are in `creds` connect. Returns the
    /// server and the path of one user's credentials file.
    pub fn with_credentials() -> Option<(SpawnedNats, PathBuf)> {
        let mut creds = PathBuf::new();
        let nats = SpawnedNats::start("nats", |dir| {
            let operator = Operator::new();
            let config = dir.join("operator.conf");
            std::fs::write(&config, operator.server_config()).expect("config");
            creds = dir.join("relay.creds");
            std::fs::write(&creds, operator.user_credentials("relay")).expect("creds");
            vec!["-c".into(), config.display().to_string()]
        })?;
        Some((nats, creds))
    }

    fn start(scheme: &str, args: impl FnOnce(&Path) -> Vec<String>) -> Option<SpawnedNats> {
        let required = std::env::var("AIMAQ_REQUIRE_NATS").is_ok_and(|v| v == "1");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("a directory");
        let args = args(dir.path());
        let started = std::process::Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path().join("js"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let process = match started {
            Ok(process) => process,
            Err(error) if !required => {
                eprintln!("SKIPPED: NATS ({scheme}): no nats-server to start ({error})");
                return None;
            }
            Err(error) => panic!("NATS is required but nats-server does not start: {error}"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(SpawnedNats {
            url: format!("{scheme}://127.0.0.1:{port}"),
            process,
            _dir: dir,
        })
    }
}

impl Drop for SpawnedNats {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A NATS operator with one account, JetStream on, and a system account,
/// as `nsc` would make them: JWTs signed with the NKeys of their issuers.
struct Operator {
    operator: KeyPair,
    account: KeyPair,
    system: KeyPair,
}

impl Operator {
    fn new() -> Operator {
        Operator {
            operator: KeyPair::new_operator(),
            account: KeyPair::new_account(),
            system: KeyPair::new_account(),
        }
    }

    fn server_config(&self) -> String {
        let operator = jwt(
            &self.operator,
            &self.operator.public_key(),
            "operator",
            json!({ "type": "operator", "version": 2 }),
        );
        let unlimited = json!({
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1
        });
        let account = jwt(
            &self.operator,
            &self.account.public_key(),
            "aimaq",
            json!({ "limits": unlimited, "type": "account", "version": 2 }),
        );
        let system = jwt(
            &self.operator,
            &self.system.public_key(),
            "SYS",
            json!({ "limits": { "subs": -1, "data": -1, "payload": -1, "conn": -1 },
                    "type": "account", "version": 2 }),
        );
        format!(
            "operator: {operator}\nsystem_account: {system_key}\n\
             resolver: MEMORY\nresolver_preload: {{\n  {account_key}: {account}\n  {system_key}: {system}\n}}\n",
            system_key = self.system.public_key(),
            account_key = self.account.public_key(),
        )
    }

    /// A credentials file of a new user of the account, in the form `nsc`
    /// writes.
    fn user_credentials(&self, name: &str) -> String {
        let user = KeyPair::new_user();
        let token = jwt(
            &self.account,
            &user.public_key(),
            name,
            json!({ "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                    "type": "user", "version": 2 }),
        );
        let seed = user.seed().expect("the user's seed");
        format!(
            "-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        )
    }
}

/// A NATS JWT: claims about `subject` under `nats`, signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({ "typ": "JWT", "alg": "ed25519-nkey" }).to_string());
    let claims = json!({
        "jti": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        "iat": unix_seconds(),
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{claims}");
    let signature = issuer.sign(signed.as_bytes()).expect("signed");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
