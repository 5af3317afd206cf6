//! MCI values and programme terms as dated data.

use aimaq_auth::Scope;
use aimaq_proto::common::v1::Date;
use aimaq_proto::grants::v1::*;
use aimaq_testing::hostile::violated_fields;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;
use tonic_types::StatusExt;

use super::start;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn rate(id: &str, from: Option<Date>, tenge: i64, version: i64) -> SetMciRateRequest {
    SetMciRateRequest {
        request_id: id.into(),
        rate: Some(MciRate {
            effective_from: from,
            value_tiyn: tenge * 100,
            source: "Law on the republican budget".into(),
            version: 0,
        }),
        expected_version: version,
    }
}

fn policy(id: &str, from: Option<Date>, allowance: i32, cap: i32) -> SetPolicyRequest {
    SetPolicyRequest {
        request_id: id.into(),
        policy: Some(Policy {
            effective_from: from,
            allowance_mci: allowance,
            loan_cap_mci: cap,
            loan_rate_bp: 1,
            max_term_months: 180,
            obligation_months: 36,
            eligible_fields: vec![Field::Healthcare as i32, Field::Education as i32],
            source: "Government decree".into(),
            version: 0,
        }),
        expected_version: 0,
    }
}

async fn rates_and_terms_are_read_as_of_a_date(database: TestDatabase) {
    let mut harness = start(database).await;
    let admin = harness.tokens.admin();
    let client = &mut harness.client;
    for (id, from, tenge) in [
        ("mci-2022-jan", date(2022, 1, 1), 3063),
        ("mci-2022-apr", date(2022, 4, 1), 3180),
        ("mci-2023", date(2023, 1, 1), 3450),
    ] {
        client
            .set_mci_rate(with_token(rate(id, from, tenge, 0), &admin))
            .await
            .unwrap();
    }
    let on = |year, month, day| GetMciRateRequest {
        date: date(year, month, day),
    };
    let value = |answer: GetMciRateResponse| answer.rate.unwrap().value_tiyn;
    let read = |request| {
        let mut client = client.clone();
        let admin = admin.clone();
        async move { client.get_mci_rate(with_token(request, &admin)).await }
    };
    assert_eq!(
        value(read(on(2022, 3, 31)).await.unwrap().into_inner()),
        306_300
    );
    assert_eq!(
        value(read(on(2022, 4, 1)).await.unwrap().into_inner()),
        318_000
    );
    assert_eq!(
        value(read(on(2030, 1, 1)).await.unwrap().into_inner()),
        345_000
    );
    let status = read(on(2021, 12, 31)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // Versions: a second value for a date needs the version it replaces.
    let status = client
        .set_mci_rate(with_token(rate("again", date(2023, 1, 1), 3451, 0), &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    let status = client
        .set_mci_rate(with_token(rate("stale", date(2023, 1, 1), 3451, 7), &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    let fixed = client
        .set_mci_rate(with_token(rate("fix", date(2023, 1, 1), 3450, 1), &admin))
        .await
        .unwrap()
        .into_inner()
        .rate
        .unwrap();
    assert_eq!(fixed.version, 2);
    let listed = client
        .list_mci_rates(with_token(ListMciRatesRequest {}, &admin))
        .await
        .unwrap()
        .into_inner()
        .rates;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].effective_from, date(2022, 1, 1));

    // Terms: 70 MCI at the start, then 100; the cap from 1,500 to 2,000 in 2024.
    for request in [
        policy("policy-2009", date(2009, 1, 1), 70, 1500),
        policy("policy-2010", date(2010, 1, 1), 100, 1500),
        policy("policy-2024", date(2024, 1, 1), 100, 2000),
    ] {
        client
            .set_policy(with_token(request, &admin))
            .await
            .unwrap();
    }
    let terms = client
        .get_policy(with_token(
            GetPolicyRequest {
                date: date(2022, 5, 1),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(terms.policy.as_ref().unwrap().allowance_mci, 100);
    assert_eq!(terms.allowance_tiyn, 100 * 318_000);
    assert_eq!(terms.loan_cap_tiyn, 1500 * 318_000);
    assert_eq!(terms.mci.unwrap().value_tiyn, 318_000);
    // Terms in force, but no MCI yet that early: the amounts cannot be computed.
    let status = client
        .get_policy(with_token(
            GetPolicyRequest {
                date: date(2015, 1, 1),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // Each version of the terms with the MCI of its day: 70 MCI at the start.
    client
        .set_mci_rate(with_token(
            rate("mci-2009", date(2009, 1, 1), 1296, 0),
            &admin,
        ))
        .await
        .unwrap();
    for (on, allowance, cap) in [
        (date(2009, 6, 1), 70 * 129_600, 1500 * 129_600),
        (date(2024, 6, 1), 100 * 345_000, 2000 * 345_000),
    ] {
        let terms = client
            .get_policy(with_token(GetPolicyRequest { date: on }, &admin))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (terms.allowance_tiyn, terms.loan_cap_tiyn),
            (allowance, cap)
        );
    }
    // Before the programme: no terms.
    let status = client
        .get_policy(with_token(
            GetPolicyRequest {
                date: date(2008, 1, 1),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

async fn bad_terms_and_foreign_writers_are_refused(database: TestDatabase) {
    let mut harness = start(database).await;
    let admin = harness.tokens.admin();
    let mut bad = policy("bad", None, 0, 1500);
    if let Some(policy) = bad.policy.as_mut() {
        policy.loan_rate_bp = -1;
        policy.eligible_fields = vec![Field::Sport as i32, Field::Sport as i32, 99];
        policy.source = String::new();
    }
    let status = harness
        .client
        .set_policy(with_token(bad, &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "policy.effective_from",
            "policy.eligible_fields[1]",
            "policy.eligible_fields[2]",
            "policy.allowance_mci",
            "policy.loan_rate_bp",
            "policy.source",
        ]
    );
    let regional = harness
        .tokens
        .token("akimat-61", &[Scope::GrantsWrite], Some("61"));
    let status = harness
        .client
        .set_mci_rate(with_token(
            rate("regional", date(2024, 1, 1), 3692, 0),
            &regional,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let reader = harness.tokens.token("reader", &[Scope::GrantsRead], None);
    let status = harness
        .client
        .set_policy(with_token(
            policy("reader", date(2024, 1, 1), 100, 2000),
            &reader,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

on_both_backends!(
    rates_and_terms_are_read_as_of_a_date,
    bad_terms_and_foreign_writers_are_refused,
);

/// Terms no programme has had (observed to answer INTERNAL on later reads) are
/// refused naming the field, and nothing is stored.
async fn terms_out_of_bounds_are_refused(database: TestDatabase) {
    let mut harness = start(database).await;
    let admin = harness.tokens.admin();
    let client = &mut harness.client;
    let mut huge = rate("mci-huge", date(2024, 1, 1), 0, 0);
    huge.rate.as_mut().unwrap().value_tiyn = i64::MAX;
    let mut dearer_than_money = rate("mci-dear", date(2024, 1, 1), 0, 0);
    dearer_than_money.rate.as_mut().unwrap().value_tiyn = 1_000_000_000_000;
    for (request, field) in [
        (
            rate("mci-minus-1", date(-1, 1, 1), 3692, 0),
            "rate.effective_from",
        ),
        (
            rate("mci-far", date(262_142, 1, 1), 3692, 0),
            "rate.effective_from",
        ),
        (huge, "rate.value_tiyn"),
        (dearer_than_money, "rate.value_tiyn"),
    ] {
        let refused = client
            .set_mci_rate(with_token(request, &admin))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field]);
    }
    for (request, field) in [
        (
            policy("p-1", date(2024, 1, 1), i32::MAX, 2000),
            "policy.allowance_mci",
        ),
        (
            policy("p-2", date(2024, 1, 1), 100, i32::MAX),
            "policy.loan_cap_mci",
        ),
        (
            policy("p-3", date(262_142, 1, 1), 100, 2000),
            "policy.effective_from",
        ),
    ] {
        let refused = client
            .set_policy(with_token(request, &admin))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field]);
    }
    let rates = client
        .list_mci_rates(with_token(ListMciRatesRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(rates.rates.is_empty(), "nothing was stored");
    let none = client
        .get_policy(with_token(
            GetPolicyRequest {
                date: date(2024, 6, 1),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::NotFound);
}

on_both_backends!(terms_out_of_bounds_are_refused);
