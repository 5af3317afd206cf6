//! `aimaq report`: the services' reports as workbooks and CSV files, read
//! back: a sheet a grouping under the header block, money as tenge numbers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aimaq_e2e::scenario::*;
use calamine::{Data, Reader};
use common::*;

/// The sheets of a workbook: name, and its cells as text (numbers as numbers).
fn sheets(path: &std::path::Path) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let names = workbook.sheet_names().to_vec();
    names
        .into_iter()
        .map(|name| {
            let range = workbook.worksheet_range(&name).unwrap();
            let rows = range.rows().map(<[Data]>::to_vec).collect();
            (name, rows)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_written_a_sheet_a_grouping() {
    let stack = stack().await;
    let year = this_year().to_string();
    let file = stack.dir.path().join("execution.xlsx");
    let output = stack
        .run(&[
            "report",
            "execution",
            "--program",
            "AUYL_EL_BESIGI",
            "--from",
            &year,
            "--to",
            &year,
            "--file",
            file.to_str().unwrap(),
        ])
        .await;
    succeeded(&output);
    let workbook = sheets(&file);
    let names: Vec<&str> = workbook.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["envelopes", "rows", "totals"]);
    let rows = &workbook[1].1;
    assert_eq!(
        rows[0][0],
        Data::String("Budget execution of the programme AUYL_EL_BESIGI".into())
    );
    assert_eq!(rows[1][0], Data::String(format!("Period: {year}")));
    assert!(
        rows.iter()
            .any(|r| r[0] == Data::String("programCode: AUYL_EL_BESIGI".into()))
    );
    let header = rows
        .iter()
        .position(|r| {
            r.iter()
                .any(|c| c == &Data::String("allocated (KZT)".into()))
        })
        .unwrap();
    let allocated = rows[header]
        .iter()
        .position(|c| c == &Data::String("allocated (KZT)".into()))
        .unwrap();
    let amounts: Vec<&Data> = rows[header + 1..].iter().map(|r| &r[allocated]).collect();
    assert!(amounts.contains(&&Data::Float(500.0)), "{amounts:?}");

    let annual = stack.dir.path().join("annual.xlsx");
    let output = stack
        .run(&[
            "report",
            "grants-annual",
            "--year",
            &year,
            "--file",
            annual.to_str().unwrap(),
        ])
        .await;
    succeeded(&output);
    let names: Vec<String> = sheets(&annual).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["regions", "rows", "total"]);

    // As CSV: a file a grouping, the header block first.
    let budget = stack.dir.path().join("district.csv");
    let from = (this_year() - 3).to_string();
    let output = stack
        .run(&[
            "report",
            "district-budget",
            "--territory",
            RURAL_DISTRICT,
            "--from",
            &from,
            "--to",
            &year,
            "--format",
            "csv",
            "--file",
            budget.to_str().unwrap(),
        ])
        .await;
    succeeded(&output);
    let text = std::fs::read_to_string(stack.dir.path().join("district.rows.csv")).unwrap();
    assert!(
        text.starts_with(&format!("Budget of the rural district {RURAL_DISTRICT}\n")),
        "{text}"
    );
    assert!(text.contains("growthFactorBp: "), "{text}");
    assert!(stack.dir.path().join("district.totals.csv").exists());
}
