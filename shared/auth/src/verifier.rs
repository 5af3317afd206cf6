//! Token verification: the signature by the key its `kid` names (EdDSA only),
//! issuer, audience, expiry, not-before, a lifetime within the allowed maximum,
//! and the claims Aimaq needs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aimaq_error::Error;
use aimaq_types::bounds;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

use crate::keyring::KeyRing;
use crate::{Claims, KeyError};

/// Seconds a clock may be off between issuer and verifier.
const LEEWAY_SECONDS: u64 = 30;

/// What a verified token says, before the connection's certificate is looked at.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub subject: String,
    pub agency: String,
    pub scopes: Arc<HashSet<crate::Scope>>,
    pub kato_prefix: Option<String>,
    /// The thumbprint of the certificate the token was issued to, if bound.
    pub bound_to: Option<String>,
    pub expires: u64,
}

pub struct TokenVerifier {
    keys: KeyRing,
    validation: Validation,
    max_lifetime: Duration,
}

impl TokenVerifier {
    /// Verifies with the key set at `keys` (see [`KeyRing::load`]); tokens may
    /// live at most `max_lifetime` from issue to expiry.
    pub fn load(
        keys: &std::path::Path,
        issuer: &str,
        audience: &str,
        max_lifetime: Duration,
    ) -> Result<TokenVerifier, KeyError> {
        crate::crypto::install();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Ok(TokenVerifier {
            keys: KeyRing::load(keys)?,
            validation,
            max_lifetime,
        })
    }

    /// Whether the key set was read again since the last call that said so.
    pub(crate) fn keys_changed(&self) -> bool {
        self.keys.current().1
    }

    pub fn verify(&self, token: &str) -> Result<VerifiedToken, Error> {
        let claims = self.decode(token)?;
        let now = jsonwebtoken::get_current_timestamp();
        let refuse = |message: String| Err(Error::Unauthenticated(message));
        if claims.iat > now.saturating_add(LEEWAY_SECONDS) {
            return refuse("the token is issued in the future (iat)".into());
        }
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if lifetime > self.max_lifetime.as_secs() {
            return refuse(format!(
                "the token lives {lifetime} s from iat to exp; at most {} s are allowed",
                self.max_lifetime.as_secs()
            ));
        }
        if claims.sub.trim().is_empty() {
            return refuse("the token names no subject (sub)".into());
        }
        for (claim, value) in [("sub", &claims.sub), ("agency", &claims.agency)] {
            if bounds::text(value, 200, false).is_err() {
                return refuse(format!(
                    "the token's {claim} must be at most 200 characters without control characters"
                ));
            }
        }
        if let Some(prefix) = &claims.kato_prefix
            && (prefix.is_empty()
                || prefix.len() > 9
                || !prefix.bytes().all(|b| b.is_ascii_digit()))
        {
            return refuse("the token's kato_prefix must be 1 to 9 digits".into());
        }
        let bound_to = match claims.cnf {
            Some(confirmation) => match confirmation.x5t_s256 {
                Some(thumbprint) => Some(thumbprint),
                None => return refuse("the token's cnf names no x5t#S256 thumbprint".into()),
            },
            None => None,
        };
        Ok(VerifiedToken {
            subject: claims.sub,
            agency: claims.agency,
            scopes: Arc::new(
                claims
                    .scopes
                    .iter()
                    .filter_map(|s| s.parse().ok())
                    .collect(),
            ),
            kato_prefix: claims.kato_prefix,
            bound_to,
            expires: claims.exp,
        })
    }

    /// The claims of a token signed by the key its `kid` names.
    fn decode(&self, token: &str) -> Result<Claims, Error> {
        let refuse = |kind: &ErrorKind| Error::Unauthenticated(describe_jwt_error(kind));
        let header = jsonwebtoken::decode_header(token).map_err(|e| refuse(e.kind()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(refuse(&ErrorKind::InvalidAlgorithm));
        }
        let kid = header
            .kid
            .ok_or_else(|| Error::Unauthenticated("the token names no key (kid)".into()))?;
        let (keys, _) = self.keys.current();
        let key = keys.get(&kid).ok_or_else(|| {
            Error::Unauthenticated(format!(
                "the token's key {} is not one this server trusts",
                bounds::quote(&kid)
            ))
        })?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| refuse(e.kind()))
    }
}

fn describe_jwt_error(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidSignature => "the token's signature is invalid".into(),
        ErrorKind::InvalidAudience => "the token is not meant for this audience".into(),
        ErrorKind::InvalidIssuer => "the token comes from an unknown issuer".into(),
        ErrorKind::InvalidAlgorithm => "the token must be signed with EdDSA".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the claim {claim}"),
        _ => "the token is malformed".into(),
    }
}
