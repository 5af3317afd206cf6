//! Bearer-token authentication for every Aimaq server: Ed25519-signed JWTs that
//! name the calling system (`sub`), its agency, its scopes and optionally a KATO
//! prefix limiting where it may write, verified by the key their `kid` names in
//! a key set that is re-read when it changes. A token may be bound to the client
//! certificate it was issued to (RFC 8705); calls with another certificate are
//! refused. Each server verifies tokens itself ([`Authenticator`] as a tonic
//! interceptor); handlers then ask the [`Caller`] for the scope and territory
//! they need.

mod crypto;
mod identity;
mod keyring;
mod keys;
mod scope;
mod verifier;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use aimaq_error::Error;
use aimaq_types::Kato;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tonic::service::Interceptor;
use tonic::{Request, Status};

pub use identity::{
    ClientCertificate, FORWARDED_CERTIFICATE, OnBehalf, Peer, forwarded_value, parse_forwarded,
    thumbprint,
};
pub use keys::{DevKeys, KeyError, SecretPem, key_id, key_id_of_pem};
pub use scope::Scope;
pub use verifier::{TokenVerifier, VerifiedToken};

/// The claims of an Aimaq token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The calling system.
    pub sub: String,
    pub agency: String,
    pub scopes: Vec<String>,
    /// Digits a KATO code must start with for the caller to write there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kato_prefix: Option<String>,
    pub iat: u64,
    pub exp: u64,
    /// Not valid before this time, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The certificate the token is bound to (RFC 8705).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 8705's confirmation claim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

/// Who is calling, once the token is verified. Handlers find it in the request's
/// extensions ([`Caller::of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub agency: String,
    scopes: Arc<HashSet<Scope>>,
    kato_prefix: Option<String>,
    /// The client certificate the call came with: the caller's own, or the one
    /// a trusted service of ours passed on.
    pub certificate: Option<Arc<ClientCertificate>>,
}

impl Caller {
    /// The verified caller of a request that passed the [`Authenticator`].
    pub fn of<T>(request: &Request<T>) -> Result<&Caller, Error> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Error::Unauthenticated("the request carries no verified token".into()))
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// PERMISSION_DENIED unless the token grants `scope` (or admin).
    pub fn require(&self, scope: Scope) -> Result<(), Error> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "the token of {} lacks the scope {scope}",
                self.subject
            )))
        }
    }

    pub fn kato_prefix(&self) -> Option<&str> {
        self.kato_prefix.as_deref()
    }

    /// The scopes the token grants, in a fixed order.
    pub fn scopes(&self) -> Vec<Scope> {
        Scope::ALL
            .into_iter()
            .filter(|scope| self.scopes.contains(scope))
            .collect()
    }

    /// The subject of the certificate the call came with, for the audit log
    /// (empty without one).
    pub fn certificate_subject(&self) -> &str {
        self.certificate.as_ref().map_or("", |c| c.subject.as_str())
    }

    /// Checks `scope` and that the token is not limited to a KATO prefix: `what`
    /// is national (for example "programmes and envelopes").
    pub fn require_national(&self, scope: Scope, what: &str) -> Result<(), Error> {
        self.require(scope)?;
        match &self.kato_prefix {
            Some(prefix) => Err(Error::PermissionDenied(format!(
                "{what} are national; the token of {} is limited to KATO prefix {prefix}",
                self.subject
            ))),
            None => Ok(()),
        }
    }

    /// PERMISSION_DENIED when the token limits writes to a KATO prefix and `kato`
    /// lies outside it.
    pub fn require_write_at(&self, kato: Kato) -> Result<(), Error> {
        match &self.kato_prefix {
            Some(prefix) if !kato.has_prefix(prefix) => Err(Error::PermissionDenied(format!(
                "the token of {} may write only under KATO prefix {prefix}; {kato} is outside it",
                self.subject
            ))),
            _ => Ok(()),
        }
    }
}

/// The token of an `authorization: Bearer …` header.
fn bearer_token(headers: &http::HeaderMap) -> Result<&str, Error> {
    let value = headers.get("authorization").ok_or_else(|| {
        Error::Unauthenticated("missing bearer token: send `authorization: Bearer <token>`".into())
    })?;
    let text = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("the authorization header is not text".into()))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or_else(|| {
            Error::Unauthenticated("the authorization header must be `Bearer <token>`".into())
        })?;
    Ok(token.trim())
}

/// Which tokens must be bound to the caller's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Binding {
    /// A bound token is held to its certificate; an unbound one is accepted.
    #[default]
    Optional,
    /// Tokens of these agencies must be bound.
    Agencies(HashSet<String>),
    /// Every token must be bound.
    Everyone,
}

impl Binding {
    /// From a list of agencies, where `*` means every one.
    pub fn of_agencies(agencies: &[String]) -> Binding {
        if agencies.iter().any(|a| a == "*") {
            Binding::Everyone
        } else if agencies.is_empty() {
            Binding::Optional
        } else {
            Binding::Agencies(agencies.iter().cloned().collect())
        }
    }

    fn requires(&self, agency: &str) -> bool {
        match self {
            Binding::Optional => false,
            Binding::Agencies(agencies) => agencies.contains(agency),
            Binding::Everyone => true,
        }
    }
}

/// Whom a server believes beyond a token.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Names (certificate common or DNS names) of our services whose calls may
    /// pass on the certificate of the caller they act for.
    pub forwarders: Vec<String>,
    pub binding: Binding,
}

/// Verifies the bearer token of every call against the certificate the call
/// came with, and puts the [`Caller`] in the request's extensions.
///
/// Agencies' systems send the same token with many calls: a verified token is
/// remembered until it expires (or the key set changes), so its signature is
/// checked once, not per call; its binding is checked on every call.
#[derive(Clone)]
pub struct Authenticator {
    verifier: Arc<TokenVerifier>,
    trust: Arc<Trust>,
    remembered: Arc<Mutex<VerifiedTokens>>,
}

/// Tokens already verified.
#[derive(Default)]
struct VerifiedTokens(HashMap<String, Arc<VerifiedToken>>);

/// Verified tokens remembered at most; the memory is cleared when it is full.
const REMEMBERED_TOKENS: usize = 10_000;

impl Authenticator {
    pub fn new(verifier: TokenVerifier, trust: Trust) -> Authenticator {
        Authenticator {
            verifier: Arc::new(verifier),
            trust: Arc::new(trust),
            remembered: Arc::default(),
        }
    }

    /// The caller of a call with these headers, over a connection from `peer`.
    pub fn authenticate(
        &self,
        headers: &http::HeaderMap,
        peer: Option<&Peer>,
    ) -> Result<Caller, Error> {
        let token = self.token(headers)?;
        let certificate = self.certificate(headers, peer)?;
        match &token.bound_to {
            Some(bound) => match &certificate {
                Some(presented) if presented.thumbprint == *bound => {}
                Some(_) => {
                    return Err(Error::Unauthenticated(
                        "the token is bound to another client certificate".into(),
                    ));
                }
                None => {
                    return Err(Error::Unauthenticated(
                        "the token is bound to a client certificate, and the call presented none"
                            .into(),
                    ));
                }
            },
            None if self.trust.binding.requires(&token.agency) => {
                return Err(Error::Unauthenticated(format!(
                    "tokens of {} must be bound to the caller's certificate (cnf x5t#S256)",
                    token.agency
                )));
            }
            None => {}
        }
        Ok(Caller {
            subject: token.subject.clone(),
            agency: token.agency.clone(),
            scopes: Arc::clone(&token.scopes),
            kato_prefix: token.kato_prefix.clone(),
            certificate,
        })
    }

    /// The verified token of a request's headers, from memory while unexpired.
    fn token(&self, headers: &http::HeaderMap) -> Result<Arc<VerifiedToken>, Error> {
        let token = bearer_token(headers)?;
        let now = jsonwebtoken::get_current_timestamp();
        if self.verifier.keys_changed()
            && let Ok(mut remembered) = self.remembered.lock()
        {
            // A key taken out of the set takes its tokens with it.
            remembered.0.clear();
        }
        if let Ok(remembered) = self.remembered.lock()
            && let Some(verified) = remembered.0.get(token)
            && now < verified.expires
        {
            return Ok(Arc::clone(verified));
        }
        let verified = Arc::new(self.verifier.verify(token)?);
        if let Ok(mut remembered) = self.remembered.lock() {
            if remembered.0.len() >= REMEMBERED_TOKENS {
                remembered.0.clear();
            }
            remembered.0.insert(token.to_owned(), Arc::clone(&verified));
        }
        Ok(verified)
    }

    /// The certificate a call came with: the peer's own, or, from a trusted
    /// forwarder, the one it passed on for the caller it acts for.
    fn certificate(
        &self,
        headers: &http::HeaderMap,
        peer: Option<&Peer>,
    ) -> Result<Option<Arc<ClientCertificate>>, Error> {
        let own = peer.and_then(|peer| peer.certificate.clone());
        let forwarder = own.as_ref().is_some_and(|certificate| {
            self.trust
                .forwarders
                .iter()
                .any(|name| certificate.is_named(name))
        });
        match headers.get(FORWARDED_CERTIFICATE) {
            Some(value) if forwarder => parse_forwarded(value)
                .map(|forwarded| forwarded.map(Arc::new))
                .map_err(|why| Error::Unauthenticated(why.into())),
            _ => Ok(own),
        }
    }

    /// As a server's configuration says: its key set (a JWKS file or a
    /// directory of `{kid}.pem`), issuer, audience, lifetime, forwarders and
    /// binding.
    pub fn load(config: &aimaq_config::AuthConfig) -> Result<Authenticator, KeyError> {
        let verifier = TokenVerifier::load(
            &config.token_keys,
            &config.token_issuer,
            &config.token_audience,
            config.token_max_lifetime,
        )?;
        Ok(Authenticator::new(
            verifier,
            Trust {
                forwarders: config.trusted_forwarders.clone(),
                binding: Binding::of_agencies(&config.bound_token_agencies),
            },
        ))
    }
}

impl Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let peer = request.extensions().get::<Peer>();
        let caller = self.authenticate(request.metadata().as_ref(), peer)?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// What a minted token grants.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub subject: String,
    pub agency: String,
    pub scopes: Vec<Scope>,
    pub kato_prefix: Option<String>,
    pub ttl: std::time::Duration,
    /// The thumbprint of the client certificate the token is bound to.
    pub bound_to: Option<String>,
}

/// Signs tokens: for development, the launcher and tests. Production tokens come
/// from the agencies' identity provider with the same claims.
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    kid: String,
    issuer: String,
    audience: String,
}

impl TokenIssuer {
    pub fn new(
        private_key: &SecretPem,
        issuer: &str,
        audience: &str,
    ) -> Result<TokenIssuer, KeyError> {
        crypto::install();
        let kid = DevKeys::from_private_pem(private_key)?.kid;
        let key =
            EncodingKey::from_ed_pem(private_key.expose().as_bytes()).map_err(KeyError::Jwt)?;
        Ok(TokenIssuer {
            key,
            kid,
            issuer: issuer.into(),
            audience: audience.into(),
        })
    }

    pub fn mint(&self, spec: &TokenSpec) -> Result<String, KeyError> {
        let now = jsonwebtoken::get_current_timestamp();
        self.mint_claims(&Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: spec.subject.clone(),
            agency: spec.agency.clone(),
            scopes: spec.scopes.iter().map(|s| s.to_string()).collect(),
            kato_prefix: spec.kato_prefix.clone(),
            iat: now,
            exp: now.saturating_add(spec.ttl.as_secs()),
            nbf: None,
            cnf: spec.bound_to.clone().map(|thumbprint| Confirmation {
                x5t_s256: Some(thumbprint),
            }),
        })
    }

    /// Signs arbitrary claims (tests use it for expired and foreign tokens).
    pub fn mint_claims(&self, claims: &Claims) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(KeyError::Jwt)
    }
}

#[cfg(test)]
mod tests;
