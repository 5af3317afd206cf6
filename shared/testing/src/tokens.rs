use std::time::Duration;

use aimaq_auth::{DevKeys, Scope, TokenIssuer, TokenSpec};

/// A key pair made for one test run, and tokens signed with it.
#[derive(Clone)]
pub struct TestTokens {
    pub keys: DevKeys,
    pub issuer: TokenIssuer,
}

impl TestTokens {
    pub fn new() -> TestTokens {
        let keys = DevKeys::generate().expect("generate a key pair");
        let issuer = TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq").expect("issuer");
        TestTokens { keys, issuer }
    }

    /// A token for `subject` with `scopes`, optionally limited to a KATO prefix.
    pub fn token(&self, subject: &str, scopes: &[Scope], kato_prefix: Option<&str>) -> String {
        self.issuer
            .mint(&TokenSpec {
                subject: subject.into(),
                agency: format!("{subject} agency"),
                scopes: scopes.to_vec(),
                kato_prefix: kato_prefix.map(str::to_owned),
                ttl: Duration::from_secs(3600),
                bound_to: None,
            })
            .expect("mint a token")
    }

    pub fn admin(&self) -> String {
        self.token("test-admin", &[Scope::Admin], None)
    }

    /// `authorization` metadata value for a token.
    pub fn bearer(token: &str) -> tonic::metadata::MetadataValue<tonic::metadata::Ascii> {
        format!("Bearer {token}").parse().expect("ASCII token")
    }
}

impl Default for TestTokens {
    fn default() -> TestTokens {
        TestTokens::new()
    }
}
