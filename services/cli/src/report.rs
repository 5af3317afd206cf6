//! `aimaq report`: the services' reports as workbooks people file. Each
//! grouping of the report (its rows, its totals, its envelopes, …) is a sheet
//! of its own under a header block (title, period, source, when it was made
//! and the report's own figures), its column headings frozen and money in
//! tenge with the tenge format; or, as CSV, a file a grouping.

use std::io::Write;
use std::path::{Path, PathBuf};

use aimaq_proto::budget::v1::GetExecutionReportRequest;
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::governance::v1::GetRuralBudgetReportRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::grants::v1::GetAnnualReportRequest;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_types::Language;
use clap::{Args, Subcommand, ValueEnum};
use prost_reflect::Kind;
use serde_json::Value;

use crate::output::{cell, descriptor, to_json};
use crate::workbook::{csv_cells, headings, write_row, xlsx_error};
use crate::{CliError, Connection};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// A programme's budget execution by territory and year.
    Execution {
        #[arg(long)]
        program: String,
        #[arg(long)]
        from: i32,
        #[arg(long)]
        to: i32,
        /// Within this territory's subtree (a KATO code).
        #[arg(long)]
        territory: Option<String>,
        /// One quarter (1–4) of the years.
        #[arg(long)]
        quarter: Option<i32>,
        #[command(flatten)]
        out: ReportFile,
    },
    /// The diploma programme's annual report.
    GrantsAnnual {
        #[arg(long)]
        year: i32,
        #[arg(long)]
        territory: Option<String>,
        #[command(flatten)]
        out: ReportFile,
    },
    /// A rural district's budget: revenue by source and year.
    DistrictBudget {
        /// The rural district (a KATO code).
        #[arg(long)]
        territory: String,
        #[arg(long)]
        from: i32,
        #[arg(long)]
        to: i32,
        #[command(flatten)]
        out: ReportFile,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Xlsx,
    Csv,
}

#[derive(Debug, Args)]
pub struct ReportFile {
    #[arg(long, value_enum, default_value = "xlsx")]
    pub format: ReportFormat,
    /// The workbook to write; as CSV, one file a grouping beside it
    /// (`report.rows.csv`, `report.totals.csv`, …).
    #[arg(long)]
    pub file: PathBuf,
}

/// A report read: its header block and its groupings.
struct Report {
    title: String,
    period: String,
    source: &'static str,
    figures: Vec<(String, String)>,
    sheets: Vec<(String, Vec<String>, Vec<Value>)>,
}

pub async fn report(
    connection: &Connection,
    language: Language,
    command: &ReportCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (report, file) = match command {
        ReportCommand::Execution {
            program,
            from,
            to,
            territory,
            quarter,
            out,
        } => {
            let request = connection.request(GetExecutionReportRequest {
                program_code: program.clone(),
                from_year: *from,
                to_year: *to,
                territory_kato: territory.clone().unwrap_or_default(),
                quarter: quarter.unwrap_or_default(),
                ..Default::default()
            })?;
            let answer = BudgetServiceClient::new(connection.channel.clone())
                .get_execution_report(request)
                .await
                .map_err(|status| CliError::of_call(connection, status))?
                .into_inner();
            let title = format!("Budget execution of the programme {program}");
            let period = years(*from, *to, *quarter);
            (
                read(
                    title,
                    period,
                    "Aimaq budget service, GetExecutionReport",
                    &answer,
                )?,
                out,
            )
        }
        ReportCommand::GrantsAnnual {
            year,
            territory,
            out,
        } => {
            let request = connection.request(GetAnnualReportRequest {
                year: *year,
                territory_kato: territory.clone().unwrap_or_default(),
            })?;
            let answer = GrantsServiceClient::new(connection.channel.clone())
                .get_annual_report(request)
                .await
                .map_err(|status| CliError::of_call(connection, status))?
                .into_inner();
            let title = "'With a diploma – to the village!': annual report".to_string();
            (
                read(
                    title,
                    year.to_string(),
                    "Aimaq grants service, GetAnnualReport",
                    &answer,
                )?,
                out,
            )
        }
        ReportCommand::DistrictBudget {
            territory,
            from,
            to,
            out,
        } => {
            let report = district_budget(connection, territory, *from, *to).await?;
            (report, out)
        }
    };
    match file.format {
        ReportFormat::Xlsx => workbook(&report, &file.file, language)?,
        ReportFormat::Csv => csv_files(&report, &file.file, language)?,
    }
    writeln!(out, "{}", file.file.display())?;
    Ok(())
}

fn years(from: i32, to: i32, quarter: Option<i32>) -> String {
    let years = if from == to {
        from.to_string()
    } else {
        format!("{from}–{to}")
    };
    match quarter {
        Some(q) if q > 0 => format!("{years}, quarter {q}"),
        _ => years,
    }
}

/// Every page of a rural district's budget, as one report.
async fn district_budget(
    connection: &Connection,
    territory: &str,
    from: i32,
    to: i32,
) -> Result<Report, CliError> {
    let mut client = GovernanceServiceClient::new(connection.channel.clone());
    let mut page_token = String::new();
    let mut report: Option<Report> = None;
    loop {
        let request = connection.request(GetRuralBudgetReportRequest {
            territory_kato: territory.to_string(),
            from_year: from,
            to_year: to,
            page_size: 1000,
            page_token,
        })?;
        let answer = client
            .get_rural_budget_report(request)
            .await
            .map_err(|status| CliError::of_call(connection, status))?
            .into_inner();
        let next = answer.next_page_token.clone();
        let title = format!("Budget of the rural district {territory}");
        let page = read(
            title,
            years(from, to, None),
            "Aimaq governance service, GetRuralBudgetReport",
            &answer,
        )?;
        report = Some(match report {
            None => page,
            Some(mut whole) => {
                for ((_, _, rows), (_, _, more)) in whole.sheets.iter_mut().zip(page.sheets) {
                    rows.extend(more);
                }
                whole
            }
        });
        if next.is_empty() {
            return report.ok_or_else(|| CliError::Output("no report".into()));
        }
        page_token = next;
    }
}

/// A report from an answer: each message field a sheet (a repeated one a row
/// an item), each other field a figure of the header block.
fn read<M: prost::Message + prost::Name>(
    title: String,
    period: String,
    source: &'static str,
    answer: &M,
) -> Result<Report, CliError> {
    let json = to_json(answer)?;
    let descriptor = descriptor(&M::full_name())?;
    let mut report = Report {
        title,
        period,
        source,
        figures: Vec::new(),
        sheets: Vec::new(),
    };
    for field in descriptor.fields() {
        let name = field.json_name().to_string();
        let value = json.get(&name).cloned().unwrap_or(Value::Null);
        match field.kind() {
            Kind::Message(inner) if field.name() != "next_page_token" => {
                let columns = inner.fields().map(|f| f.json_name().to_string()).collect();
                let rows = match value {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    one => vec![one],
                };
                report.sheets.push((name, columns, rows));
            }
            _ if field.name() == "next_page_token" => {}
            _ => report
                .figures
                .push((name.clone(), cell(&name, &value, Language::En))),
        }
    }
    Ok(report)
}

/// The header block's lines.
fn header_block(report: &Report) -> Vec<String> {
    let mut lines = vec![
        report.title.clone(),
        format!("Period: {}", report.period),
        format!("Source: {}", report.source),
        format!(
            "Generated at: {}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        ),
    ];
    lines.extend(
        report
            .figures
            .iter()
            .map(|(name, value)| format!("{name}: {value}")),
    );
    lines
}

fn workbook(report: &Report, path: &Path, language: Language) -> Result<(), CliError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let block = header_block(report);
    for (name, columns, rows) in &report.sheets {
        let sheet = workbook.add_worksheet();
        sheet.set_name(name.as_str()).map_err(xlsx_error)?;
        for (line, text) in block.iter().enumerate() {
            let at = u32::try_from(line).unwrap_or(u32::MAX);
            if line == 0 {
                sheet.write_string_with_format(at, 0, text, &bold)
            } else {
                sheet.write_string(at, 0, text)
            }
            .map_err(xlsx_error)?;
        }
        let first = u32::try_from(block.len() + 1).unwrap_or(u32::MAX);
        headings(sheet, first, columns)?;
        for (index, row) in rows.iter().enumerate() {
            let at = first + 1 + u32::try_from(index).unwrap_or(u32::MAX - first - 1);
            write_row(sheet, at, columns, row, language)?;
        }
    }
    workbook.save(path).map_err(xlsx_error)
}

fn csv_files(report: &Report, path: &Path, language: Language) -> Result<(), CliError> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("report");
    let failed = |e: csv::Error| CliError::Output(e.to_string());
    for (name, columns, rows) in &report.sheets {
        let file = path.with_file_name(format!("{stem}.{name}.csv"));
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_path(&file)
            .map_err(failed)?;
        for line in header_block(report) {
            writer.write_record([line]).map_err(failed)?;
        }
        writer.write_record([""]).map_err(failed)?;
        writer
            .write_record(columns.iter().map(|c| crate::workbook::heading(c)))
            .map_err(failed)?;
        for row in rows {
            writer
                .write_record(csv_cells(columns, row, language))
                .map_err(failed)?;
        }
        writer.flush()?;
    }
    Ok(())
}
