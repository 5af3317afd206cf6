//! The certificates every server under test serves with and every test client
//! presents: one development CA, one server certificate (for 127.0.0.1 and
//! localhost, and trusted as a forwarder, since budget and grants pass callers'
//! certificates on to governance) and one client certificate. Made once and
//! shared by every test process of the month (generated aside, then renamed
//! into place, so processes starting together do not trip over each other).

use std::path::PathBuf;
use std::sync::OnceLock;

use aimaq_config::TlsConfig;
use aimaq_tls::dev::{DevPki, Issued};
use aimaq_tls::{ClientTls, Outbound};

/// The name of the servers' certificate: what the servers trust to forward.
pub const SERVER_NAME: &str = "aimaq-test-server";
pub const CLIENT_NAME: &str = "aimaq-test-client";

pub struct TestPki {
    pub ca: PathBuf,
    pub server: Issued,
    pub client: Issued,
}

impl TestPki {
    /// The shared test PKI.
    pub fn get() -> &'static TestPki {
        static PKI: OnceLock<TestPki> = OnceLock::new();
        PKI.get_or_init(|| {
            let month = chrono::Utc::now().format("%Y-%m");
            let dir = std::env::temp_dir().join(format!("aimaq-test-pki-{month}"));
            if !dir.join("done").exists() {
                let aside = std::env::temp_dir().join(format!(
                    "aimaq-test-pki-{}-{}",
                    std::process::id(),
                    uuid::Uuid::new_v4()
                ));
                make(&aside);
                // Another process may have won the race: its PKI is as good.
                if std::fs::rename(&aside, &dir).is_err() {
                    let _ = std::fs::remove_dir_all(&aside);
                }
            }
            TestPki {
                ca: dir.join("ca.pem"),
                server: paths(&dir, SERVER_NAME),
                client: paths(&dir, CLIENT_NAME),
            }
        })
    }

    /// A server's TLS settings: mutual TLS with the test CA, calling others
    /// through TLS with its own certificate.
    pub fn server_config(&self) -> TlsConfig {
        TlsConfig {
            tls_cert: Some(self.server.cert.clone()),
            tls_key: Some(self.server.key.clone()),
            tls_client_ca: Some(self.ca.clone()),
            tls_ca: Some(self.ca.clone()),
            plaintext: false,
        }
    }

    /// The servers' TLS, for servers assembled by hand in tests.
    pub fn server_tls(&self) -> std::sync::Arc<aimaq_tls::ServerTls> {
        let tls = aimaq_tls::ServerTls::load(
            self.server.cert.clone(),
            self.server.key.clone(),
            Some(self.ca.clone()),
        );
        std::sync::Arc::new(tls.expect("test server TLS"))
    }

    /// How a test client reaches the servers.
    pub fn client(&self) -> Outbound {
        static CLIENT: OnceLock<Outbound> = OnceLock::new();
        CLIENT
            .get_or_init(|| {
                let identity = (self.client.cert.clone(), self.client.key.clone());
                let tls =
                    ClientTls::load(self.ca.clone(), Some(identity)).expect("test client TLS");
                Outbound {
                    tls: Some(std::sync::Arc::new(tls)),
                    allow_plaintext: false,
                }
            })
            .clone()
    }
}

fn make(dir: &std::path::Path) {
    let pki = DevPki::load_or_generate(dir).expect("test CA");
    pki.issue(SERVER_NAME, &["127.0.0.1", "localhost"])
        .expect("test server certificate");
    pki.issue(CLIENT_NAME, &[])
        .expect("test client certificate");
    std::fs::write(dir.join("done"), "").expect("mark the test PKI done");
}

fn paths(dir: &std::path::Path, name: &str) -> Issued {
    Issued {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
    }
}
