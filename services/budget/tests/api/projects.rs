//! Projects on the allocation tree: commitments within headroom, the life of a
//! project, disbursements up the chain, standards and sufficiency, and every
//! refusal with its code and details.

use aimaq_auth::Scope;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::Date;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use aimaq_types::Iin;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::{Harness, PROGRAM, start, tiyn};

const RURAL_DISTRICT: &str = "allocations/AUYL_EL_BESIGI/2024/613633000";

pub fn project(id: &str, settlement: &str, tenge: i64, standards: &[&str]) -> CreateProjectRequest {
    CreateProjectRequest {
        request_id: id.into(),
        allocation: RURAL_DISTRICT.into(),
        settlement_kato: settlement.into(),
        category: ProjectCategory::SocialInfrastructure as i32,
        title: format!("School in {settlement}"),
        borrower_id: String::new(),
        cost_tiyn: tiyn(tenge),
        standard_codes: standards.iter().map(|s| (*s).into()).collect(),
    }
}

fn field_of(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("field violations")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

impl Harness {
    pub async fn create_project(
        &mut self,
        request: CreateProjectRequest,
    ) -> Result<Project, Status> {
        let token = self.tokens.admin();
        self.client
            .create_project(with_token(request, &token))
            .await
            .map(|r| r.into_inner().project.unwrap())
    }

    pub async fn transition(
        &mut self,
        id: &str,
        project: &Project,
        to: ProjectStatus,
    ) -> Result<Project, Status> {
        let token = self.tokens.admin();
        self.client
            .transition_project(with_token(
                TransitionProjectRequest {
                    request_id: id.into(),
                    project: project.name.clone(),
                    to_status: to as i32,
                    expected_version: project.version,
                    reason: String::new(),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().project.unwrap())
    }

    async fn disburse(&mut self, id: &str, project: &str, tenge: i64) -> Result<Project, Status> {
        let token = self.tokens.admin();
        self.client
            .record_disbursement(with_token(
                RecordDisbursementRequest {
                    request_id: id.into(),
                    project: project.into(),
                    amount_tiyn: tiyn(tenge),
                    payment_date: Some(Date {
                        year: 2024,
                        month: 6,
                        day: 1,
                    }),
                    payment_reference: format!("payment {id}"),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().project.unwrap())
    }

    pub(super) async fn sufficiency(&mut self, kato: &str) -> GetSufficiencyResponse {
        let token = self.tokens.admin();
        self.client
            .get_sufficiency(with_token(
                GetSufficiencyRequest {
                    territory_kato: kato.into(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub(super) async fn record_standard(
        &mut self,
        id: &str,
        settlement: &str,
        code: &str,
        met: bool,
    ) {
        let token = self.tokens.admin();
        self.client
            .record_standard_status(with_token(
                RecordStandardStatusRequest {
                    request_id: id.into(),
                    settlement_kato: settlement.into(),
                    standard_code: code.into(),
                    applicable: true,
                    met,
                },
                &token,
            ))
            .await
            .unwrap();
    }

    /// A programme with 1000 on the region, 300 on the district and 200 on the
    /// rural district.
    pub async fn tree(&mut self) {
        self.programme(1000).await;
        self.allocate("region", "610000000", 500).await.unwrap();
        self.allocate("district", "613600000", 300).await.unwrap();
        self.allocate("rural", "613633000", 200).await.unwrap();
    }
}

async fn a_project_from_plan_to_completion(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    harness
        .record_standard("school-200", "613633200", "SCHOOL", false)
        .await;
    harness
        .record_standard("school-100", "613633100", "SCHOOL", false)
        .await;
    let before = harness.sufficiency("613600000").await;
    assert_eq!(before.overall.unwrap().sufficiency_bp, 0);

    let school = harness
        .create_project(project(
            "school",
            "613633100",
            150,
            &["SCHOOL", "DRINKING_WATER"],
        ))
        .await
        .unwrap();
    assert_eq!(school.status(), ProjectStatus::Planned);
    assert_eq!((school.version, school.cost_tiyn), (1, tiyn(150)));
    let rural = harness.allocation("613633000").await;
    assert_eq!(
        (rural.committed_tiyn, rural.headroom_tiyn),
        (tiyn(150), tiyn(50))
    );

    // Over the headroom: the refusal names the allocation and the numbers.
    let status = harness
        .create_project(project("too-big", "613633200", 51, &[]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let violations = status
        .get_details_precondition_failure()
        .unwrap()
        .violations;
    assert_eq!(violations[0].subject, RURAL_DISTRICT);
    assert!(
        status.message().contains("51.00 KZT"),
        "{}",
        status.message()
    );

    // Money only to approved work, never out of order, never at a stale version.
    let status = harness
        .disburse("early", &school.name, 10)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = harness
        .transition("skip", &school, ProjectStatus::Completed)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let approved = harness
        .transition("approve", &school, ProjectStatus::Approved)
        .await
        .unwrap();
    let status = harness
        .transition("stale", &school, ProjectStatus::InProgress)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");

    let paid = harness.disburse("pay-1", &school.name, 100).await.unwrap();
    assert_eq!(paid.disbursed_tiyn, tiyn(100));
    // A retry replays the answer and pays nothing more.
    let again = harness.disburse("pay-1", &school.name, 100).await.unwrap();
    assert_eq!(again, paid);
    let status = harness
        .disburse("pay-2", &school.name, 51)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("50.00 KZT left"),
        "{}",
        status.message()
    );
    for kato in ["613633000", "613600000", "610000000"] {
        assert_eq!(
            harness.allocation(kato).await.disbursed_tiyn,
            tiyn(100),
            "{kato}"
        );
    }

    let running = harness
        .transition("start", &paid, ProjectStatus::InProgress)
        .await
        .unwrap();
    assert_eq!(running.version, approved.version + 2);
    let done = harness
        .transition("complete", &running, ProjectStatus::Completed)
        .await
        .unwrap();
    assert_eq!(done.status(), ProjectStatus::Completed);
    // Completion returns what was not spent.
    let rural = harness.allocation("613633000").await;
    assert_eq!(
        (rural.committed_tiyn, rural.headroom_tiyn),
        (tiyn(100), tiyn(100))
    );
    // ...and meets its standards: SCHOOL 1 of 2, DRINKING_WATER 1 of 1.
    let after = harness.sufficiency("613600000").await;
    let overall = after.overall.unwrap();
    assert_eq!(
        (overall.met, overall.applicable, overall.sufficiency_bp),
        (2, 3, 6667)
    );
    let school_figure = after
        .by_standard
        .iter()
        .find(|f| f.standard_code == "SCHOOL")
        .unwrap();
    assert_eq!(school_figure.sufficiency_bp, 5000);
    assert_eq!(after.settlements_counted, 2);
    // Elsewhere nothing changed.
    assert_eq!(
        harness
            .sufficiency("611000000")
            .await
            .overall
            .unwrap()
            .applicable,
        0
    );

    // Cancelling an approved project releases all of its cost.
    let road = harness
        .create_project(CreateProjectRequest {
            category: ProjectCategory::TransportInfrastructure as i32,
            ..project("road", "613633200", 100, &["PAVED_ROAD"])
        })
        .await
        .unwrap();
    assert_eq!(harness.allocation("613633000").await.headroom_tiyn, 0);
    let road = harness
        .transition("approve-road", &road, ProjectStatus::Approved)
        .await
        .unwrap();
    harness
        .transition("cancel-road", &road, ProjectStatus::Cancelled)
        .await
        .unwrap();
    assert_eq!(
        harness.allocation("613633000").await.headroom_tiyn,
        tiyn(100)
    );
    let status = harness
        .transition("revive", &road, ProjectStatus::Planned)
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::FailedPrecondition | Code::Aborted),
        "{status:?}"
    );

    // Listing by subtree, status and category.
    let token = harness.tokens.admin();
    let list = |request: ListProjectsRequest| {
        let mut client = harness.client.clone();
        let token = token.clone();
        async move {
            client
                .list_projects(with_token(request, &token))
                .await
                .unwrap()
                .into_inner()
                .projects
                .into_iter()
                .map(|p| p.title)
                .collect::<Vec<_>>()
        }
    };
    let all = ListProjectsRequest {
        program_code: PROGRAM.into(),
        territory_kato: "613633000".into(),
        ..Default::default()
    };
    assert_eq!(list(all.clone()).await.len(), 2);
    let completed = list(ListProjectsRequest {
        status: ProjectStatus::Completed as i32,
        ..all.clone()
    })
    .await;
    assert_eq!(completed, ["School in 613633100"]);
    let transport = list(ListProjectsRequest {
        category: ProjectCategory::TransportInfrastructure as i32,
        ..all.clone()
    })
    .await;
    assert_eq!(transport, ["School in 613633200"]);
    let paged = harness
        .client
        .list_projects(with_token(
            ListProjectsRequest {
                page_size: 1,
                ..all
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paged.projects.len(), 1);
    assert!(!paged.next_page_token.is_empty());
}

async fn bad_projects_are_refused_with_the_field(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    let status = harness
        .create_project(project("outside", "611000000", 1, &[]))
        .await
        .unwrap_err();
    assert_eq!(field_of(&status), ["settlement_kato"]);
    let status = harness
        .create_project(CreateProjectRequest {
            allocation: "allocations/AUYL_EL_BESIGI/2024/613600000".into(),
            ..project("not-a-village", "613633000", 1, &[])
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&status), ["settlement_kato"]);
    assert!(
        status.message().contains("not a settlement"),
        "{}",
        status.message()
    );
    let status = harness
        .create_project(CreateProjectRequest {
            category: ProjectCategory::Entrepreneurship as i32,
            borrower_id: "123456789012".into(),
            title: String::new(),
            ..project("credit", "613633100", 0, &["CASINO"])
        })
        .await
        .unwrap_err();
    assert_eq!(
        field_of(&status),
        ["title", "cost_tiyn", "borrower_id", "standard_codes[0]"]
    );
    // A standard named twice would be stored twice.
    let status = harness
        .create_project(project("twice", "613633100", 1, &["SCHOOL", "SCHOOL"]))
        .await
        .unwrap_err();
    assert_eq!(field_of(&status), ["standard_codes[1]"]);
    let borrower = Iin::complete("95030240012").unwrap().to_string();
    let credit = harness
        .create_project(CreateProjectRequest {
            category: ProjectCategory::Entrepreneurship as i32,
            borrower_id: borrower.clone(),
            ..project("credit", "613633100", 5, &[])
        })
        .await
        .unwrap();
    assert_eq!(credit.borrower_id, borrower);
    let status = harness
        .create_project(CreateProjectRequest {
            allocation: "allocations/AUYL_EL_BESIGI/2024/613633100".into(),
            ..project("no-allocation", "613633100", 1, &[])
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // A region's officer writes only in that region.
    let elsewhere = harness.tokens.token(
        "akimat-11",
        &[Scope::BudgetWrite, Scope::BudgetRead],
        Some("11"),
    );
    let status = harness
        .client
        .create_project(with_token(
            project("foreign", "613633100", 1, &[]),
            &elsewhere,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = harness
        .client
        .transition_project(with_token(
            TransitionProjectRequest {
                request_id: "foreign-approve".into(),
                project: credit.name.clone(),
                to_status: ProjectStatus::Approved as i32,
                expected_version: 1,
                reason: String::new(),
            },
            &elsewhere,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // A region's officer with budget scopes only: governance still answers for
    // the territory on its behalf.
    let officer = harness.tokens.token(
        "akimat-61",
        &[Scope::BudgetWrite, Scope::BudgetRead],
        Some("61"),
    );
    harness
        .client
        .create_project(with_token(
            project("officer", "613633200", 1, &[]),
            &officer,
        ))
        .await
        .unwrap();
    let reader = harness.tokens.token("reader", &[Scope::BudgetRead], None);
    let status = harness
        .client
        .create_project(with_token(project("reader", "613633100", 1, &[]), &reader))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    let status = harness
        .client
        .record_standard_status(with_token(
            RecordStandardStatusRequest {
                request_id: "bad-standard".into(),
                settlement_kato: "613633100".into(),
                standard_code: "CASINO".into(),
                applicable: false,
                met: true,
            },
            &harness.tokens.admin(),
        ))
        .await
        .unwrap_err();
    assert_eq!(field_of(&status), ["standard_code", "met"]);
    let standards = harness
        .client
        .list_standards(with_token(ListStandardsRequest {}, &reader))
        .await
        .unwrap()
        .into_inner()
        .standards;
    assert_eq!(standards.len(), 7);
}

fn imported(
    settlement: &str,
    tenge: i64,
    status: ProjectStatus,
    disbursed: i64,
    standards: &[&str],
) -> ImportedProject {
    ImportedProject {
        allocation: RURAL_DISTRICT.into(),
        settlement_kato: settlement.into(),
        category: ProjectCategory::EngineeringInfrastructure as i32,
        title: format!("Imported {settlement}"),
        borrower_id: String::new(),
        cost_tiyn: tiyn(tenge),
        standard_codes: standards.iter().map(|s| (*s).into()).collect(),
        status: status as i32,
        disbursed_tiyn: tiyn(disbursed),
    }
}

async fn imports_are_all_or_nothing(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    let token = harness.tokens.admin();
    let mut client = harness.client.clone();
    let import = |id: &str, projects: Vec<ImportedProject>| {
        let request = with_token(
            ImportProjectsRequest {
                request_id: id.into(),
                projects,
                validate_only: false,
            },
            &token,
        );
        let mut client = client.clone();
        async move { client.import_projects(request).await }
    };
    let status = import(
        "bad",
        vec![
            imported("613633100", 10, ProjectStatus::Completed, 10, &[]),
            imported("613633100", 10, ProjectStatus::Planned, 5, &["CASINO"]),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        field_of(&status),
        [
            "projects[1].disbursed_tiyn",
            "projects[1].standard_codes[0]"
        ]
    );
    let status = import(
        "too-much",
        vec![
            imported("613633100", 150, ProjectStatus::Completed, 150, &[]),
            imported("613633200", 51, ProjectStatus::Approved, 0, &[]),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(harness.allocation("613633000").await.committed_tiyn, 0);

    let names = import(
        "history",
        vec![
            imported(
                "613633100",
                100,
                ProjectStatus::Completed,
                100,
                &["INTERNET"],
            ),
            imported("613633200", 50, ProjectStatus::Cancelled, 10, &["INTERNET"]),
            imported("613633200", 40, ProjectStatus::InProgress, 20, &[]),
        ],
    )
    .await
    .unwrap()
    .into_inner()
    .projects;
    assert_eq!(names.len(), 3);
    let rural = harness.allocation("613633000").await;
    assert_eq!(
        (rural.committed_tiyn, rural.disbursed_tiyn),
        (tiyn(150), tiyn(130))
    );
    assert_eq!(
        harness.allocation("610000000").await.disbursed_tiyn,
        tiyn(130)
    );
    let internet = harness.sufficiency("613633000").await.by_standard;
    let internet = internet
        .iter()
        .find(|f| f.standard_code == "INTERNET")
        .unwrap();
    assert_eq!((internet.met, internet.applicable), (1, 1));

    let statuses = |code: &str| {
        vec![
            StandardStatusInput {
                settlement_kato: "613633200".into(),
                standard_code: "INTERNET".into(),
                applicable: true,
                met: false,
            },
            StandardStatusInput {
                settlement_kato: "613633100".into(),
                standard_code: code.into(),
                applicable: true,
                met: true,
            },
            // Already met by the completed project: updated, not inserted.
            StandardStatusInput {
                settlement_kato: "613633100".into(),
                standard_code: "INTERNET".into(),
                applicable: true,
                met: true,
            },
        ]
    };
    client = harness.client.clone();
    let status = client
        .import_standard_statuses(with_token(
            ImportStandardStatusesRequest {
                request_id: "bad-statuses".into(),
                statuses: statuses("CASINO"),
                validate_only: false,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_of(&status), ["statuses[1].standard_code"]);
    let recorded = client
        .import_standard_statuses(with_token(
            ImportStandardStatusesRequest {
                request_id: "statuses".into(),
                statuses: statuses("SCHOOL"),
                validate_only: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .recorded_count;
    assert_eq!(recorded, 3);
    let overall = harness.sufficiency("613633000").await.overall.unwrap();
    assert_eq!((overall.met, overall.applicable), (2, 3));
}

/// A project of a year is for a settlement that existed then: one formed in
/// 2025 takes no project of 2024.
async fn a_project_is_for_a_settlement_of_its_year(database: TestDatabase) {
    use aimaq_proto::governance::v1::TerritoryKind;
    let mut harness = start(database).await;
    harness.tree().await;
    harness
        .formed(
            ("613633300", TerritoryKind::Village),
            "с.Новое",
            (2025, 1, 1),
        )
        .await;
    let status = harness
        .create_project(project("too-early", "613633300", 1, &[]))
        .await
        .unwrap_err();
    assert_eq!(field_of(&status), ["settlement_kato"]);
    assert!(status.message().contains("2024"), "{}", status.message());
    harness
        .create_project(project("in-time", "613633100", 1, &[]))
        .await
        .unwrap();
}

on_both_backends!(
    a_project_is_for_a_settlement_of_its_year,
    a_project_from_plan_to_completion,
    bad_projects_are_refused_with_the_field,
    imports_are_all_or_nothing,
);
