//! The execution report and the allocation export.

use aimaq_proto::budget::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use tonic::Code;

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
    the_report_sums_the_tree_by_region_and_district,
    the_export_streams_what_the_filter_selects,
);
