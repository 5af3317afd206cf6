//! The kept counts equal a full recount of the statuses after any mix of
//! single statuses, imports (with repeats of one settlement and standard) and
//! completed projects meeting their standards, on both backends.

#![allow(clippy::unwrap_used)]

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1::TerritoryKind;
use aimaq_testing::territories::governance_with;
use aimaq_testing::{TestDatabase, TestServer, TestTokens, on_both_backends, with_token};
use tonic::transport::Channel;

use crate::store::standard::{Counts, counts};

const VILLAGES: [&str; 4] = ["613633100", "613633200", "611033100", "611033200"];
const STANDARDS: [&str; 3] = ["SCHOOL", "INTERNET", "DRINKING_WATER"];

/// A small deterministic generator: the same sequence on every run.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        usize::try_from(self.0 >> 33).unwrap() % n
    }

    /// A settlement, a standard, and whether it applies and is met (only
    /// what applies can be met).
    fn status(&mut self) -> (String, String, bool, bool) {
        let applicable = self.below(4) != 0;
        (
            VILLAGES[self.below(VILLAGES.len())].into(),
            STANDARDS[self.below(STANDARDS.len())].into(),
            applicable,
            applicable && self.below(2) == 0,
        )
    }
}

async fn programme_for_projects(client: &mut BudgetServiceClient<Channel>, token: &str) {
    let program = Program {
        code: "PRG".into(),
        title: Some(LocalizedText {
            ru: "П".into(),
            ..Default::default()
        }),
        kind: ProgramKind::RuralInfrastructure as i32,
        funding_source: FundingSource::NationalBudget as i32,
        first_year: 2024,
        last_year: 2024,
        ..Program::default()
    };
    let request = CreateProgramRequest {
        request_id: "program".into(),
        program: Some(program),
    };
    client
        .create_program(with_token(request, token))
        .await
        .unwrap();
    let envelope = SetEnvelopeRequest {
        request_id: "envelope".into(),
        program_code: "PRG".into(),
        fiscal_year: 2024,
        amount_tiyn: 1_000_000_000,
        expected_version: 0,
    };
    client
        .set_envelope(with_token(envelope, token))
        .await
        .unwrap();
    for kato in ["610000000", "613600000", "613633000"] {
        let allocate = AllocateRequest {
            request_id: format!("allocate-{kato}"),
            program_code: "PRG".into(),
            fiscal_year: 2024,
            territory_kato: kato.into(),
            amount_tiyn: 1_000_000_000,
        };
        client.allocate(with_token(allocate, token)).await.unwrap();
    }
}

/// One random step: a status, an import of a few, or a completed project.
async fn step(client: &mut BudgetServiceClient<Channel>, token: &str, draw: &mut Draw, n: usize) {
    match draw.below(5) {
        0..=2 => {
            let (settlement, code, applicable, met) = draw.status();
            let request = RecordStandardStatusRequest {
                request_id: format!("status-{n}"),
                settlement_kato: settlement,
                standard_code: code,
                applicable,
                met,
            };
            client
                .record_standard_status(with_token(request, token))
                .await
                .unwrap();
        }
        3 => {
            let statuses = (0..1 + draw.below(6))
                .map(|_| {
                    let (settlement_kato, standard_code, applicable, met) = draw.status();
                    StandardStatusInput {
                        settlement_kato,
                        standard_code,
                        applicable,
                        met,
                    }
                })
                .collect();
            let request = ImportStandardStatusesRequest {
                request_id: format!("import-{n}"),
                statuses,
                validate_only: false,
            };
            client
                .import_standard_statuses(with_token(request, token))
                .await
                .unwrap();
        }
        _ => {
            let settlement = VILLAGES[draw.below(2)];
            let project = ImportedProject {
                allocation: "allocations/PRG/2024/613633000".into(),
                settlement_kato: settlement.into(),
                category: ProjectCategory::SocialInfrastructure as i32,
                title: format!("project {n}"),
                cost_tiyn: 100,
                standard_codes: vec![STANDARDS[draw.below(STANDARDS.len())].into()],
                status: ProjectStatus::Completed as i32,
                disbursed_tiyn: 100,
                ..ImportedProject::default()
            };
            let request = ImportProjectsRequest {
                request_id: format!("project-{n}"),
                projects: vec![project],
                validate_only: false,
            };
            client
                .import_projects(with_token(request, token))
                .await
                .unwrap();
        }
    }
}

fn sorted((mut counts, settlements): (Vec<Counts>, i64)) -> (Vec<Counts>, i64) {
    counts.retain(|c| c.applicable != 0 || c.met != 0);
    counts.sort_by(|a, b| a.standard_code.cmp(&b.standard_code));
    (counts, settlements)
}

async fn kept_counts_equal_a_recount(database: TestDatabase) {
    let tokens = TestTokens::new();
    let more = [
        ("611033000", TerritoryKind::RuralDistrict),
        ("611033100", TerritoryKind::Village),
        ("611033200", TerritoryKind::Village),
    ];
    let governance = governance_with(&tokens, aimaq_governance::run, &more).await;
    let url = governance.url();
    let server = TestServer::start(database, &tokens, move |config, listener, shutdown| {
        crate::run(config, url, listener, shutdown)
    })
    .await;
    let mut client = BudgetServiceClient::new(server.channel().await);
    let token = tokens.admin();
    programme_for_projects(&mut client, &token).await;
    let mut draw = Draw(20_261_206);
    for n in 0..120 {
        step(&mut client, &token, &mut draw, n).await;
    }
    let db = sea_orm::Database::connect(&server.database.url)
        .await
        .unwrap();
    for (scope, prefix) in [
        ("", None),
        ("610000000", Some("61")),
        ("613600000", Some("6136")),
        ("611000000", Some("6110")),
    ] {
        let kept = sorted(super::of_scope(&db, scope).await.unwrap());
        let recounted = sorted(counts(&db, prefix).await.unwrap());
        assert_eq!(kept, recounted, "scope {scope:?}");
        assert!(kept.1 > 0, "scope {scope:?} has settlements");
    }
}

on_both_backends!(kept_counts_equal_a_recount);
