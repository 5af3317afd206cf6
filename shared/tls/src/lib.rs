//! TLS for every Aimaq connection, with rustls (ring): servers whose
//! certificates are read again when their files change and that require client
//! certificates when given a client CA (mutual TLS); clients that verify the
//! servers they call against a CA and present their own certificate; and, for
//! the stack and tests only, a development CA (feature `dev-pki`).

mod client;
#[cfg(feature = "dev-pki")]
pub mod dev;
mod server;

use std::path::Path;
use std::sync::Arc;

use aimaq_config::TlsConfig;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use client::{ClientTls, Outbound, Stream, Target};
pub use server::{Connection, ServerTls, incoming};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: {0}")]
    Config(String),
}

/// A server's TLS, and how it reaches others, as its configuration says.
#[derive(Clone)]
pub struct Tls {
    /// `None`: serving plaintext, which only `--plaintext` allows.
    pub server: Option<Arc<ServerTls>>,
    pub outbound: Outbound,
}

impl Tls {
    /// Refuses a configuration that would serve plaintext without saying so.
    pub fn from_config(config: &TlsConfig) -> Result<Tls, TlsError> {
        let server = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(ServerTls::load(
                cert.clone(),
                key.clone(),
                config.tls_client_ca.clone(),
            )?)),
            (None, None) if config.plaintext => None,
            (None, None) => {
                return Err(TlsError::Config(
                    "a server needs --tls-cert and --tls-key; --plaintext serves without TLS, \
                     for local experiments only"
                        .into(),
                ));
            }
            _ => {
                return Err(TlsError::Config(
                    "--tls-cert and --tls-key go together".into(),
                ));
            }
        };
        if config.tls_client_ca.is_some() && server.is_none() {
            return Err(TlsError::Config(
                "--tls-client-ca needs --tls-cert and --tls-key".into(),
            ));
        }
        Ok(Tls {
            server,
            outbound: Outbound::from_config(config)?,
        })
    }

    /// A tonic channel to `url` (connected on first use), for tools and tests.
    pub fn channel(&self, url: &str) -> Result<tonic::transport::Channel, TlsError> {
        Target::parse(url, &self.outbound)
            .map(|target| target.channel())
            .map_err(TlsError::Config)
    }
}

/// ring, the one crypto provider of every TLS connection (and of sqlx's). rustls
/// now marks it deprecated because it lacks post-quantum key exchange; its
/// successor, aws-lc-rs, needs a C build of its own. Moving to it is a choice
/// left open, recorded in the trust issue's note.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// RFC 8705's thumbprint of the (first) certificate in the PEM file at
/// `path`, for binding tokens to it.
pub fn thumbprint_of(path: &Path) -> Result<String, TlsError> {
    let chain = read_certificates(path).map_err(TlsError::Config)?;
    chain
        .first()
        .map(|der| aimaq_auth::thumbprint(der))
        .ok_or_else(|| TlsError::Config(format!("{}: no certificate", path.display())))
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_roots(path: &Path) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(path)? {
        roots
            .add(certificate)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(Arc::new(roots))
}
