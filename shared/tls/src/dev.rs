//! A development CA and the certificates it issues, kept under a directory: for
//! the all-in-one stack (made on first start, reused after) and for tests.
//! Never for production, whose certificates come from cert-manager.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::TlsError;

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";

/// A development CA under a directory.
pub struct DevPki {
    dir: PathBuf,
    name: String,
    key: KeyPair,
}

/// A certificate and its key, as files.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Issued {
    /// RFC 8705's thumbprint of the certificate, for binding tokens to it.
    pub fn thumbprint(&self) -> Result<String, TlsError> {
        crate::thumbprint_of(&self.cert)
    }
}

fn failed(what: impl std::fmt::Display) -> TlsError {
    TlsError::Config(what.to_string())
}

impl DevPki {
    /// The CA kept in `dir`, made there on first use.
    pub fn load_or_generate(dir: &Path) -> Result<DevPki, TlsError> {
        DevPki::named(dir, "Aimaq development CA")
    }

    /// A CA of its own name kept in `dir` (tests make a second, untrusted one).
    pub fn named(dir: &Path, name: &str) -> Result<DevPki, TlsError> {
        std::fs::create_dir_all(dir).map_err(failed)?;
        let key_path = dir.join(CA_KEY);
        let key = if key_path.exists() {
            let pem = std::fs::read_to_string(&key_path).map_err(failed)?;
            KeyPair::from_pem(&pem).map_err(failed)?
        } else {
            let key = KeyPair::generate().map_err(failed)?;
            let certificate = ca_params(name)?.self_signed(&key).map_err(failed)?;
            write_private(&key_path, &key.serialize_pem())?;
            std::fs::write(dir.join(CA_CERT), certificate.pem()).map_err(failed)?;
            key
        };
        Ok(DevPki {
            dir: dir.to_path_buf(),
            name: name.to_owned(),
            key,
        })
    }

    /// The CA certificate: what clients verify servers against, and servers
    /// verify client certificates against.
    pub fn ca(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// A certificate for `name` (its common name) and `hosts` (DNS names or IP
    /// addresses), for serving and as a client: the one in `dir` when it is
    /// there already, else a new one valid for a year.
    pub fn issue(&self, name: &str, hosts: &[&str]) -> Result<Issued, TlsError> {
        let issued = self.paths(name);
        if issued.cert.exists() && issued.key.exists() {
            return Ok(issued);
        }
        let now = OffsetDateTime::now_utc();
        self.issue_valid(
            name,
            hosts,
            now - Duration::hours(1),
            now + Duration::days(365),
        )
    }

    /// A new certificate for `name` valid from `from` to `until` (tests make
    /// expired ones), replacing any in `dir`.
    pub fn issue_valid(
        &self,
        name: &str,
        hosts: &[&str],
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Issued, TlsError> {
        let mut params =
            CertificateParams::new(hosts.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>())
                .map_err(failed)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Aimaq development");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = from;
        params.not_after = until;
        let key = KeyPair::generate().map_err(failed)?;
        let issuer = Issuer::new(ca_params(&self.name)?, &self.key);
        let certificate = params.signed_by(&key, &issuer).map_err(failed)?;
        let issued = self.paths(name);
        // The key first: a reader that sees the new certificate finds its key.
        write_private(&issued.key, &key.serialize_pem())?;
        std::fs::write(&issued.cert, certificate.pem()).map_err(failed)?;
        Ok(issued)
    }

    fn paths(&self, name: &str) -> Issued {
        Issued {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}-key.pem")),
        }
    }
}

fn ca_params(name: &str) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(3650);
    Ok(params)
}

fn write_private(path: &Path, pem: &str) -> Result<(), TlsError> {
    aimaq_config::files::write_private(path, pem).map_err(failed)
}
