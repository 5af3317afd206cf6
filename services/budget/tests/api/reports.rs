//! The execution report and the allocation export.

use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::{Date, LocalizedText};
use aimaq_proto::governance::v1::TerritoryKind;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;
use tonic_types::StatusExt;

use super::projects::project;
use super::{PROGRAM, start, tiyn};

async fn the_report_sums_the_tree_by_region_and_district(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    harness
        .create_project(project("school", "613633100", 150, &[]))
        .await
        .unwrap();
    let road = harness
        .create_project(project("road", "613633200", 30, &[]))
        .await
        .unwrap();
    harness
        .transition("cancel", &road, ProjectStatus::Cancelled)
        .await
        .unwrap();
    harness
        .create_project(project("clinic", "613633100", 20, &[]))
        .await
        .unwrap();
    let token = harness.tokens.admin();
    let report = |grouping: ReportGrouping, territory: &str| {
        let mut client = harness.client.clone();
        let request = with_token(
            GetExecutionReportRequest {
                program_code: PROGRAM.into(),
                from_year: 2024,
                to_year: 2024,
                grouping: grouping as i32,
                territory_kato: territory.into(),
                quarter: 0,
            },
            &token,
        );
        async move { client.get_execution_report(request).await }
    };
    let counts = |row: &ExecutionRow| -> Vec<(ProjectStatus, i64)> {
        row.projects.iter().map(|c| (c.status(), c.count)).collect()
    };

    let by_region = report(ReportGrouping::Region, "")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_region.envelopes.len(), 1);
    assert_eq!(by_region.envelopes[0].allocated_tiyn, tiyn(500));
    let [region] = by_region.rows.as_slice() else {
        panic!("{:?}", by_region.rows);
    };
    assert_eq!(region.territory_kato, "610000000");
    assert_eq!(region.program_code, by_region.program_code);
    assert_eq!(
        (
            region.allocated_tiyn,
            region.committed_tiyn,
            region.disbursed_tiyn
        ),
        (tiyn(500), tiyn(300), 0)
    );
    assert_eq!(
        counts(region),
        [(ProjectStatus::Planned, 2), (ProjectStatus::Cancelled, 1)]
    );
    assert_eq!(region.settlements_covered, 1);
    assert_eq!(by_region.totals.len(), 1);
    assert_eq!(by_region.totals[0].allocated_tiyn, tiyn(500));
    assert_eq!(by_region.totals[0].program_code, by_region.program_code);
    assert_eq!(counts(&by_region.totals[0]), counts(region));

    let by_district = report(ReportGrouping::District, "610000000")
        .await
        .unwrap()
        .into_inner();
    let [district] = by_district.rows.as_slice() else {
        panic!("{:?}", by_district.rows);
    };
    assert_eq!(district.territory_kato, "613600000");
    assert_eq!(
        (district.allocated_tiyn, district.committed_tiyn),
        (tiyn(300), tiyn(200))
    );
    assert_eq!(counts(district), counts(region));

    let status = report(ReportGrouping::District, "").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = report(ReportGrouping::District, "613600000")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = harness
        .client
        .get_execution_report(with_token(
            GetExecutionReportRequest {
                program_code: "NOPE".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

const RURAL_DISTRICT: &str = "allocations/AUYL_EL_BESIGI/2024/613633000";

impl super::Harness {
    /// Pays `tenge` to `project` on `date` of 2024.
    async fn pay_on(&mut self, project: &Project, tenge: i64, (month, day): (i32, i32)) {
        let token = self.tokens.admin();
        self.client
            .record_disbursement(with_token(
                RecordDisbursementRequest {
                    request_id: format!("pay-{month}-{day}"),
                    project: project.name.clone(),
                    amount_tiyn: tiyn(tenge),
                    payment_date: Some(Date {
                        year: 2024,
                        month,
                        day,
                    }),
                    payment_reference: format!("payment of {month}/{day}"),
                },
                &token,
            ))
            .await
            .unwrap();
    }

    async fn finance_report(
        &mut self,
        grouping: ReportGrouping,
        territory: &str,
        years: (i32, i32),
        quarter: i32,
    ) -> Result<GetExecutionReportResponse, tonic::Status> {
        let token = self.tokens.admin();
        let request = GetExecutionReportRequest {
            program_code: PROGRAM.into(),
            from_year: years.0,
            to_year: years.1,
            grouping: grouping as i32,
            territory_kato: territory.into(),
            quarter,
        };
        self.client
            .get_execution_report(with_token(request, &token))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// The report in a finance department's columns: the approved plan stays as
/// allocated while the revised plan follows adjustments; financed is what was
/// passed on; a quarter counts payments dated by its end (an imported total
/// without dates at the year's end); the spend rate is disbursed over the
/// revised plan; rows carry the territory's name.
async fn the_report_is_in_the_finance_form(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    let region = harness.allocation("610000000").await;
    harness
        .adjust("revise", "610000000", 100, region.version)
        .await
        .unwrap();
    let school = harness
        .create_project(project("school", "613633100", 150, &[]))
        .await
        .unwrap();
    let school = harness
        .transition("approve", &school, ProjectStatus::Approved)
        .await
        .unwrap();
    harness.pay_on(&school, 10, (2, 14)).await;
    harness.pay_on(&school, 40, (8, 1)).await;
    let token = harness.tokens.admin();
    let imported = ImportedProject {
        allocation: RURAL_DISTRICT.into(),
        settlement_kato: "613633200".into(),
        category: ProjectCategory::SocialInfrastructure as i32,
        title: "Road to the school".into(),
        cost_tiyn: tiyn(20),
        status: ProjectStatus::InProgress as i32,
        disbursed_tiyn: tiyn(5),
        ..ImportedProject::default()
    };
    harness
        .client
        .import_projects(with_token(
            ImportProjectsRequest {
                request_id: "import".into(),
                projects: vec![imported],
                validate_only: false,
            },
            &token,
        ))
        .await
        .unwrap();

    let mut disbursed = Vec::new();
    for quarter in 0..=4 {
        let report = harness
            .finance_report(ReportGrouping::Region, "", (2024, 2024), quarter)
            .await
            .unwrap();
        assert_eq!(report.quarter, quarter);
        let [row] = report.rows.as_slice() else {
            panic!("{:?}", report.rows);
        };
        assert_eq!(
            (
                row.approved_plan_tiyn,
                row.allocated_tiyn,
                row.committed_tiyn
            ),
            (tiyn(500), tiyn(600), tiyn(300))
        );
        assert_eq!(row.territory_name.as_ref().unwrap().ru, "610000000");
        assert_eq!(report.totals[0].approved_plan_tiyn, tiyn(500));
        assert_eq!(report.totals[0].disbursed_tiyn, row.disbursed_tiyn);
        assert!(report.totals[0].territory_name.is_none());
        disbursed.push((row.disbursed_tiyn, row.spend_rate_percent));
    }
    assert_eq!(
        disbursed,
        [
            (tiyn(55), 9.2),
            (tiyn(10), 1.7),
            (tiyn(10), 1.7),
            (tiyn(50), 8.3),
            (tiyn(55), 9.2)
        ]
    );

    let by_district = harness
        .finance_report(ReportGrouping::District, "610000000", (2024, 2024), 3)
        .await
        .unwrap();
    let [district] = by_district.rows.as_slice() else {
        panic!("{:?}", by_district.rows);
    };
    assert_eq!(district.territory_name.as_ref().unwrap().ru, "613600000");
    assert_eq!(
        (district.approved_plan_tiyn, district.disbursed_tiyn),
        (tiyn(300), tiyn(50))
    );

    let status = harness
        .finance_report(ReportGrouping::Region, "", (2024, 2024), 5)
        .await
        .unwrap_err();
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "quarter"
    );
}

/// A district report is refused for years before its region existed, naming
/// the region; the years it existed are answered.
async fn a_district_report_keeps_to_its_regions_years(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    harness
        .formed(
            ("100000000", TerritoryKind::Region),
            "область Абай",
            (2022, 6, 8),
        )
        .await;
    let before = harness
        .finance_report(ReportGrouping::District, "100000000", (2021, 2024), 0)
        .await
        .unwrap_err();
    assert_eq!(before.code(), Code::InvalidArgument, "{before:?}");
    assert_eq!(
        before.get_details_bad_request().unwrap().field_violations[0].field,
        "territory_kato"
    );
    assert!(before.message().contains("2021"), "{before:?}");
    let since = harness
        .finance_report(ReportGrouping::District, "100000000", (2022, 2024), 0)
        .await
        .unwrap();
    assert!(since.rows.is_empty(), "{:?}", since.rows);
}

/// A programme's budget classification code is checked, kept and reported with
/// its source.
async fn a_programme_carries_its_budget_code(database: TestDatabase) {
    let mut harness = start(database).await;
    let token = harness.tokens.admin();
    let create = |code: &str, budget_code: &str, source: &str| {
        let mut client = harness.client.clone();
        let request = CreateProgramRequest {
            request_id: format!("create-{code}-{}", budget_code.replace(' ', "-")),
            program: Some(Program {
                code: code.into(),
                title: Some(LocalizedText {
                    ru: "Программа".into(),
                    ..Default::default()
                }),
                kind: ProgramKind::Other as i32,
                funding_source: FundingSource::LocalBudget as i32,
                first_year: 2024,
                last_year: 2025,
                budget_code: budget_code.into(),
                budget_code_source: source.into(),
                ..Program::default()
            }),
        };
        let request = with_token(request, &token);
        async move { client.create_program(request).await }
    };
    for (budget_code, source, field) in [
        ("217056", "law", "program.budget_code"),
        ("217 056", "", "program.budget_code_source"),
    ] {
        let status = create("COOL", budget_code, source).await.unwrap_err();
        assert_eq!(
            status.get_details_bad_request().unwrap().field_violations[0].field,
            field
        );
    }
    let created = create("COOL", "217 056 015", "budget law of 2024")
        .await
        .unwrap()
        .into_inner()
        .program
        .unwrap();
    assert_eq!(created.budget_code, "217 056 015");
    let report = harness
        .client
        .get_execution_report(with_token(
            GetExecutionReportRequest {
                program_code: "COOL".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            report.budget_code.as_str(),
            report.budget_code_source.as_str()
        ),
        ("217 056 015", "budget law of 2024")
    );
}

async fn the_export_streams_what_the_filter_selects(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    let token = harness.tokens.admin();
    let export = |prefix: &str, from_year: i32| {
        let mut client = harness.client.clone();
        let request = with_token(
            ExportAllocationsRequest {
                program_code: PROGRAM.into(),
                from_year,
                to_year: 0,
                kato_prefix: prefix.into(),
            },
            &token,
        );
        async move {
            let mut stream = client.export_allocations(request).await?.into_inner();
            let mut codes = Vec::new();
            while let Some(item) = stream.message().await? {
                codes.push(item.allocation.unwrap().territory_kato);
            }
            Ok::<_, tonic::Status>(codes)
        }
    };
    assert_eq!(
        export("", 0).await.unwrap(),
        ["610000000", "613600000", "613633000"]
    );
    assert_eq!(
        export("6136", 2024).await.unwrap(),
        ["613600000", "613633000"]
    );
    assert!(export("", 2025).await.unwrap().is_empty());
    let status = export("61x", 0).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut client = harness.client.clone();
    let status = async {
        let mut stream = client
            .export_allocations(with_token(
                ExportAllocationsRequest {
                    program_code: "NOPE".into(),
                    ..Default::default()
                },
                &token,
            ))
            .await?
            .into_inner();
        stream.message().await
    }
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

on_both_backends!(
    the_report_is_in_the_finance_form,
    a_district_report_keeps_to_its_regions_years,
    a_programme_carries_its_budget_code,
    the_report_sums_the_tree_by_region_and_district,
    the_export_streams_what_the_filter_selects,
);
