//! Bearer-token authentication for every Aimaq server: Ed25519-signed JWTs that
//! name the calling system (`sub`), its agency, its scopes and optionally a KATO
//! prefix limiting where it may write. Each server verifies tokens itself
//! ([`Authenticator`] as a tonic interceptor); handlers then ask the [`Caller`]
//! for the scope and territory they need.

mod keys;
mod scope;

use std::collections::HashSet;
use std::sync::Arc;

use aimaq_error::Error;
use aimaq_types::Kato;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::service::Interceptor;
use tonic::{Request, Status};

pub use keys::{DevKeys, KeyError, SecretPem};
pub use scope::Scope;

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
}

/// Who is calling, once the token is verified. Handlers find it in the request's
/// extensions ([`Caller::of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub agency: String,
    scopes: HashSet<Scope>,
    kato_prefix: Option<String>,
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

/// Verifies tokens: signature (EdDSA only), issuer, audience, expiry, and the
/// presence of `sub`.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Vec<DecodingKey>,
    validation: Validation,
}

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";

impl TokenVerifier {
    /// `public_keys_pem` holds one or more Ed25519 public keys (PEM blocks one
    /// after another): while keys are rotated, tokens signed by the old and the new
    /// key are both accepted.
    pub fn new(
        public_keys_pem: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<TokenVerifier, KeyError> {
        let text = std::str::from_utf8(public_keys_pem)
            .map_err(|_| KeyError::Encode("the public key file is not PEM text".into()))?;
        let keys = text
            .split(PEM_BEGIN)
            .filter(|block| !block.trim().is_empty())
            .map(|block| DecodingKey::from_ed_pem(format!("{PEM_BEGIN}{block}").as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(KeyError::Jwt)?;
        if keys.is_empty() {
            return Err(KeyError::Encode("no public key in the file".into()));
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Ok(TokenVerifier { keys, validation })
    }

    /// Claims of a token signed by one of the keys; a signature that no key
    /// verifies is refused, and so is any other fault found with a matching key.
    fn decode(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut last = None;
        for key in &self.keys {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => return Ok(data.claims),
                Err(error) if matches!(error.kind(), ErrorKind::InvalidSignature) => {
                    last = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last.unwrap_or_else(|| ErrorKind::InvalidSignature.into()))
    }

    pub fn verify(&self, token: &str) -> Result<Caller, Error> {
        self.verify_with_expiry(token).map(|(caller, _)| caller)
    }

    /// The caller and the token's expiry (seconds since the epoch).
    fn verify_with_expiry(&self, token: &str) -> Result<(Caller, u64), Error> {
        let claims = self
            .decode(token)
            .map_err(|error| Error::Unauthenticated(describe_jwt_error(error.kind())))?;
        let expires = claims.exp;
        if claims.sub.trim().is_empty() {
            return Err(Error::Unauthenticated(
                "the token names no subject (sub)".into(),
            ));
        }
        if let Some(prefix) = &claims.kato_prefix
            && (prefix.is_empty()
                || prefix.len() > 9
                || !prefix.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::Unauthenticated(
                "the token's kato_prefix must be 1 to 9 digits".into(),
            ));
        }
        let caller = Caller {
            subject: claims.sub,
            agency: claims.agency,
            scopes: claims
                .scopes
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
            kato_prefix: claims.kato_prefix,
        };
        Ok((caller, expires))
    }

    /// Verifies the `authorization: Bearer …` metadata of a request.
    pub fn verify_metadata(
        &self,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Caller, Error> {
        self.verify(bearer_token(metadata.as_ref())?)
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

fn describe_jwt_error(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".into(),
        ErrorKind::InvalidSignature => "the token's signature is invalid".into(),
        ErrorKind::InvalidAudience => "the token is not meant for this audience".into(),
        ErrorKind::InvalidIssuer => "the token comes from an unknown issuer".into(),
        ErrorKind::InvalidAlgorithm => "the token must be signed with EdDSA".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the claim {claim}"),
        _ => "the token is malformed".into(),
    }
}

/// A tonic interceptor that verifies the bearer token of every call and puts the
/// [`Caller`] in the request's extensions.
///
/// Agencies' systems send the same token with many calls: a verified token is
/// remembered until it expires, so its signature is checked once, not per call.
#[derive(Clone)]
pub struct Authenticator(Arc<TokenVerifier>, Arc<std::sync::Mutex<VerifiedTokens>>);

/// Tokens already verified, with their expiry (seconds since the epoch).
#[derive(Default)]
struct VerifiedTokens(std::collections::HashMap<String, (Arc<Caller>, u64)>);

/// Verified tokens remembered at most; the memory is cleared when it is full.
const REMEMBERED_TOKENS: usize = 10_000;

impl Authenticator {
    pub fn new(verifier: TokenVerifier) -> Authenticator {
        Authenticator(Arc::new(verifier), Arc::default())
    }

    /// The caller named by the bearer token of a request's headers, from memory
    /// while the token is unexpired.
    pub fn caller(&self, headers: &http::HeaderMap) -> Result<Caller, Error> {
        self.shared_caller(headers).map(|caller| (*caller).clone())
    }

    /// As [`Authenticator::caller`], shared rather than copied (for a hot path
    /// that only reads it).
    pub fn shared_caller(&self, headers: &http::HeaderMap) -> Result<Arc<Caller>, Error> {
        let token = bearer_token(headers)?;
        let now = jsonwebtoken::get_current_timestamp();
        if let Ok(remembered) = self.1.lock()
            && let Some((caller, expires)) = remembered.0.get(token)
            && now < *expires
        {
            return Ok(Arc::clone(caller));
        }
        let (caller, expires) = self.0.verify_with_expiry(token)?;
        let caller = Arc::new(caller);
        if let Ok(mut remembered) = self.1.lock() {
            if remembered.0.len() >= REMEMBERED_TOKENS {
                remembered.0.clear();
            }
            remembered
                .0
                .insert(token.to_owned(), (Arc::clone(&caller), expires));
        }
        Ok(caller)
    }

    /// Reads the public key (PEM) from `path`.
    pub fn load(
        path: &std::path::Path,
        issuer: &str,
        audience: &str,
    ) -> Result<Authenticator, KeyError> {
        let pem = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Authenticator::new(TokenVerifier::new(
            &pem, issuer, audience,
        )?))
    }

    pub fn verifier(&self) -> &TokenVerifier {
        &self.0
    }
}

impl Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = self.caller(request.metadata().as_ref())?;
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
}

/// Signs tokens: for development, the launcher and tests. Production tokens come
/// from the agencies' identity provider with the same claims.
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    issuer: String,
    audience: String,
}

impl TokenIssuer {
    pub fn new(
        private_key: &SecretPem,
        issuer: &str,
        audience: &str,
    ) -> Result<TokenIssuer, KeyError> {
        let key =
            EncodingKey::from_ed_pem(private_key.expose().as_bytes()).map_err(KeyError::Jwt)?;
        Ok(TokenIssuer {
            key,
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
        })
    }

    /// Signs arbitrary claims (tests use it for expired and foreign tokens).
    pub fn mint_claims(&self, claims: &Claims) -> Result<String, KeyError> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.key)
            .map_err(KeyError::Jwt)
    }
}

#[cfg(test)]
mod tests;
