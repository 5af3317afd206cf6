use std::time::Duration;

use tonic::service::Interceptor;

use super::*;

fn pair() -> (TokenIssuer, TokenVerifier) {
    let keys = DevKeys::generate().unwrap();
    (
        TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq").unwrap(),
        TokenVerifier::new(keys.public_pem.as_bytes(), "aimaq", "aimaq").unwrap(),
    )
}

fn spec(scopes: &[Scope], kato_prefix: Option<&str>) -> TokenSpec {
    TokenSpec {
        subject: "akimat-61".into(),
        agency: "Turkestan region akimat".into(),
        scopes: scopes.to_vec(),
        kato_prefix: kato_prefix.map(str::to_owned),
        ttl: Duration::from_secs(600),
    }
}

fn unauthenticated_message(result: Result<Caller, Error>) -> String {
    match result {
        Err(Error::Unauthenticated(message)) => message,
        other => panic!("expected UNAUTHENTICATED, got {other:?}"),
    }
}

#[test]
fn a_valid_token_names_the_caller() {
    let (issuer, verifier) = pair();
    let token = issuer
        .mint(&spec(&[Scope::GovernanceWrite], Some("61")))
        .unwrap();
    let caller = verifier.verify(&token).unwrap();
    assert_eq!(caller.subject, "akimat-61");
    assert!(caller.has(Scope::GovernanceWrite));
    assert!(!caller.has(Scope::BudgetWrite));
    assert_eq!(caller.kato_prefix(), Some("61"));
}

#[test]
fn expired_token_is_refused() {
    let (issuer, verifier) = pair();
    let now = jsonwebtoken::get_current_timestamp();
    let token = issuer
        .mint_claims(&Claims {
            iss: "aimaq".into(),
            aud: "aimaq".into(),
            sub: "x".into(),
            agency: "a".into(),
            scopes: vec!["admin".into()],
            kato_prefix: None,
            iat: now - 7200,
            exp: now - 3600,
        })
        .unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("expired"));
}

#[test]
fn foreign_signature_is_refused() {
    let (_, verifier) = pair();
    let (other_issuer, _) = pair();
    let token = other_issuer.mint(&spec(&[Scope::Admin], None)).unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("signature"));
}

#[test]
fn wrong_audience_and_issuer_are_refused() {
    let keys = DevKeys::generate().unwrap();
    let verifier = TokenVerifier::new(keys.public_pem.as_bytes(), "aimaq", "aimaq").unwrap();
    let wrong_aud = TokenIssuer::new(&keys.private_pem, "aimaq", "other-system").unwrap();
    let token = wrong_aud.mint(&spec(&[Scope::Admin], None)).unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("audience"));
    let wrong_iss = TokenIssuer::new(&keys.private_pem, "someone", "aimaq").unwrap();
    let token = wrong_iss.mint(&spec(&[Scope::Admin], None)).unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("issuer"));
}

#[test]
fn garbage_and_missing_tokens_are_refused() {
    let (_, verifier) = pair();
    assert!(unauthenticated_message(verifier.verify("not.a.token")).contains("malformed"));
    let metadata = tonic::metadata::MetadataMap::new();
    assert!(unauthenticated_message(verifier.verify_metadata(&metadata)).contains("missing"));
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("authorization", "Basic abc".parse().unwrap());
    assert!(unauthenticated_message(verifier.verify_metadata(&metadata)).contains("Bearer"));
}

#[test]
fn scopes_and_kato_prefix() {
    let (issuer, verifier) = pair();
    let caller = verifier
        .verify(
            &issuer
                .mint(&spec(&[Scope::GovernanceRead], Some("6136")))
                .unwrap(),
        )
        .unwrap();
    assert!(matches!(
        caller.require(Scope::GovernanceWrite),
        Err(Error::PermissionDenied(message)) if message.contains("governance.write")
    ));
    let inside = Kato::parse("613633100").unwrap();
    let outside = Kato::parse("710000000").unwrap();
    assert!(caller.require_write_at(inside).is_ok());
    assert!(matches!(
        caller.require_write_at(outside),
        Err(Error::PermissionDenied(message)) if message.contains("6136")
    ));

    let admin = verifier
        .verify(&issuer.mint(&spec(&[Scope::Admin], None)).unwrap())
        .unwrap();
    assert!(Scope::ALL.iter().all(|scope| admin.has(*scope)));
    assert!(admin.require_write_at(outside).is_ok());
}

#[test]
fn malformed_kato_prefix_is_refused() {
    let (issuer, verifier) = pair();
    let token = issuer.mint(&spec(&[Scope::Admin], Some("61x"))).unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("kato_prefix"));
}

#[test]
fn dev_keys_persist_and_stay_private() {
    let dir = tempfile::tempdir().unwrap();
    let first = DevKeys::load_or_generate(dir.path()).unwrap();
    let second = DevKeys::load_or_generate(dir.path()).unwrap();
    assert_eq!(first.public_pem, second.public_pem);
    assert_eq!(format!("{:?}", first.private_pem), "SecretPem(..)");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("token-signing-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }
}

#[test]
fn during_rotation_old_and_new_keys_are_accepted() {
    let old = DevKeys::generate().unwrap();
    let new = DevKeys::generate().unwrap();
    let both = format!("{}{}", old.public_pem, new.public_pem);
    let verifier = TokenVerifier::new(both.as_bytes(), "aimaq", "aimaq").unwrap();
    for keys in [&old, &new] {
        let issuer = TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq").unwrap();
        let token = issuer.mint(&spec(&[Scope::Admin], None)).unwrap();
        assert!(verifier.verify(&token).is_ok());
    }
    let (stranger, _) = pair();
    let token = stranger.mint(&spec(&[Scope::Admin], None)).unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("signature"));
    assert!(TokenVerifier::new(b"", "aimaq", "aimaq").is_err());
    assert!(TokenVerifier::new(b"not a key", "aimaq", "aimaq").is_err());
}

#[test]
fn the_interceptor_remembers_verified_tokens_until_they_expire() {
    let (issuer, verifier) = pair();
    let mut authenticator = Authenticator::new(verifier);
    let token = issuer.mint(&spec(&[Scope::GovernanceRead], None)).unwrap();
    let request = || {
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        request
    };
    for _ in 0..3 {
        let accepted = authenticator.call(request()).unwrap();
        assert_eq!(Caller::of(&accepted).unwrap().subject, "akimat-61");
    }
    assert_eq!(authenticator.1.lock().unwrap().0.len(), 1);
    // A remembered token past its expiry is verified again, and refused.
    authenticator
        .1
        .lock()
        .unwrap()
        .0
        .values_mut()
        .for_each(|(_, expires)| *expires = 0);
    let now = jsonwebtoken::get_current_timestamp();
    let expired = issuer
        .mint_claims(&Claims {
            iss: "aimaq".into(),
            aud: "aimaq".into(),
            sub: "late".into(),
            agency: "a".into(),
            scopes: vec![],
            kato_prefix: None,
            iat: now - 7200,
            exp: now - 3600,
        })
        .unwrap();
    let mut late = Request::new(());
    late.metadata_mut().insert(
        "authorization",
        format!("Bearer {expired}").parse().unwrap(),
    );
    assert_eq!(
        authenticator.call(late).unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert!(
        authenticator.call(request()).is_ok(),
        "re-verified after its memory expired"
    );
}
