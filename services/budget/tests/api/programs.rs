//! Programmes and their yearly envelopes.

use aimaq_auth::Scope;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;
use tonic_types::StatusExt;

use super::start;

fn program(code: &str, first: i32, last: i32) -> CreateProgramRequest {
    CreateProgramRequest {
        request_id: format!("create-{code}"),
        program: Some(Program {
            code: code.into(),
            title: Some(LocalizedText {
                ru: "Ауыл – Ел бесігі".into(),
                ..LocalizedText::default()
            }),
            kind: ProgramKind::RuralInfrastructure as i32,
            funding_source: FundingSource::NationalBudget as i32,
            first_year: first,
            last_year: last,
            ..Program::default()
        }),
    }
}

fn envelope(id: &str, year: i32, tenge: i64, version: i64) -> SetEnvelopeRequest {
    SetEnvelopeRequest {
        request_id: id.into(),
        program_code: "AUYL_EL_BESIGI".into(),
        fiscal_year: year,
        amount_tiyn: tenge * 100,
        expected_version: version,
    }
}

async fn programmes_and_envelopes(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.tokens.admin();
    let client = &mut harness.client;
    let created = client
        .create_program(with_token(program("AUYL_EL_BESIGI", 2019, 2027), &token))
        .await
        .unwrap()
        .into_inner()
        .program
        .unwrap();
    assert_eq!(created.version, 1);
    let again = client
        .create_program(with_token(
            CreateProgramRequest {
                request_id: "other-id".into(),
                ..program("AUYL_EL_BESIGI", 2019, 2027)
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    let mut bad = program("auyl", 2025, 2019);
    bad.program.as_mut().unwrap().kind = 0;
    let status = client
        .create_program(with_token(bad, &token))
        .await
        .unwrap_err();
    let fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(
        fields,
        ["program.code", "program.kind", "program.last_year"]
    );

    // 701 billion tenge over 2019–2024: the envelope of 2019.
    let set = client
        .set_envelope(with_token(
            envelope("e-2019", 2019, 100_000_000_000, 0),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .envelope
        .unwrap();
    assert_eq!(
        (set.amount_tiyn, set.headroom_tiyn, set.version),
        (10_000_000_000_000, 10_000_000_000_000, 1)
    );
    let outside = client
        .set_envelope(with_token(envelope("e-2030", 2030, 1, 0), &token))
        .await
        .unwrap_err();
    assert!(outside.message().contains("fiscal_year"), "{outside:?}");
    let stale = client
        .set_envelope(with_token(envelope("e-stale", 2019, 5, 3), &token))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let twice = client
        .set_envelope(with_token(envelope("e-twice", 2019, 5, 0), &token))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    let raised = client
        .set_envelope(with_token(
            envelope("e-raise", 2019, 120_000_000_000, 1),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .envelope
        .unwrap();
    assert_eq!(raised.version, 2);

    let read = client
        .get_program(with_token(
            GetProgramRequest {
                code: "AUYL_EL_BESIGI".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.envelopes.len(), 1);
    assert_eq!(read.envelopes[0].amount_tiyn, 12_000_000_000_000);

    let missing = client
        .get_envelope(with_token(
            GetEnvelopeRequest {
                program_code: "AUYL_EL_BESIGI".into(),
                fiscal_year: 2020,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // A regional officer does not change national programmes.
    let regional = harness.tokens.token(
        "akimat-61",
        &[Scope::BudgetWrite, Scope::BudgetRead],
        Some("61"),
    );
    let denied = harness
        .client
        .create_program(with_token(program("REGIONAL", 2024, 2026), &regional))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

async fn programmes_are_listed_by_kind_and_year(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.tokens.admin();
    for (code, first, last) in [
        ("AUYL_AMANATY", 2025, 2028),
        ("AUYL_EL_BESIGI", 2019, 2027),
        ("OLD_PROGRAM", 2010, 2015),
    ] {
        harness
            .client
            .create_program(with_token(program(code, first, last), &token))
            .await
            .unwrap();
    }
    let running = harness
        .client
        .list_programs(with_token(
            ListProgramsRequest {
                year: 2026,
                page_size: 1,
                ..ListProgramsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(running.programs[0].code, "AUYL_AMANATY");
    let rest = harness
        .client
        .list_programs(with_token(
            ListProgramsRequest {
                year: 2026,
                page_size: 5,
                page_token: running.next_page_token,
                ..ListProgramsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<&str> = rest.programs.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(codes, ["AUYL_EL_BESIGI"]);
    assert!(rest.next_page_token.is_empty());
}

on_both_backends!(
    programmes_and_envelopes,
    programmes_are_listed_by_kind_and_year
);
