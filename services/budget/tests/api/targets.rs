//! Programme targets: set for a period within the programme's years, named by
//! their source, versioned, and listed by programme and year.

use aimaq_auth::Scope;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_testing::hostile::violated_fields;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;

use super::start;

const BILLION_TENGE_IN_TIYN: i64 = 100_000_000_000;

fn target(code: &str, metric: TargetMetric, years: (i32, i32), value: i64) -> ProgramTarget {
    ProgramTarget {
        program_code: code.into(),
        metric: metric as i32,
        from_year: years.0,
        to_year: years.1,
        value,
        source: "Statement of 2025: stated".into(),
        ..ProgramTarget::default()
    }
}

fn set(id: &str, target: ProgramTarget, version: i64) -> SetProgramTargetRequest {
    SetProgramTargetRequest {
        request_id: id.into(),
        target: Some(target),
        expected_version: version,
    }
}

async fn targets_are_data_with_a_source(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.tokens.admin();
    let client = &mut harness.client;
    client
        .create_program(with_token(
            CreateProgramRequest {
                request_id: "create".into(),
                program: Some(Program {
                    code: "AUYL_AMANATY".into(),
                    title: Some(LocalizedText {
                        ru: "Ауыл аманаты".into(),
                        ..LocalizedText::default()
                    }),
                    kind: ProgramKind::EntrepreneurshipMicroCredit as i32,
                    funding_source: FundingSource::NationalBudget as i32,
                    first_year: 2020,
                    last_year: 2028,
                    ..Program::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap();
    let money = target(
        "AUYL_AMANATY",
        TargetMetric::Money,
        (2026, 2028),
        450 * BILLION_TENGE_IN_TIYN,
    );
    let created = client
        .set_program_target(with_token(set("money", money.clone(), 0), &token))
        .await
        .unwrap()
        .into_inner()
        .target
        .unwrap();
    assert_eq!(
        created.name,
        "programs/AUYL_AMANATY/targets/money/2026-2028"
    );
    assert_eq!(created.version, 1);
    // The same request again is answered as before, not applied twice.
    let replayed = client
        .set_program_target(with_token(set("money", money.clone(), 0), &token))
        .await
        .unwrap()
        .into_inner()
        .target
        .unwrap();
    assert_eq!(replayed, created);
    // A second target for the same period is refused; a change names the version.
    let again = client
        .set_program_target(with_token(set("money-2", money.clone(), 0), &token))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let stale = client
        .set_program_target(with_token(set("money-3", money.clone(), 7), &token))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let changed = client
        .set_program_target(with_token(
            set(
                "money-4",
                ProgramTarget {
                    source: "Statement of 2025: 'nearly 450 bn'; the years are inferred".into(),
                    ..money
                },
                1,
            ),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .target
        .unwrap();
    assert_eq!(changed.version, 2);

    // Outside the programme's years, with no value and no source: every field named.
    let mut bad = target("AUYL_AMANATY", TargetMetric::Projects, (2019, 2029), 0);
    bad.source = " ".into();
    let status = client
        .set_program_target(with_token(set("bad", bad, 0), &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        [
            "target.from_year",
            "target.to_year",
            "target.value",
            "target.source"
        ]
    );
    let unmeasured = target("AUYL_AMANATY", TargetMetric::Unspecified, (2026, 2026), 1);
    let status = client
        .set_program_target(with_token(set("unmeasured", unmeasured, 0), &token))
        .await
        .unwrap_err();
    assert!(status.message().contains("target.metric"), "{status:?}");
    let unknown = target("NO_SUCH", TargetMetric::Projects, (2026, 2026), 1);
    let status = client
        .set_program_target(with_token(set("unknown", unknown, 0), &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // A regional token may read targets but not set them.
    let regional = harness.tokens.token(
        "akimat",
        &[Scope::BudgetRead, Scope::BudgetWrite],
        Some("61"),
    );
    let projects = target("AUYL_AMANATY", TargetMetric::Projects, (2026, 2028), 25_000);
    let denied = client
        .set_program_target(with_token(set("regional", projects.clone(), 0), &regional))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    client
        .set_program_target(with_token(set("projects", projects, 0), &token))
        .await
        .unwrap();
    client
        .set_program_target(with_token(
            set(
                "this-year",
                target(
                    "AUYL_AMANATY",
                    TargetMetric::Money,
                    (2025, 2025),
                    50 * BILLION_TENGE_IN_TIYN,
                ),
                0,
            ),
            &token,
        ))
        .await
        .unwrap();

    let list = |year, page_size, page_token: String| ListProgramTargetsRequest {
        program_code: "AUYL_AMANATY".into(),
        year,
        page_size,
        page_token,
    };
    let first = client
        .list_program_targets(with_token(list(2027, 1, String::new()), &regional))
        .await
        .unwrap()
        .into_inner();
    let rest = client
        .list_program_targets(with_token(
            list(2027, 10, first.next_page_token.clone()),
            &regional,
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = first
        .targets
        .iter()
        .chain(&rest.targets)
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "programs/AUYL_AMANATY/targets/money/2026-2028",
            "programs/AUYL_AMANATY/targets/projects/2026-2028"
        ]
    );
    assert!(rest.next_page_token.is_empty());
    let this_year = client
        .list_program_targets(with_token(list(2025, 10, String::new()), &regional))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(this_year.targets.len(), 1);
    assert_eq!(this_year.targets[0].value, 50 * BILLION_TENGE_IN_TIYN);
    let bad_year = client
        .list_program_targets(with_token(list(99, 10, String::new()), &regional))
        .await
        .unwrap_err();
    assert!(bad_year.message().contains("year"), "{bad_year:?}");
}

on_both_backends!(targets_are_data_with_a_source);
