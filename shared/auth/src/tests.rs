use std::time::Duration;

use tonic::service::Interceptor;

use super::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// An issuer and a verifier of its tokens; the key set lives in the temporary
/// directory returned with them.
fn pair() -> (TokenIssuer, TokenVerifier, tempfile::TempDir) {
    let keys = DevKeys::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    keys.publish(dir.path()).unwrap();
    (
        TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq").unwrap(),
        TokenVerifier::load(dir.path(), "aimaq", "aimaq", DAY).unwrap(),
        dir,
    )
}

fn spec(scopes: &[Scope], kato_prefix: Option<&str>) -> TokenSpec {
    TokenSpec {
        subject: "akimat-61".into(),
        agency: "Turkestan region akimat".into(),
        scopes: scopes.to_vec(),
        kato_prefix: kato_prefix.map(str::to_owned),
        ttl: Duration::from_secs(600),
        bound_to: None,
    }
}

fn claims(iat: u64, exp: u64) -> Claims {
    Claims {
        iss: "aimaq".into(),
        aud: "aimaq".into(),
        sub: "x".into(),
        agency: "a".into(),
        scopes: vec!["admin".into()],
        kato_prefix: None,
        iat,
        exp,
        nbf: None,
        cnf: None,
    }
}

fn unauthenticated_message<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Unauthenticated(message)) => message,
        other => panic!("expected UNAUTHENTICATED, got {other:?}"),
    }
}

fn headers(token: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    headers
}

#[test]
fn a_valid_token_names_the_caller() {
    let (issuer, verifier, _keys) = pair();
    let token = issuer
        .mint(&spec(&[Scope::GovernanceWrite], Some("61")))
        .unwrap();
    let authenticator = Authenticator::new(verifier, Trust::default());
    let caller = authenticator.authenticate(&headers(&token), None).unwrap();
    assert_eq!(caller.subject, "akimat-61");
    assert!(caller.has(Scope::GovernanceWrite));
    assert!(!caller.has(Scope::BudgetWrite));
    assert_eq!(caller.kato_prefix(), Some("61"));
    assert_eq!(caller.certificate_subject(), "");
}

#[test]
fn expired_future_and_long_lived_tokens_are_refused() {
    let (issuer, verifier, _keys) = pair();
    let now = jsonwebtoken::get_current_timestamp();
    let expired = issuer.mint_claims(&claims(now - 7200, now - 3600)).unwrap();
    assert!(unauthenticated_message(verifier.verify(&expired)).contains("expired"));
    // Not before an hour from now.
    let mut early = claims(now, now + 7200);
    early.nbf = Some(now + 3600);
    let early = issuer.mint_claims(&early).unwrap();
    assert!(unauthenticated_message(verifier.verify(&early)).contains("not valid yet"));
    // A clock a few seconds ahead is tolerated.
    let mut skewed = claims(now, now + 600);
    skewed.nbf = Some(now + 5);
    assert!(
        verifier
            .verify(&issuer.mint_claims(&skewed).unwrap())
            .is_ok()
    );
    // Years of validity, or an issue time in the future.
    let years = issuer
        .mint_claims(&claims(now, now + 3 * 365 * 86_400))
        .unwrap();
    assert!(unauthenticated_message(verifier.verify(&years)).contains("at most 86400 s"));
    let ahead = issuer.mint_claims(&claims(now + 3600, now + 7200)).unwrap();
    assert!(unauthenticated_message(verifier.verify(&ahead)).contains("future"));
}

#[test]
fn foreign_signature_and_unknown_keys_are_refused() {
    let (_, verifier, _keys) = pair();
    let (other_issuer, _, _other_keys) = pair();
    let token = other_issuer.mint(&spec(&[Scope::Admin], None)).unwrap();
    assert!(
        unauthenticated_message(verifier.verify(&token)).contains("not one this server trusts")
    );
    // A foreign key claiming a trusted key's id.
    let (issuer, _, keys_dir) = pair();
    let trusted = std::fs::read_dir(keys_dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let trusted_kid = trusted.file_stem().unwrap().to_str().unwrap().to_owned();
    let verifier = TokenVerifier::load(keys_dir.path(), "aimaq", "aimaq", DAY).unwrap();
    assert!(
        verifier
            .verify(&issuer.mint(&spec(&[Scope::Admin], None)).unwrap())
            .is_ok()
    );
    let forger = DevKeys::generate().unwrap();
    let forged_key = EncodingKey::from_ed_pem(forger.private_pem.expose().as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(trusted_kid);
    let now = jsonwebtoken::get_current_timestamp();
    let forged = jsonwebtoken::encode(&header, &claims(now, now + 60), &forged_key).unwrap();
    assert!(unauthenticated_message(verifier.verify(&forged)).contains("signature"));
    // A token without a key id.
    let keys = DevKeys::generate().unwrap();
    let key = EncodingKey::from_ed_pem(keys.private_pem.expose().as_bytes()).unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let no_kid =
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims(now, now + 60), &key).unwrap();
    assert!(unauthenticated_message(verifier.verify(&no_kid)).contains("kid"));
}

#[test]
fn wrong_audience_and_issuer_are_refused() {
    let (_, verifier, keys_dir) = pair();
    let keys = DevKeys::generate().unwrap();
    keys.publish(keys_dir.path()).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let wrong_aud = TokenIssuer::new(&keys.private_pem, "aimaq", "other-system").unwrap();
    let token = wrong_aud.mint(&spec(&[Scope::Admin], None)).unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("audience"));
    let wrong_iss = TokenIssuer::new(&keys.private_pem, "someone", "aimaq").unwrap();
    let token = wrong_iss.mint(&spec(&[Scope::Admin], None)).unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("issuer"));
}

#[test]
fn garbage_and_missing_tokens_are_refused() {
    let (_, verifier, _keys) = pair();
    assert!(unauthenticated_message(verifier.verify("not.a.token")).contains("malformed"));
    let authenticator = Authenticator::new(verifier, Trust::default());
    let none = http::HeaderMap::new();
    assert!(unauthenticated_message(authenticator.authenticate(&none, None)).contains("missing"));
    let mut basic = http::HeaderMap::new();
    basic.insert("authorization", "Basic abc".parse().unwrap());
    assert!(unauthenticated_message(authenticator.authenticate(&basic, None)).contains("Bearer"));
}

#[test]
fn scopes_and_kato_prefix() {
    let (issuer, verifier, _keys) = pair();
    let authenticator = Authenticator::new(verifier, Trust::default());
    let token = issuer
        .mint(&spec(&[Scope::GovernanceRead], Some("6136")))
        .unwrap();
    let caller = authenticator.authenticate(&headers(&token), None).unwrap();
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
    let token = issuer.mint(&spec(&[Scope::Admin], None)).unwrap();
    let admin = authenticator.authenticate(&headers(&token), None).unwrap();
    assert!(Scope::ALL.iter().all(|scope| admin.has(*scope)));
    assert!(admin.require_write_at(outside).is_ok());
}

#[test]
fn malformed_kato_prefix_is_refused() {
    let (issuer, verifier, _keys) = pair();
    let token = issuer.mint(&spec(&[Scope::Admin], Some("61x"))).unwrap();
    assert!(unauthenticated_message(verifier.verify(&token)).contains("kato_prefix"));
}

#[test]
fn dev_keys_persist_and_stay_private() {
    let dir = tempfile::tempdir().unwrap();
    let first = DevKeys::load_or_generate(dir.path()).unwrap();
    let second = DevKeys::load_or_generate(dir.path()).unwrap();
    assert_eq!(first.public_pem, second.public_pem);
    assert_eq!(first.kid, second.kid);
    assert!(
        DevKeys::key_set_path(dir.path())
            .join(format!("{}.pem", first.kid))
            .exists()
    );
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

/// Keys rotate by their files: a key added is trusted, a key removed is not,
/// and its remembered tokens go with it, without a restart.
#[test]
fn the_key_set_is_read_again_when_it_changes() {
    let old = DevKeys::generate().unwrap();
    let new = DevKeys::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let old_file = old.publish(dir.path()).unwrap();
    let verifier = TokenVerifier::load(dir.path(), "aimaq", "aimaq", DAY).unwrap();
    let authenticator = Authenticator::new(verifier, Trust::default());
    let token = |keys: &DevKeys| {
        let issuer = TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq").unwrap();
        headers(&issuer.mint(&spec(&[Scope::Admin], None)).unwrap())
    };
    assert!(authenticator.authenticate(&token(&old), None).is_ok());
    assert!(authenticator.authenticate(&token(&new), None).is_err());
    new.publish(dir.path()).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert!(authenticator.authenticate(&token(&new), None).is_ok());
    let remembered = token(&old);
    assert!(authenticator.authenticate(&remembered, None).is_ok());
    std::fs::remove_file(old_file).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let refused = authenticator.authenticate(&remembered, None);
    assert!(unauthenticated_message(refused).contains("not one this server trusts"));
    assert!(authenticator.authenticate(&token(&new), None).is_ok());
}

#[test]
fn a_jwks_file_is_a_key_set() {
    let keys = DevKeys::generate().unwrap();
    let verifying = ed25519_dalek::pkcs8::DecodePublicKey::from_public_key_pem(&keys.public_pem);
    let verifying: ed25519_dalek::VerifyingKey = verifying.unwrap();
    use base64::Engine;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(verifying.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"{}","alg":"EdDSA"}}]}}"#,
            keys.kid
        ),
    )
    .unwrap();
    let verifier = TokenVerifier::load(&path, "aimaq", "aimaq", DAY).unwrap();
    let issuer = TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq").unwrap();
    assert!(
        verifier
            .verify(&issuer.mint(&spec(&[Scope::Admin], None)).unwrap())
            .is_ok()
    );
    std::fs::write(&path, r#"{"keys":[]}"#).unwrap();
    assert!(TokenVerifier::load(&path, "aimaq", "aimaq", DAY).is_err());
    assert!(TokenVerifier::load(&dir.path().join("missing"), "aimaq", "aimaq", DAY).is_err());
}

fn certificate(name: &str) -> Arc<ClientCertificate> {
    Arc::new(ClientCertificate {
        subject: format!("CN={name}"),
        names: vec![name.into()],
        thumbprint: thumbprint(name.as_bytes()),
    })
}

fn peer(name: &str) -> Peer {
    Peer {
        address: None,
        certificate: Some(certificate(name)),
    }
}

#[test]
fn bound_tokens_need_their_certificate() {
    let (issuer, verifier, _keys) = pair();
    let authenticator = Authenticator::new(verifier, Trust::default());
    let mut bound = spec(&[Scope::Admin], None);
    bound.bound_to = Some(certificate("akimat-61").thumbprint.clone());
    let token = headers(&issuer.mint(&bound).unwrap());
    let caller = authenticator
        .authenticate(&token, Some(&peer("akimat-61")))
        .unwrap();
    assert_eq!(caller.certificate_subject(), "CN=akimat-61");
    let stolen = authenticator.authenticate(&token, Some(&peer("mallory")));
    assert!(unauthenticated_message(stolen).contains("another client certificate"));
    let bare = authenticator.authenticate(&token, None);
    assert!(unauthenticated_message(bare).contains("presented none"));
}

#[test]
fn binding_can_be_required_per_agency() {
    let (issuer, verifier, _keys) = pair();
    let trust = Trust {
        forwarders: Vec::new(),
        binding: Binding::of_agencies(&["Turkestan region akimat".into()]),
    };
    let authenticator = Authenticator::new(verifier, trust);
    let unbound = headers(&issuer.mint(&spec(&[Scope::Admin], None)).unwrap());
    let refused = authenticator.authenticate(&unbound, Some(&peer("akimat-61")));
    assert!(unauthenticated_message(refused).contains("must be bound"));
    let mut other = spec(&[Scope::Admin], None);
    other.agency = "Ministry of Finance".into();
    let other = headers(&issuer.mint(&other).unwrap());
    assert!(authenticator.authenticate(&other, None).is_ok());
    assert_eq!(Binding::of_agencies(&["*".into()]), Binding::Everyone);
    assert_eq!(Binding::of_agencies(&[]), Binding::Optional);
}

/// A trusted service of ours passes on the caller's certificate; anyone else
/// sending the same header is taken for itself.
#[test]
fn forwarded_certificates_are_believed_from_forwarders_only() {
    let (issuer, verifier, _keys) = pair();
    let trust = Trust {
        forwarders: vec!["gateway".into()],
        binding: Binding::Optional,
    };
    let authenticator = Authenticator::new(verifier, trust);
    let agency = certificate("akimat-61");
    let mut bound = spec(&[Scope::Admin], None);
    bound.bound_to = Some(agency.thumbprint.clone());
    let mut forwarded = headers(&issuer.mint(&bound).unwrap());
    forwarded.insert(FORWARDED_CERTIFICATE, forwarded_value(Some(&agency)));
    let caller = authenticator
        .authenticate(&forwarded, Some(&peer("gateway")))
        .unwrap();
    assert_eq!(caller.certificate_subject(), "CN=akimat-61");
    // The same header from the agency's neighbour is not believed.
    let refused = authenticator.authenticate(&forwarded, Some(&peer("mallory")));
    assert!(unauthenticated_message(refused).contains("another client certificate"));
    // A forwarder that says the caller had none.
    forwarded.insert(FORWARDED_CERTIFICATE, forwarded_value(None));
    let refused = authenticator.authenticate(&forwarded, Some(&peer("gateway")));
    assert!(unauthenticated_message(refused).contains("presented none"));
    forwarded.insert(
        FORWARDED_CERTIFICATE,
        "sha256=short;subject=x".parse().unwrap(),
    );
    let refused = authenticator.authenticate(&forwarded, Some(&peer("gateway")));
    assert!(unauthenticated_message(refused).contains("malformed"));
}

#[test]
fn forwarded_subjects_survive_the_header() {
    let subject = "CN=Түркістан облысы әкімдігі;O=\"x\" 100%";
    let certificate = ClientCertificate {
        subject: subject.into(),
        names: vec![],
        thumbprint: thumbprint(b"der"),
    };
    let value = forwarded_value(Some(&certificate));
    assert!(value.to_str().is_ok());
    let back = parse_forwarded(&value).unwrap().unwrap();
    assert_eq!(back.subject, subject);
    assert_eq!(back.thumbprint, certificate.thumbprint);
}

#[test]
fn the_interceptor_remembers_verified_tokens_until_they_expire() {
    let (issuer, verifier, _keys) = pair();
    let mut authenticator = Authenticator::new(verifier, Trust::default());
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
    assert_eq!(authenticator.remembered.lock().unwrap().0.len(), 1);
    // A remembered token past its expiry is verified again, and refused.
    let now = jsonwebtoken::get_current_timestamp();
    let expired = issuer.mint_claims(&claims(now - 7200, now - 3600)).unwrap();
    let mut late = Request::new(());
    late.metadata_mut().insert(
        "authorization",
        format!("Bearer {expired}").parse().unwrap(),
    );
    assert_eq!(
        authenticator.call(late).unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert!(authenticator.call(request()).is_ok());
}

#[test]
fn refused_tokens_are_never_echoed() {
    let (_, verifier, _keys) = pair();
    let (foreign, _, _other_keys) = pair();
    let authenticator = Authenticator::new(verifier, Trust::default());
    let stolen = foreign.mint(&spec(&[Scope::Admin], None)).unwrap();
    let tampered = format!("{stolen}x");
    for token in [stolen.as_str(), tampered.as_str(), "bm90.YQ.c2lnbmF0dXJl"] {
        let refused = authenticator
            .authenticate(&headers(token), None)
            .unwrap_err();
        let signature = token.rsplit('.').next().unwrap();
        for shown in [
            format!("{refused}"),
            format!("{refused:?}"),
            refused.into_status().message().to_owned(),
        ] {
            assert!(!shown.contains(signature), "{shown}");
        }
    }
}
