//! The four servers with mutual TLS under a CA made by this test: agencies
//! reach the gateway with their certificates and tokens bound to them, the
//! gateway and budget pass each caller's certificate on, and the audit log
//! names it. Plaintext, a certificate from an unknown CA, an expired
//! certificate and a token bound to another certificate are refused; a server
//! certificate rotated on disk is served to the next connection while open ones
//! go on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aimaq_auth::{Scope, TokenSpec};
use aimaq_config::TlsConfig;
use aimaq_gateway::{BackendsConfig, GatewayConfig, RateConfig, Targets};
use aimaq_proto::budget::v1::RecordStandardStatusRequest;
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    GetTerritoryRequest, TerritoryInput, TerritoryKind, UpsertTerritoryRequest,
};
use aimaq_testing::{TestDatabase, TestServer, TestTokens, with_token};
use aimaq_tls::dev::{DevPki, Issued};
use aimaq_tls::{ClientTls, Outbound, Target};
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

const ANY_PORT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
const HOSTS: [&str; 2] = ["127.0.0.1", "localhost"];

/// A server's settings under the test's CA: mutual TLS, calls through TLS.
fn server_tls(pki: &DevPki, issued: &Issued) -> TlsConfig {
    TlsConfig {
        tls_cert: Some(issued.cert.clone()),
        tls_key: Some(issued.key.clone()),
        tls_client_ca: Some(pki.ca()),
        tls_ca: Some(pki.ca()),
        plaintext: false,
    }
}

/// How a caller with `identity` reaches servers signed by `ca`.
fn outbound(ca: &Path, identity: Option<&Issued>) -> Outbound {
    let identity = identity.map(|i| (i.cert.clone(), i.key.clone()));
    Outbound {
        tls: Some(Arc::new(
            ClientTls::load(ca.to_path_buf(), identity).unwrap(),
        )),
        allow_plaintext: false,
    }
}

struct System {
    pki: DevPki,
    tokens: TestTokens,
    governance: TestServer,
    _budget: TestServer,
    _grants: TestServer,
    gateway: TestServer,
    gateway_cert: Issued,
}

async fn start(dir: &Path) -> System {
    let pki = DevPki::named(&dir.join("ca"), "Aimaq e2e CA").unwrap();
    let tokens = TestTokens::new();
    let issue = |name: &str| pki.issue(name, &HOSTS).unwrap();
    let forwarders = vec![
        "gateway".to_owned(),
        "budget".to_owned(),
        "grants".to_owned(),
    ];
    // Servers reach each other, and the test reaches them, as the administrator.
    let admin = outbound(&pki.ca(), Some(&issue("admin")));
    let configured = |name: &str| {
        let tls = server_tls(&pki, &issue(name));
        let forwarders = forwarders.clone();
        move |mut config: aimaq_config::ServerConfig| {
            config.tls = tls;
            config.auth.trusted_forwarders = forwarders;
            config
        }
    };
    let governance_config = configured("governance");
    let governance = TestServer::start_for(
        admin.clone(),
        ANY_PORT,
        TestDatabase::sqlite().await,
        &tokens,
        move |config, listener, shutdown| {
            aimaq_governance::run(governance_config(config), listener, shutdown)
        },
    )
    .await;
    aimaq_testing::territories::seed(governance.channel().await, &tokens, &[]).await;
    let tokens_ref = &tokens;
    let backend = |name: &'static str| {
        let (url, configure) = (governance.url(), configured(name));
        let admin = admin.clone();
        let tokens = tokens_ref;
        async move {
            TestServer::start_for(
                admin,
                ANY_PORT,
                TestDatabase::sqlite().await,
                tokens,
                move |config, listener, shutdown| {
                    let config = configure(config);
                    async move {
                        match name {
                            "budget" => aimaq_budget::run(config, url, listener, shutdown).await,
                            _ => aimaq_grants::run(config, url, listener, shutdown).await,
                        }
                    }
                },
            )
            .await
        }
    };
    let budget = backend("budget").await;
    let grants = backend("grants").await;
    let gateway_cert = issue("gateway");
    let gateway_tls = server_tls(&pki, &gateway_cert);
    let backends = BackendsConfig {
        governance_url: Targets::Fixed(vec![governance.url()]),
        budget_url: Targets::Fixed(vec![budget.url()]),
        grants_url: Targets::Fixed(vec![grants.url()]),
        backend_connections: 1,
        backend_timeout: Duration::from_secs(5),
        view_max_age: Duration::ZERO,
        view_cache_entries: aimaq_gateway::VIEW_CACHE_ENTRIES,
        view_cache_bytes: aimaq_gateway::VIEW_CACHE_BYTES,
    };
    let gateway = TestServer::start_for(
        admin,
        ANY_PORT,
        TestDatabase::sqlite().await,
        &tokens,
        move |mut config, listener, shutdown| {
            config.tls = gateway_tls;
            let rate = RateConfig::local("10000/10000".parse().unwrap(), Vec::new());
            aimaq_gateway::run(
                GatewayConfig::like(config, backends, rate),
                listener,
                shutdown,
            )
        },
    )
    .await;
    System {
        pki,
        tokens,
        governance,
        _budget: budget,
        _grants: grants,
        gateway,
        gateway_cert,
    }
}

impl System {
    /// A token of the Turkestan akimat bound to `certificate`.
    fn bound_token(&self, certificate: &Issued) -> String {
        self.tokens
            .issuer
            .mint(&TokenSpec {
                subject: "akimat-61".into(),
                agency: "Turkestan region akimat".into(),
                scopes: vec![Scope::GovernanceWrite, Scope::BudgetWrite],
                kato_prefix: Some("61".into()),
                ttl: Duration::from_secs(600),
                bound_to: Some(certificate.thumbprint().unwrap()),
            })
            .unwrap()
    }

    /// A channel to the gateway as a caller with `identity`, signed by `ca`.
    fn gateway_as(&self, ca: &Path, identity: Option<&Issued>) -> tonic::transport::Channel {
        Target::parse(&self.gateway.url(), &outbound(ca, identity))
            .unwrap()
            .channel()
    }
}

fn territory(request_id: &str, kato: &str) -> UpsertTerritoryRequest {
    UpsertTerritoryRequest {
        request_id: request_id.into(),
        territory: Some(TerritoryInput {
            kato: kato.into(),
            kind: TerritoryKind::Village as i32,
            name: Some(LocalizedText {
                ru: "Жаңа ауыл".into(),
                ..LocalizedText::default()
            }),
            rural: true,
            ..TerritoryInput::default()
        }),
        expected_version: 0,
    }
}

/// Reads the village, within five seconds.
async fn read_village(
    channel: tonic::transport::Channel,
    token: &str,
) -> Result<tonic::Response<aimaq_proto::governance::v1::GetTerritoryResponse>, tonic::Status> {
    let mut request = with_token(
        GetTerritoryRequest {
            kato: "613633100".into(),
            include_ancestors: false,
        },
        token,
    );
    request.set_timeout(Duration::from_secs(5));
    GovernanceServiceClient::new(channel)
        .get_territory(request)
        .await
}

/// The subject the governance audit log recorded for a request.
async fn audited_certificate(database_url: &str, request_id: &str) -> String {
    let db = sea_orm::Database::connect(database_url).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT certificate FROM audit_log WHERE request_id = '{request_id}'"),
            ))
            .await
            .unwrap();
        if let Some(row) = row {
            return row.try_get::<String>("", "certificate").unwrap();
        }
        // Records are sequenced right after their transaction commits.
        assert!(tokio::time::Instant::now() < deadline, "no audit record");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agencies_are_bound_to_their_certificates_on_every_hop() {
    let dir = tempfile::tempdir().unwrap();
    let system = start(dir.path()).await;
    let akimat = system.pki.issue("akimat-61", &[]).unwrap();
    let token = system.bound_token(&akimat);
    let channel = system.gateway_as(&system.pki.ca(), Some(&akimat));

    // Through the gateway to governance: the audit names the certificate.
    GovernanceServiceClient::new(channel.clone())
        .upsert_territory(with_token(territory("bound-1", "613633300"), &token))
        .await
        .unwrap();
    let audited = audited_certificate(&system.governance.database.url, "bound-1").await;
    assert!(audited.contains("CN=akimat-61"), "{audited:?}");

    // Through the gateway to budget, which asks governance on the caller's
    // behalf with the same bound token: the certificate travels along.
    BudgetServiceClient::new(channel.clone())
        .record_standard_status(with_token(
            RecordStandardStatusRequest {
                request_id: "bound-2".into(),
                settlement_kato: "613633100".into(),
                standard_code: "SCHOOL".into(),
                applicable: true,
                met: true,
            },
            &token,
        ))
        .await
        .unwrap();

    // The same token from another agency's certificate of the same CA.
    let neighbour = system.pki.issue("akimat-71", &[]).unwrap();
    let stolen =
        GovernanceServiceClient::new(system.gateway_as(&system.pki.ca(), Some(&neighbour)))
            .upsert_territory(with_token(territory("stolen", "613633400"), &token))
            .await
            .unwrap_err();
    assert_eq!(stolen.code(), Code::Unauthenticated, "{stolen:?}");
    assert!(
        stolen.message().contains("another client certificate"),
        "{stolen:?}"
    );

    // Directly at governance with the neighbour's certificate: refused there too.
    let direct = Target::parse(
        &system.governance.url(),
        &outbound(&system.pki.ca(), Some(&neighbour)),
    )
    .unwrap()
    .channel();
    let refused = read_village(direct, &token).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_good_certificate_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let system = start(dir.path()).await;
    let admin_token = system.tokens.admin();
    let read = |channel| read_village(channel, &admin_token);
    // The right certificate works.
    let admin = system.pki.issue("admin", &HOSTS).unwrap();
    assert!(
        read(system.gateway_as(&system.pki.ca(), Some(&admin)))
            .await
            .is_ok()
    );

    // Plaintext HTTP/2 to a TLS port.
    let plain = Outbound {
        tls: None,
        allow_plaintext: true,
    };
    let url = system.gateway.url().replacen("https://", "http://", 1);
    let refused = read(Target::parse(&url, &plain).unwrap().channel()).await;
    assert!(refused.is_err(), "plaintext was served");

    // No client certificate at all.
    let refused = read(system.gateway_as(&system.pki.ca(), None)).await;
    assert!(
        refused.is_err(),
        "a client without a certificate was served"
    );

    // A certificate from a CA the servers do not trust.
    let stranger = DevPki::named(&dir.path().join("stranger"), "Stranger CA").unwrap();
    let foreign = stranger.issue("akimat-61", &[]).unwrap();
    let refused = read(system.gateway_as(&system.pki.ca(), Some(&foreign))).await;
    assert!(refused.is_err(), "a foreign certificate was accepted");

    // An expired certificate of the right CA.
    let now = time::OffsetDateTime::now_utc();
    let expired = system
        .pki
        .issue_valid(
            "expired",
            &[],
            now - time::Duration::days(30),
            now - time::Duration::days(1),
        )
        .unwrap();
    let refused = read(system.gateway_as(&system.pki.ca(), Some(&expired))).await;
    assert!(refused.is_err(), "an expired certificate was accepted");

    // The client verifies the server too: a server from another CA is refused.
    let refused = read(system.gateway_as(&stranger.ca(), Some(&admin))).await;
    assert!(refused.is_err(), "a server of an unknown CA was trusted");
}

/// The thumbprint of the certificate a server presents on a new connection.
async fn served_thumbprint(address: SocketAddr, ca: &Path, identity: &Issued) -> String {
    let target =
        Target::parse(&format!("https://{address}"), &outbound(ca, Some(identity))).unwrap();
    match target.connect().await.unwrap() {
        tokio_util::either::Either::Right(tls) => {
            let chain = tls.get_ref().1.peer_certificates().unwrap();
            aimaq_auth::thumbprint(&chain[0])
        }
        tokio_util::either::Either::Left(_) => panic!("not TLS"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_rotated_on_disk_is_served_to_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let system = start(dir.path()).await;
    let admin = system.pki.issue("admin", &HOSTS).unwrap();
    let before = served_thumbprint(system.gateway.address, &system.pki.ca(), &admin).await;
    assert_eq!(before, system.gateway_cert.thumbprint().unwrap());
    // A connection open across the rotation.
    let open = system.gateway_as(&system.pki.ca(), Some(&admin));
    let token = system.tokens.admin();
    let read = |channel| read_village(channel, &token);
    read(open.clone()).await.unwrap();

    let now = time::OffsetDateTime::now_utc();
    let rotated = system
        .pki
        .issue_valid(
            "gateway",
            &HOSTS,
            now - time::Duration::hours(1),
            now + time::Duration::days(90),
        )
        .unwrap();
    let after = rotated.thumbprint().unwrap();
    assert_ne!(before, after);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while served_thumbprint(system.gateway.address, &system.pki.ca(), &admin).await != after {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    read(open)
        .await
        .expect("the connection open before the rotation goes on");
}
