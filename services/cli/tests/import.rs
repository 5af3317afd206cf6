//! `aimaq import` as a budget department or a district would run it: files
//! with Russian or English headings, in CSV, JSON lines and Excel; rows the
//! file or the service refuses set aside with their reasons; and the same
//! command run again importing nothing twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use aimaq_e2e::scenario::*;
use aimaq_proto::governance::v1::GetRevenueSummaryRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_testing::with_token;
use common::*;
use serde_json::Value;

fn write(stack: &Stack, name: &str, text: &str) -> PathBuf {
    let path = stack.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The summary `aimaq import` printed, and its exit status.
async fn import(stack: &Stack, kind: &str, file: &Path) -> (Value, Option<i32>) {
    let output = stack
        .run(&["import", kind, file.to_str().unwrap(), "-o", "jsonl"])
        .await;
    let summary = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    (summary, output.status.code())
}

async fn project_count(stack: &Stack) -> usize {
    stack
        .lines(&["list", "projects", "-o", "jsonl"])
        .await
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_import_once_and_refused_rows_are_set_aside() {
    let stack = stack().await;
    let allocation = format!("allocations/AUYL_EL_BESIGI/{}/{REGION}", this_year());
    let file = write(
        &stack,
        "projects.csv",
        &format!(
            "Распределение;КАТО;Категория;Наименование;Стоимость;Статус\n\
             {allocation};{VILLAGE};social infrastructure;Клуб;10,00;planned\n\
             {allocation};{VILLAGE};social infrastructure;Спортзал;двадцать;planned\n\
             {allocation};{VILLAGE};social infrastructure;Водопровод;1 000 000;planned\n\
             {allocation};{VILLAGE};social infrastructure;Дорога;30;planned\n"
        ),
    );
    let before = project_count(&stack).await;
    let (summary, status) = import(&stack, "projects", &file).await;
    assert_eq!(status, Some(4), "{summary}");
    assert_eq!(summary["imported"], 2, "{summary}");
    assert_eq!(summary["rejected"], 2);
    assert_eq!(project_count(&stack).await, before + 2);

    let rejected = stack.dir.path().join("projects.rejected.csv");
    assert_eq!(summary["rejectedFile"], rejected.to_str().unwrap());
    let mut reader = csv::Reader::from_path(&rejected).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers[..3], ["row", "column", "problem"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!((&rows[0][0], &rows[0][1]), ("3", "Стоимость"));
    assert!(rows[0][2].contains("tenge"), "{:?}", rows[0]);
    assert_eq!(&rows[0][6], "Спортзал");
    assert_eq!(&rows[1][0], "4");
    assert!(!rows[1][2].is_empty());

    // Run again, as after an interruption: nothing is created twice.
    let (again, _) = import(&stack, "projects", &file).await;
    assert_eq!(again["imported"], 2);
    assert_eq!(project_count(&stack).await, before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revenues_from_json_lines_are_recorded_once() {
    let stack = stack().await;
    let year = this_year() - 1;
    let file = write(
        &stack,
        "revenues.jsonl",
        &format!(
            "{{\"като\": \"{RURAL_DISTRICT}\", \"год\": {year}, \"источник\": \"land tax\", \"сумма\": \"1 000,50\"}}\n\
             {{\"kato\": \"{RURAL_DISTRICT}\", \"year\": {year}, \"source\": \"PROPERTY_TAX\", \"amount\": \"2,000\"}}\n"
        ),
    );
    let total = || async {
        let mut governance = GovernanceServiceClient::new(stack.gateway.channel().await);
        let asked = GetRevenueSummaryRequest {
            territory_kato: RURAL_DISTRICT.into(),
            from_year: year,
            to_year: year,
        };
        let summary = governance
            .get_revenue_summary(with_token(asked, &stack.token))
            .await
            .unwrap()
            .into_inner();
        serde_json::to_string(&common_json(&summary)).unwrap()
    };
    let before = total().await;
    let (summary, status) = import(&stack, "revenues", &file).await;
    assert_eq!(status, Some(0), "{summary}");
    assert_eq!(summary["imported"], 2);
    let after = total().await;
    assert_ne!(before, after);
    assert!(after.contains("300050"), "{after}");
    let (again, _) = import(&stack, "revenues", &file).await;
    assert_eq!(again["imported"], 2);
    assert_eq!(total().await, after);
}

/// A message as the CLI prints it.
fn common_json<M: prost::Message + prost::Name>(message: &M) -> Value {
    let pool = prost_reflect::DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).unwrap();
    let descriptor = pool.get_message_by_name(&M::full_name()).unwrap();
    let dynamic =
        prost_reflect::DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
            .unwrap();
    serde_json::to_value(&dynamic).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_statuses_from_a_workbook() {
    let stack = stack().await;
    let path = stack.dir.path().join("standards.xlsx");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (column, heading) in ["КАТО", "Стандарт", "Применим", "Выполнен"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, column as u16, *heading).unwrap();
    }
    sheet.write_number(1, 0, 613633100.0).unwrap();
    sheet.write_string(1, 1, "DRINKING_WATER").unwrap();
    sheet.write_string(1, 2, "да").unwrap();
    sheet.write_string(1, 3, "нет").unwrap();
    workbook.save(&path).unwrap();
    let (summary, status) = import(&stack, "standard-statuses", &path).await;
    assert_eq!(status, Some(0), "{summary}");
    assert_eq!(summary["imported"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_an_unknown_column_is_refused_before_anything_is_sent() {
    let stack = stack().await;
    let file = write(&stack, "bad.csv", "КАТО,Цена\n613633100,10\n");
    let output = stack
        .run(&["import", "projects", file.to_str().unwrap()])
        .await;
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("\"Цена\""), "{said}");
    let output = stack.run(&["import", "projects", "/nonexistent.csv"]).await;
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_every_problem_and_records_nothing() {
    let stack = stack().await;
    let allocation = format!("allocations/AUYL_EL_BESIGI/{}/{REGION}", this_year());
    let file = write(
        &stack,
        "check.csv",
        &format!(
            "allocation,settlement_kato,category,title,cost,status\n\
             {allocation},{VILLAGE},social infrastructure,Клуб,10,planned\n\
             {allocation},{VILLAGE},social infrastructure,Спортзал,ten,planned\n\
             {allocation},613633999,social infrastructure,Баня,10,planned\n\
             {allocation},{VILLAGE},moonbase,Ракета,10,planned\n"
        ),
    );
    let before = project_count(&stack).await;
    let output = stack
        .run(&[
            "import",
            "projects",
            file.to_str().unwrap(),
            "--dry-run",
            "-o",
            "jsonl",
        ])
        .await;
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let problems: Vec<(u64, String)> = lines[..lines.len() - 1]
        .iter()
        .map(|p| {
            (
                p["row"].as_u64().unwrap(),
                p["column"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 3, "{lines:?}");
    assert_eq!(problems[0], (3, "cost".to_string()));
    // The service names no field for an unknown place: the row is found by
    // halving the batch, and its problem is the service's message.
    assert_eq!(problems[1].0, 4);
    assert!(
        lines[1]["problem"].as_str().unwrap().contains("613633999"),
        "{lines:?}"
    );
    assert_eq!(problems[2], (5, "category".to_string()));
    let summary = lines.last().unwrap();
    assert_eq!(
        (summary["rows"].clone(), summary["valid"].clone()),
        (4.into(), 1.into())
    );
    assert_eq!(project_count(&stack).await, before);
    assert!(!stack.dir.path().join("check.rejected.csv").exists());

    // Rows sent a call each are checked the same way.
    let year = this_year() - 1;
    let revenues = write(
        &stack,
        "check.jsonl",
        &format!(
            "{{\"kato\": \"{RURAL_DISTRICT}\", \"year\": {year}, \"source\": \"land tax\", \"amount\": \"5\"}}\n\
             {{\"kato\": \"{RURAL_DISTRICT}\", \"year\": 1800, \"source\": \"land tax\", \"amount\": \"5\"}}\n"
        ),
    );
    let output = stack
        .run(&[
            "import",
            "revenues",
            revenues.to_str().unwrap(),
            "--dry-run",
            "-o",
            "jsonl",
            "--language",
            "ru",
        ])
        .await;
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("\"row\":2") && text.contains("fiscal_year"),
        "{text}"
    );
    // The service's own words in the caller's language come first.
    assert!(text.contains("Запрос отклонён"), "{text}");

    // And the tool's own, for a cell it cannot read.
    let output = stack
        .run(&[
            "import",
            "projects",
            file.to_str().unwrap(),
            "--dry-run",
            "-o",
            "jsonl",
            "--language",
            "kk",
        ])
        .await;
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("«cost» бағанындағы мән қабылданбады"),
        "{text}"
    );
    assert!(text.contains("\"valid\":1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn territories_stream_in_batches_and_refused_rows_are_set_aside() {
    let stack = stack().await;
    let file = write(
        &stack,
        "territories.csv",
        "КАТО;Тип;Наименование;Наименование каз;Сельская;Население;Действует с\n\
         613633901;village;Первое;Бірінші;да;120;2020-01-01\n\
         613633902;village;Второе;Екінші;да;80;2020-01-01\n\
         6136339;village;Короткий;Қысқа;да;10;2020-01-01\n",
    );
    // Checked first: the refused row is named, nothing is written.
    let output = stack
        .run(&[
            "import",
            "territories",
            file.to_str().unwrap(),
            "--dry-run",
            "-o",
            "jsonl",
        ])
        .await;
    assert_eq!(output.status.code(), Some(4));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("\"row\":4") && text.contains("\"valid\":2"),
        "{text}"
    );
    let absent = stack.run(&["get", "territories", "613633902"]).await;
    assert_eq!(absent.status.code(), Some(4));

    let output = stack
        .run(&[
            "import",
            "territories",
            file.to_str().unwrap(),
            "--batch",
            "2",
            "-o",
            "jsonl",
        ])
        .await;
    let summary: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(summary["imported"], 2, "{summary}");
    assert_eq!(summary["rejected"], 1, "{summary}");
    let rejected =
        std::fs::read_to_string(stack.dir.path().join("territories.rejected.csv")).unwrap();
    assert!(
        rejected
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("4,kato,\"6136339 (batch 1)"),
        "{rejected}"
    );
    let second = stack
        .lines(&["get", "territories", "613633902", "-o", "jsonl"])
        .await;
    assert_eq!(second[0]["name"]["kk"], "Екінші");
    assert_eq!(second[0]["population"], "80");

    // Again: nothing new, the same two accepted.
    let output = stack
        .run(&[
            "import",
            "territories",
            file.to_str().unwrap(),
            "--batch",
            "2",
            "-o",
            "jsonl",
        ])
        .await;
    let again: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(again["imported"], 2, "{again}");
}
