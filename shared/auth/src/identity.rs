//! Who is on the other end of a connection, by its client certificate, and how
//! that identity travels on when one of our services calls another on a
//! caller's behalf.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tonic::metadata::{Ascii, MetadataValue};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// `id-at-commonName`.
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// The certificate a client presented (mutual TLS), as far as Aimaq uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject, as RFC 4514 writes it (`CN=akimat-61,O=…`): for the audit log.
    pub subject: String,
    /// The names it was issued to: its subject's common names and DNS names.
    pub names: Vec<String>,
    /// `base64url(SHA-256(DER))`: the `x5t#S256` a token is bound to (RFC 8705).
    pub thumbprint: String,
}

impl ClientCertificate {
    /// Reads a DER certificate (the TLS handshake verified it already).
    pub fn from_der(der: &[u8]) -> Result<ClientCertificate, String> {
        let certificate = Certificate::from_der(der).map_err(|e| e.to_string())?;
        let tbs = &certificate.tbs_certificate;
        let mut names: Vec<String> = tbs
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter(|attribute| attribute.oid == COMMON_NAME)
            .filter_map(|attribute| {
                let value = &attribute.value;
                value
                    .decode_as::<Utf8StringRef<'_>>()
                    .map(|s| s.to_string())
                    .or_else(|_| {
                        value
                            .decode_as::<PrintableStringRef<'_>>()
                            .map(|s| s.to_string())
                    })
                    .ok()
            })
            .collect();
        if let Ok(Some((_, alternatives))) = certificate.tbs_certificate.get::<SubjectAltName>() {
            names.extend(alternatives.0.iter().filter_map(|name| match name {
                GeneralName::DnsName(dns) => Some(dns.to_string()),
                _ => None,
            }));
        }
        Ok(ClientCertificate {
            subject: tbs.subject.to_string(),
            names,
            thumbprint: thumbprint(der),
        })
    }

    /// Whether it was issued to `name` (a common name or DNS name).
    pub fn is_named(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// RFC 8705's certificate thumbprint: `base64url(SHA-256(DER))`, unpadded.
pub fn thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// What a server knows of a connection: put in every request's extensions by
/// the server's transport (see `aimaq-tls`).
#[derive(Debug, Clone, Default)]
pub struct Peer {
    pub address: Option<SocketAddr>,
    /// The verified client certificate, when the client presented one.
    pub certificate: Option<Arc<ClientCertificate>>,
}

/// The header in which a service that calls another on a caller's behalf (the
/// gateway, budget and grants asking governance) passes on the certificate the
/// caller presented to it: `sha256=<thumbprint>;subject=<percent-encoded>`, or
/// `none`. Believed only from peers named trusted forwarders.
pub const FORWARDED_CERTIFICATE: &str = "aimaq-client-certificate";

/// The [`FORWARDED_CERTIFICATE`] value for `certificate`.
pub fn forwarded_value(certificate: Option<&ClientCertificate>) -> http::HeaderValue {
    let text = match certificate {
        Some(certificate) => format!(
            "sha256={};subject={}",
            certificate.thumbprint,
            percent_encoding::utf8_percent_encode(&certificate.subject, ENCODED)
        ),
        None => "none".to_owned(),
    };
    // Percent-encoding leaves visible ASCII only.
    http::HeaderValue::from_str(&text).unwrap_or(http::HeaderValue::from_static("none"))
}

/// Characters of a subject sent encoded: controls, non-ASCII, and the value's
/// own separators.
const ENCODED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b';')
    .add(b'"');

const MALFORMED: &str = "the forwarded client certificate is malformed";

/// The certificate named by a [`FORWARDED_CERTIFICATE`] value: `Ok(None)` for
/// `none`, an error for a value no forwarder of ours sends.
pub fn parse_forwarded(
    value: &http::HeaderValue,
) -> Result<Option<ClientCertificate>, &'static str> {
    let text = value.to_str().map_err(|_| MALFORMED)?;
    if text == "none" {
        return Ok(None);
    }
    let (digest, subject) = text.split_once(";subject=").ok_or(MALFORMED)?;
    let thumbprint = digest.strip_prefix("sha256=").ok_or(MALFORMED)?;
    if thumbprint.len() != 43
        || !thumbprint
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(MALFORMED);
    }
    let subject = percent_encoding::percent_decode_str(subject)
        .decode_utf8()
        .map_err(|_| MALFORMED)?
        .into_owned();
    Ok(Some(ClientCertificate {
        subject,
        // Names decide trust in forwarders only, never a forwarded identity.
        names: Vec::new(),
        thumbprint: thumbprint.to_owned(),
    }))
}

/// What a service passes on when it calls another on a caller's behalf: the
/// caller's token, and the certificate the caller came with.
#[derive(Debug, Clone)]
pub struct OnBehalf {
    pub authorization: MetadataValue<Ascii>,
    pub certificate: MetadataValue<Ascii>,
}

impl OnBehalf {
    /// The credentials of a request that passed the authenticator.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<OnBehalf, aimaq_error::Error> {
        let authorization = request
            .metadata()
            .get("authorization")
            .cloned()
            .ok_or_else(|| aimaq_error::Error::Unauthenticated("missing bearer token".into()))?;
        let caller = crate::Caller::of(request)?;
        let value = forwarded_value(caller.certificate.as_deref());
        let certificate = MetadataValue::try_from(value.as_bytes())
            .unwrap_or_else(|_| MetadataValue::from_static("none"));
        Ok(OnBehalf {
            authorization,
            certificate,
        })
    }

    /// Puts the credentials on an outgoing call.
    pub fn apply(&self, metadata: &mut tonic::metadata::MetadataMap) {
        metadata.insert("authorization", self.authorization.clone());
        metadata.insert(FORWARDED_CERTIFICATE, self.certificate.clone());
    }

    /// What answers to these credentials may be shared by: the token (whose
    /// scopes decide what is answered).
    pub fn token_bytes(&self) -> &[u8] {
        self.authorization.as_bytes()
    }
}
