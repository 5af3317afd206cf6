//! The stack's TLS: a development CA under the data directory, a certificate
//! for each server (serving, and as its client certificate when it calls
//! another), and one client certificate per demo agency, each made on first
//! start and reused after. `--plaintext` turns all of it off.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aimaq_config::TlsConfig;
use aimaq_tls::dev::{DevPki, Issued};
use aimaq_tls::{ClientTls, Outbound};

use crate::StackError;

/// A calling system of the demo: the certificate it presents and the token
/// bound to it.
#[derive(Clone, Debug)]
pub struct DemoAgency {
    pub subject: &'static str,
    pub agency: &'static str,
    pub kato_prefix: Option<&'static str>,
}

/// The administrator, who loads the demo data, and one regional akimat.
pub const AGENCIES: [DemoAgency; 2] = [
    DemoAgency {
        subject: "aimaq-stack-admin",
        agency: "development",
        kato_prefix: None,
    },
    DemoAgency {
        subject: "akimat-61",
        agency: "Turkestan region akimat",
        kato_prefix: Some("61"),
    },
];

/// The servers' names, which are their certificates' names.
pub const SERVERS: [&str; 4] = ["gateway", "governance", "budget", "grants"];
/// Also given a certificate, for `deploy/compose.yaml`: the trace collector
/// the servers send to over mutual TLS there.
const COLLECTOR: &str = "otel-collector";

pub struct StackTls {
    /// `None`: plaintext.
    pki: Option<Pki>,
}

struct Pki {
    ca: PathBuf,
    servers: HashMap<&'static str, Issued>,
    agencies: HashMap<&'static str, Issued>,
}

fn failed(error: aimaq_tls::TlsError) -> StackError {
    StackError::Tls(error.to_string())
}

impl StackTls {
    /// The certificates under `data_dir/tls`, made where missing; the servers'
    /// are issued for `host` and localhost.
    pub fn prepare(data_dir: &Path, host: &str, plaintext: bool) -> Result<StackTls, StackError> {
        if plaintext {
            return Ok(StackTls { pki: None });
        }
        let pki = DevPki::load_or_generate(&data_dir.join("tls")).map_err(failed)?;
        let mut hosts = vec![host, "localhost", "127.0.0.1"];
        hosts.dedup();
        let mut servers = HashMap::new();
        for server in SERVERS {
            let mut names = hosts.clone();
            names.push(server);
            servers.insert(server, pki.issue(server, &names).map_err(failed)?);
        }
        pki.issue(COLLECTOR, &[COLLECTOR, "localhost"])
            .map_err(failed)?;
        let mut agencies = HashMap::new();
        for agency in AGENCIES {
            agencies.insert(
                agency.subject,
                pki.issue(agency.subject, &[]).map_err(failed)?,
            );
        }
        Ok(StackTls {
            pki: Some(Pki {
                ca: pki.ca(),
                servers,
                agencies,
            }),
        })
    }

    pub fn is_plaintext(&self) -> bool {
        self.pki.is_none()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.pki.is_some() { "https" } else { "http" }
    }

    /// A server's settings: mutual TLS with the development CA.
    pub fn server(&self, server: &str) -> TlsConfig {
        let Some(pki) = &self.pki else {
            return TlsConfig {
                plaintext: true,
                ..TlsConfig::default()
            };
        };
        let issued = pki.servers.get(server);
        TlsConfig {
            tls_cert: issued.map(|i| i.cert.clone()),
            tls_key: issued.map(|i| i.key.clone()),
            tls_client_ca: Some(pki.ca.clone()),
            tls_ca: Some(pki.ca.clone()),
            plaintext: false,
        }
    }

    /// The certificate of a demo agency, if TLS is on.
    pub fn agency(&self, subject: &str) -> Option<&Issued> {
        self.pki.as_ref().and_then(|pki| pki.agencies.get(subject))
    }

    /// How a demo agency reaches the servers.
    pub fn outbound(&self, subject: &str) -> Result<Outbound, StackError> {
        let Some(pki) = &self.pki else {
            return Ok(Outbound {
                tls: None,
                allow_plaintext: true,
            });
        };
        let identity = self
            .agency(subject)
            .map(|i| (i.cert.clone(), i.key.clone()));
        let tls = ClientTls::load(pki.ca.clone(), identity).map_err(failed)?;
        Ok(Outbound {
            tls: Some(Arc::new(tls)),
            allow_plaintext: false,
        })
    }

    /// grpcurl's flags for calling as a demo agency.
    pub fn grpcurl_flags(&self, subject: &str) -> String {
        match (&self.pki, self.agency(subject)) {
            (Some(pki), Some(issued)) => format!(
                "-cacert {} -cert {} -key {}",
                pki.ca.display(),
                issued.cert.display(),
                issued.key.display()
            ),
            _ => "-plaintext".into(),
        }
    }
}
