//! GetSettlementSummary: each part is what the RPC of its own answers.

use std::collections::BTreeMap;

use aimaq_auth::Scope;
use aimaq_proto::budget::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;
use tonic_types::StatusExt;

use super::projects::project;
use super::{Harness, PROGRAM, start};

impl Harness {
    async fn summary(&mut self, kato: &str) -> Result<GetSettlementSummaryResponse, tonic::Status> {
        let token = self.tokens.admin();
        let request = GetSettlementSummaryRequest {
            territory_kato: kato.into(),
        };
        self.client
            .get_settlement_summary(with_token(request, &token))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The projects of a subtree as ListProjects gives them, counted by
    /// programme and status.
    async fn counted(&mut self, kato: &str) -> Vec<ProjectCount> {
        let token = self.tokens.admin();
        let request = ListProjectsRequest {
            territory_kato: kato.into(),
            page_size: 1000,
            ..ListProjectsRequest::default()
        };
        let listed = self
            .client
            .list_projects(with_token(request, &token))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.next_page_token.is_empty());
        let mut counts: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
        for project in listed.projects {
            let count = counts
                .entry((project.program_code, project.status))
                .or_default();
            count.0 += 1;
            count.1 += project.cost_tiyn;
        }
        counts
            .into_iter()
            .map(
                |((program_code, status), (count, cost_tiyn))| ProjectCount {
                    program_code,
                    status,
                    count,
                    cost_tiyn,
                },
            )
            .collect()
    }

    async fn allocations_under(&mut self, kato: &str) -> Vec<Allocation> {
        let token = self.tokens.admin();
        let request = ListAllocationsRequest {
            program_code: PROGRAM.into(),
            territory_kato: kato.into(),
            page_size: 1000,
            ..ListAllocationsRequest::default()
        };
        let mut allocations = self
            .client
            .list_allocations(with_token(request, &token))
            .await
            .unwrap()
            .into_inner()
            .allocations;
        allocations.sort_by(|a, b| a.territory_kato.cmp(&b.territory_kato));
        allocations
    }
}

async fn a_summary_is_what_each_part_answers(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    harness.allocate("village", "613633100", 80).await.unwrap();
    let mut made = Vec::new();
    for (n, (village, tenge)) in [("613633100", 10), ("613633200", 20), ("613633100", 30)]
        .into_iter()
        .enumerate()
    {
        let created = harness
            .create_project(project(&format!("p-{n}"), village, tenge, &["SCHOOL"]))
            .await
            .unwrap();
        made.push(created);
    }
    harness
        .transition("approve", &made[2], ProjectStatus::Approved)
        .await
        .unwrap();
    harness
        .record_standard("school", "613633100", "SCHOOL", true)
        .await;
    harness
        .record_standard("clinic", "613633200", "MEDICAL_POST", false)
        .await;

    for kato in ["613633000", "613633100", "613633200"] {
        let summary = harness.summary(kato).await.unwrap();
        assert_eq!(
            summary.allocations,
            harness.allocations_under(kato).await,
            "{kato}"
        );
        assert_eq!(summary.projects, harness.counted(kato).await, "{kato}");
        assert_eq!(
            summary.sufficiency.unwrap(),
            harness.sufficiency(kato).await,
            "{kato}"
        );
    }
    let district = harness.summary("613633000").await.unwrap();
    assert_eq!(
        district.allocations.len(),
        2,
        "the rural district's and the village's"
    );
    let statuses: Vec<(ProjectStatus, i64, i64)> = district
        .projects
        .iter()
        .map(|c| (c.status(), c.count, c.cost_tiyn))
        .collect();
    assert_eq!(
        statuses,
        [
            (ProjectStatus::Planned, 2, 3_000),
            (ProjectStatus::Approved, 1, 3_000)
        ]
    );
    let empty = harness.summary("613633200").await.unwrap();
    assert!(empty.allocations.is_empty());
}

async fn a_summary_is_refused_what_it_cannot_describe(database: TestDatabase) {
    let mut harness = start(database).await;
    for kato in ["613600000", "610000000", "", "61x"] {
        let refused = harness.summary(kato).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{kato}");
        let details = refused.get_error_details();
        let violations = &details.bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "territory_kato", "{kato}");
    }
    let outsider = harness.tokens.token("grants", &[Scope::GrantsRead], None);
    let request = GetSettlementSummaryRequest {
        territory_kato: "613633100".into(),
    };
    let denied = harness
        .client
        .get_settlement_summary(with_token(request, &outsider))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

on_both_backends!(a_summary_is_what_each_part_answers);
on_both_backends!(a_summary_is_refused_what_it_cannot_describe);
