//! Platform behaviour through the governance API: tokens, idempotent retries, the
//! audit chain and the change feed.

use std::collections::HashSet;
use std::time::Duration;

use aimaq_auth::{Claims, Scope, TokenIssuer};
use aimaq_proto::governance::v1::{TerritoryKind, VerifyAuditLogRequest, WatchChangesRequest};
use aimaq_testing::{TestDatabase, TestTokens, on_both_backends, with_token};
use sea_orm::ConnectionTrait;
use tonic::{Code, Request};

use super::{create, input, start};

fn village(n: u32) -> String {
    format!("6136331{n:02}")
}

async fn tokens_are_checked(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let request = || {
        create(
            "token-check",
            input("613633200", TerritoryKind::Village, "с.Жаңа"),
        )
    };
    let astana_writer = harness.writer(Some("71"));
    let local_writer = harness.writer(Some("6136"));
    let client = &mut harness.client;

    let missing = client
        .upsert_territory(Request::new(request()))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    assert!(missing.message().contains("missing bearer token"));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = harness
        .tokens
        .issuer
        .mint_claims(&Claims {
            iss: "aimaq".into(),
            aud: "aimaq".into(),
            sub: "late".into(),
            agency: "a".into(),
            scopes: vec!["admin".into()],
            kato_prefix: None,
            iat: now - 7200,
            exp: now - 3600,
            nbf: None,
            cnf: None,
        })
        .unwrap();
    let status = client
        .upsert_territory(with_token(request(), &expired))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("expired"), "{status:?}");

    let stranger = TestTokens::new().admin();
    let status = client
        .upsert_territory(with_token(request(), &stranger))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("not one this server trusts"),
        "{status:?}"
    );

    let elsewhere = TokenIssuer::new(&harness.tokens.keys.private_pem, "aimaq", "another-system")
        .unwrap()
        .mint(&aimaq_auth::TokenSpec {
            subject: "x".into(),
            agency: "a".into(),
            scopes: vec![Scope::Admin],
            kato_prefix: None,
            ttl: Duration::from_secs(60),
            bound_to: None,
        })
        .unwrap();
    let status = client
        .upsert_territory(with_token(request(), &elsewhere))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("audience"), "{status:?}");

    let reader = harness
        .tokens
        .token("reader", &[Scope::GovernanceRead], None);
    let status = client
        .upsert_territory(with_token(request(), &reader))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("governance.write"), "{status:?}");

    let status = client
        .upsert_territory(with_token(request(), &astana_writer))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("KATO prefix 71"), "{status:?}");

    let created = client
        .upsert_territory(with_token(request(), &local_writer))
        .await
        .unwrap()
        .into_inner();
    assert!(created.created);

    // Audit needs its own scope.
    let status = client
        .verify_audit_log(with_token(VerifyAuditLogRequest {}, &local_writer))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

async fn records_checked(harness: &mut super::Harness) -> u64 {
    harness.verify_audit_log().await.records_checked
}

async fn retries_return_the_first_answer(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let request = create(
        "retry-1",
        input(&village(1), TerritoryKind::Village, "с.Бірінші"),
    );
    let first = harness.upsert(request.clone()).await;
    let second = harness.upsert(request.clone()).await;
    assert_eq!(first, second, "a retry returns the identical answer");
    assert_eq!(
        records_checked(&mut harness).await,
        5,
        "the retry wrote nothing"
    );

    let mut different = request.clone();
    different.territory.as_mut().unwrap().population = 7;
    let token = harness.admin();
    let status = harness
        .client
        .upsert_territory(with_token(different, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains("retry-1"), "{status:?}");

    // Another system reusing the id gets no replay of the first caller's answer.
    let other = harness.writer(None);
    let status = harness
        .client
        .upsert_territory(with_token(request.clone(), &other))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    // The same new request sent eight times at once is applied once.
    let request = create(
        "retry-2",
        input(&village(2), TerritoryKind::Village, "с.Екінші"),
    );
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let mut client = harness.client.clone();
            let request = with_token(request.clone(), &token);
            tokio::spawn(async move {
                client
                    .upsert_territory(request)
                    .await
                    .map(|r| r.into_inner())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap().unwrap());
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(answers[0].territory.as_ref().unwrap().version, 1);
    assert_eq!(records_checked(&mut harness).await, 6);

    let status = harness
        .client
        .upsert_territory(with_token(
            create("", input(&village(3), TerritoryKind::Village, "с.Ү")),
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("request_id"));
}

async fn audit_chain_reports_the_first_broken_link(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    for n in 1..=60 {
        harness
            .upsert(create(
                &format!("audit-{n}"),
                input(&village(n), TerritoryKind::Village, "с.Ауыл"),
            ))
            .await;
    }
    let verification = harness.verify_audit_log().await;
    assert!(verification.intact, "{verification:?}");
    assert_eq!(verification.records_checked, 64);
    assert_eq!(verification.head_hash.len(), 64);

    let db = sea_orm::Database::connect(&harness.server.database.url)
        .await
        .unwrap();
    db.execute_unprepared("UPDATE audit_log SET actor = 'mallory' WHERE sequence = 30")
        .await
        .unwrap();
    db.close().await.unwrap();
    let verification = harness.verify_audit_log().await;
    assert!(!verification.intact);
    assert_eq!(verification.first_broken_sequence, 30, "{verification:?}");
}

async fn change_feed_is_exactly_once_across_the_switch(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let token = harness.admin();

    // Writers run while the watcher replays and then tails.
    let writers: Vec<_> = (0..4u32)
        .map(|writer| {
            let mut client = harness.client.clone();
            let token = token.clone();
            tokio::spawn(async move {
                for n in 0..20u32 {
                    let number = writer * 20 + n + 1;
                    let request = create(
                        &format!("feed-{number}"),
                        input(&village(number), TerritoryKind::Village, "с.Ауыл"),
                    );
                    client
                        .upsert_territory(with_token(request, &token))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut stream = harness
        .client
        .watch_changes(with_token(WatchChangesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let mut sequences = Vec::new();
    let mut names = HashSet::new();
    while sequences.len() < 84 {
        let event = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("the feed stalled")
            .unwrap()
            .expect("the feed ended early")
            .event
            .unwrap();
        sequences.push(event.sequence);
        assert!(
            names.insert(event.resource_name.clone()),
            "duplicate {}",
            event.resource_name
        );
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(sequences, (1..=84).collect::<Vec<u64>>());
    // Nothing more arrives: every write was delivered exactly once.
    let extra = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(extra.is_err(), "unexpected event {extra:?}");

    // A consumer resumes after the last sequence it processed.
    let mut resumed = harness
        .client
        .watch_changes(with_token(
            WatchChangesRequest {
                after_sequence: 80,
                resource_types: vec!["territory".into()],
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let next = resumed.message().await.unwrap().unwrap().event.unwrap();
    assert_eq!(next.sequence, 81);
    assert_eq!(next.resource_type, "territory");
    assert!(next.method.ends_with("/UpsertTerritory"));
}

/// A caller holds at most 16 change feeds open on a server (the default cap);
/// the next is RESOURCE_EXHAUSTED, another caller is not affected, and a
/// closed feed frees its place.
async fn change_feeds_are_capped_per_caller(database: TestDatabase) {
    let harness = start(database).await;
    let token = harness.tokens.admin();
    let watch = |token: String| {
        let mut client = harness.client.clone();
        async move {
            client
                .watch_changes(with_token(WatchChangesRequest::default(), &token))
                .await
        }
    };
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(watch(token.clone()).await.unwrap().into_inner());
    }
    let refused = watch(token.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("limit of 16 open streams"),
        "{refused:?}"
    );
    let other = harness
        .tokens
        .token("other-system", &[Scope::GovernanceRead], None);
    let _other = watch(other).await.unwrap();

    drop(open.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match watch(token.clone()).await {
            Ok(_) => break,
            Err(status) if status.code() == Code::ResourceExhausted => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the closed feed kept its place"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    }
}

on_both_backends!(
    tokens_are_checked,
    change_feeds_are_capped_per_caller,
    retries_return_the_first_answer,
    audit_chain_reports_the_first_broken_link,
    change_feed_is_exactly_once_across_the_switch,
);
