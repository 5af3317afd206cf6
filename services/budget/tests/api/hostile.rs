//! Arbitrary and malformed requests at every RPC: no INTERNAL, no panic.

use aimaq_testing::hostile::{assert_no_faults, violated_fields};
use aimaq_testing::{TestDatabase, on_both_backends};

async fn no_request_is_answered_with_a_fault(database: TestDatabase) {
    let harness = crate::start(database).await;
    let channel = harness.server.channel().await;
    let service = "aimaq.budget.v1.BudgetService";
    assert_no_faults(&channel, service, &harness.tokens.admin()).await;
}

on_both_backends!(no_request_is_answered_with_a_fault);

/// Amounts past the domain's ceiling, and a 2 MiB code whose error once
/// overflowed the status metadata (the gateway then retried it as UNAVAILABLE).
async fn amounts_and_codes_are_bounded(database: TestDatabase) {
    use aimaq_proto::budget::v1::*;
    use aimaq_testing::with_token;
    let mut harness = crate::start(database).await;
    harness.programme(1_000_000).await;
    let admin = harness.tokens.admin();
    for amount in [i64::MAX, i64::MIN, aimaq_types::bounds::MAX_AMOUNT_TIYN + 1] {
        let refused = harness
            .client
            .set_envelope(with_token(
                SetEnvelopeRequest {
                    request_id: format!("envelope-{amount}"),
                    program_code: crate::PROGRAM.into(),
                    fiscal_year: 2025,
                    amount_tiyn: amount,
                    expected_version: 0,
                },
                &admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["amount_tiyn"]);
        let refused = harness
            .client
            .allocate(with_token(
                AllocateRequest {
                    request_id: format!("allocate-{amount}"),
                    program_code: crate::PROGRAM.into(),
                    fiscal_year: 2025,
                    territory_kato: "610000000".into(),
                    amount_tiyn: amount,
                },
                &admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["amount_tiyn"]);
    }
    let refused = harness
        .client
        .get_program(with_token(
            GetProgramRequest {
                code: "X".repeat(2 << 20),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["code"]);
    assert!(refused.message().len() < 4096);
}

on_both_backends!(amounts_and_codes_are_bounded);
