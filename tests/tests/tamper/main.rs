//! Careful attacks on the audit log by whoever can write a service's
//! database, on SQLite and PostgreSQL, and how each is found: by the
//! verifier holding a checkpoint saved before the attack, or by the
//! service's own `VerifyAuditLog`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attacker;
mod rows;
mod witness;

use std::time::Duration;

use aimaq_proto::common::v1::{AuditVerification, LocalizedText};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    TerritoryInput, TerritoryKind, UpsertTerritoryRequest, VerifyAuditLogRequest,
};
use aimaq_testing::territories::seed;
use aimaq_testing::{
    TestDatabase, TestServer, TestTokens, on_both_backends, test_log_verifier_key, with_token,
};
use aimaq_tlog::{KeyRole, NoteSigner, NoteVerifier};
use aimaq_verify::{Finding, GrpcLog, Options, Service, SourceError};
use attacker::Attacker;
use rows::edited_deleted_and_inserted_rows_are_found;
use witness::{
    a_refused_cosignature_is_offered_again, a_witness_cosigns_the_log_and_alerts_on_a_rollback,
};

/// Governance with the seeded territories: 13 audit records.
async fn governance(database: TestDatabase, tokens: &TestTokens) -> TestServer {
    governance_accepting(database, tokens, Vec::new()).await
}

/// Governance whose log keeps and serves back the cosignatures of the
/// witnesses whose public keys are given.
async fn governance_accepting(
    database: TestDatabase,
    tokens: &TestTokens,
    cosigners: Vec<String>,
) -> TestServer {
    let server = TestServer::start(database, tokens, move |mut config, listener, shutdown| {
        config.log.log_cosigner = cosigners;
        aimaq_governance::run(config, listener, shutdown)
    })
    .await;
    seed(server.channel().await, tokens, &[]).await;
    server
}

/// A second replica of `server`'s service on its database: a process that
/// never signed before (a restart, as an operator would make one).
async fn replica(server: &TestServer, tokens: &TestTokens) -> TestServer {
    TestServer::start(
        server.database.another_handle(),
        tokens,
        aimaq_governance::run,
    )
    .await
}

async fn log(server: &TestServer, tokens: &TestTokens) -> GrpcLog {
    GrpcLog {
        channel: server.channel().await,
        service: Service::Governance,
        authorization: Some(format!("Bearer {}", tokens.admin()).parse().unwrap()),
        timeout: Duration::from_secs(5),
    }
}

fn options(saved: Option<&str>) -> Options {
    Options {
        log_key: NoteVerifier::parse(&test_log_verifier_key()).unwrap(),
        witnesses: Vec::new(),
        saved: saved.map(str::to_owned),
        witnessed: None,
        min_cosigners: 0,
        records: Some(1..=10_000),
        events: true,
    }
}

/// What the verifier finds, given a checkpoint saved before.
async fn finding(server: &TestServer, tokens: &TestTokens, saved: &str) -> Finding {
    match aimaq_verify::verify(&log(server, tokens).await, &options(Some(saved))).await {
        Err(SourceError::Finding(finding)) => finding,
        other => panic!("expected a finding, got {other:?}"),
    }
}

/// The checkpoint a watcher saves now, after verifying the whole log.
async fn saved_checkpoint(server: &TestServer, tokens: &TestTokens) -> String {
    let report = aimaq_verify::verify(&log(server, tokens).await, &options(None))
        .await
        .unwrap();
    report.checkpoint_note
}

async fn own_check(server: &TestServer, tokens: &TestTokens) -> AuditVerification {
    GovernanceServiceClient::new(server.channel().await)
        .verify_audit_log(with_token(VerifyAuditLogRequest {}, &tokens.admin()))
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap()
}

/// One more village of the Sairam district: one more record.
async fn write(server: &TestServer, tokens: &TestTokens, n: u32) {
    let kato = format!("6136333{n:02}");
    GovernanceServiceClient::new(server.channel().await)
        .upsert_territory(with_token(
            UpsertTerritoryRequest {
                request_id: format!("village-{kato}"),
                territory: Some(TerritoryInput {
                    kato,
                    kind: TerritoryKind::Village as i32,
                    name: Some(LocalizedText {
                        ru: format!("Village {n}"),
                        ..LocalizedText::default()
                    }),
                    rural: true,
                    ..TerritoryInput::default()
                }),
                expected_version: 0,
            },
            &tokens.admin(),
        ))
        .await
        .unwrap();
}

on_both_backends!(
    a_rewritten_record_is_found_however_carefully_rewritten,
    a_truncated_and_regrown_log_is_found,
    forged_pending_records_are_refused_and_reported,
    edited_change_events_are_found,
    a_checkpoint_signed_by_another_key_is_refused,
    a_witness_cosigns_the_log_and_alerts_on_a_rollback,
    a_refused_cosignature_is_offered_again,
    edited_deleted_and_inserted_rows_are_found,
);

/// Attack 1: a record rewritten, its chain and head recomputed; then the
/// tree rebuilt too and signed anew by a restarted replica.
async fn a_rewritten_record_is_found_however_carefully_rewritten(database: TestDatabase) {
    let tokens = TestTokens::new();
    let server = governance(database, &tokens).await;
    let saved = saved_checkpoint(&server, &tokens).await;
    let attacker = Attacker::on(&server.database.url).await;

    attacker.rewrite_record(3, "actor", "mallory").await;
    let own = own_check(&server, &tokens).await;
    assert!(!own.intact);
    assert_eq!(own.first_broken_sequence, 3, "{}", own.reason);
    assert_eq!(
        finding(&server, &tokens, &saved).await,
        Finding::NotIncluded {
            sequence: 3,
            reason: "the proof does not lead to the expected root".into()
        }
    );

    attacker.rebuild_tree().await;
    // The running service will not sign the rewritten tree, and every proof
    // from it leads elsewhere than the signed root.
    write(&server, &tokens, 1).await;
    assert!(matches!(
        finding(&server, &tokens, &saved).await,
        Finding::NotIncluded { sequence: 1, .. }
    ));
    // A fresh process signs what it finds; the saved checkpoint exposes it.
    let restarted = replica(&server, &tokens).await;
    write(&restarted, &tokens, 2).await;
    let found = finding(&restarted, &tokens, &saved).await;
    assert!(
        matches!(found, Finding::Inconsistent { from: 13, .. }),
        "{found:?}"
    );
}

/// Attack 2: the newest records deleted and the head moved back, with an
/// older genuine checkpoint put back; then the log grown again to the size
/// watchers saw, with other records.
async fn a_truncated_and_regrown_log_is_found(database: TestDatabase) {
    let tokens = TestTokens::new();
    let server = governance(database, &tokens).await;
    let attacker = Attacker::on(&server.database.url).await;
    let older = log(&server, &tokens).await.checkpoint().await.unwrap();
    write(&server, &tokens, 1).await;
    write(&server, &tokens, 2).await;
    let saved = saved_checkpoint(&server, &tokens).await;

    attacker.truncate(13).await;
    attacker.set_checkpoint(&older).await;
    assert_eq!(
        finding(&server, &tokens, &saved).await,
        Finding::RolledBack {
            saved: 15,
            current: 13
        }
    );
    let restarted = replica(&server, &tokens).await;
    write(&restarted, &tokens, 3).await;
    write(&restarted, &tokens, 4).await;
    // Two different trees of 15 records: one signed before, one now.
    assert_eq!(
        finding(&restarted, &tokens, &saved).await,
        Finding::Forked { size: 15 }
    );
}

/// Attack 3: rows written into the sequencer's queue past the service.
async fn forged_pending_records_are_refused_and_reported(database: TestDatabase) {
    let tokens = TestTokens::new();
    let server = governance(database, &tokens).await;
    let saved = saved_checkpoint(&server, &tokens).await;
    let attacker = Attacker::on(&server.database.url).await;
    attacker.forge_pending("forged-1", "").await;
    attacker.forge_pending("forged-2", &"00".repeat(32)).await;
    write(&server, &tokens, 1).await;

    let own = own_check(&server, &tokens).await;
    assert!(!own.intact);
    assert_eq!(own.refused_records, 2, "{}", own.reason);
    assert!(own.reason.contains("forged-1"), "{}", own.reason);
    let (records, _) = log(&server, &tokens).await.records(0, 1000).await.unwrap();
    assert_eq!(records.len(), 14, "the genuine write is logged");
    assert!(records.iter().all(|r| !r.request_id.starts_with("forged")));
    // What is logged is still a log the saved checkpoint extends.
    let report = aimaq_verify::verify(&log(&server, &tokens).await, &options(Some(&saved)))
        .await
        .unwrap();
    assert_eq!((report.tree_size, report.records_included), (14, 14));
}

/// A change event renamed in the feed, which the chain never covered.
async fn edited_change_events_are_found(database: TestDatabase) {
    let tokens = TestTokens::new();
    let server = governance(database, &tokens).await;
    let saved = saved_checkpoint(&server, &tokens).await;
    let attacker = Attacker::on(&server.database.url).await;
    let event = attacker.rows().await[4].first_change_sequence;
    attacker.edit_event(event, "territories/619999999").await;

    assert_eq!(
        finding(&server, &tokens, &saved).await,
        Finding::EventsDiffer { sequence: 5 }
    );
    let own = own_check(&server, &tokens).await;
    assert!(!own.intact);
    assert_eq!(own.first_broken_sequence, 5, "{}", own.reason);
    assert!(own.reason.contains("differ"), "{}", own.reason);
}

/// A checkpoint signed by a key the attacker made, under the log's name.
async fn a_checkpoint_signed_by_another_key_is_refused(database: TestDatabase) {
    let tokens = TestTokens::new();
    let server = governance(database, &tokens).await;
    // The tree grows apart from the writes: asked for, it grows at once.
    log(&server, &tokens).await.checkpoint().await.unwrap();
    let attacker = Attacker::on(&server.database.url).await;
    let genuine = attacker.checkpoint().await;
    let text = aimaq_tlog::Note::parse(&genuine).unwrap().text;
    let impostor = NoteSigner::generate(aimaq_testing::TEST_LOG_ORIGIN, KeyRole::Log).unwrap();
    let forged = impostor.sign(&text).unwrap();
    attacker.set_checkpoint(&forged).await;

    let key = NoteVerifier::parse(&test_log_verifier_key()).unwrap();
    assert!(matches!(
        aimaq_verify::open_checkpoint(&forged, &key, &[]),
        Err(Finding::BadSignature { .. })
    ));
    // The service itself does not serve it: it signs its tree again.
    let served = log(&server, &tokens).await.checkpoint().await.unwrap();
    assert_ne!(served, forged);
    aimaq_verify::open_checkpoint(&served, &key, &[]).unwrap();
    assert!(own_check(&server, &tokens).await.intact);
}
