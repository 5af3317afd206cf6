//! `aimaq import`: a file's rows sent to the service in batches (or a call a
//! row where the service takes rows one by one). Each batch's `request_id`
//! is derived from the file's bytes and the rows in it, so the same command
//! run again after an interruption resends the same calls, and the service
//! answers the ones it has already applied without applying them twice. Rows
//! the service refuses, and rows that cannot be read, go to
//! `FILE.rejected.csv` with the column and the reason.

mod columns;
mod send;

use std::io::Write;
use std::path::{Path, PathBuf};

use aimaq_types::Language;
use clap::ValueEnum;
use serde_json::json;

use crate::output::Printer;
use crate::progress::Progress;
use crate::sheet::{self, Row};
use crate::{CliError, Connection};
use columns::{Columns, FileKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportKind {
    /// Budget projects, in batches (`ImportProjects`).
    Projects,
    /// Settlements' standards, in batches (`ImportStandardStatuses`).
    StandardStatuses,
    /// Rural districts' revenues, a call a row (`RecordRevenue`).
    Revenues,
    /// Grant applications, a call a row (`SubmitApplication`).
    Applications,
    /// Territories of the classifier, in batches of one stream
    /// (`ImportTerritories`).
    Territories,
}

impl ImportKind {
    fn file_kind(self) -> &'static FileKind {
        match self {
            ImportKind::Projects => &columns::PROJECTS,
            ImportKind::StandardStatuses => &columns::STANDARD_STATUSES,
            ImportKind::Revenues => &columns::REVENUES,
            ImportKind::Applications => &columns::APPLICATIONS,
            ImportKind::Territories => &columns::TERRITORIES,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ImportKind::Projects => "projects",
            ImportKind::StandardStatuses => "standard-statuses",
            ImportKind::Revenues => "revenues",
            ImportKind::Applications => "applications",
            ImportKind::Territories => "territories",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    pub kind: ImportKind,
    /// A `.csv`, `.jsonl` or `.xlsx` file; its first row names the columns.
    pub file: PathBuf,
    /// Rows a batch (for the kinds sent in batches; at most 1000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch: u16,
    /// Check every row with the service's own checks and record nothing:
    /// prints each problem (row, column, what is wrong) and a summary.
    #[arg(long)]
    pub dry_run: bool,
}

/// A row that was not imported: the column concerned (empty for the row as
/// a whole) and why.
pub struct Rejected {
    pub row: Row,
    pub column: String,
    pub reason: String,
}

pub async fn import(
    connection: &Connection,
    printer: &Printer,
    args: &ImportArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let sheet = sheet::read(&args.file)?;
    let kind = args.kind.file_kind();
    let columns = Columns::of(kind, &sheet.columns)
        .map_err(|why| CliError::Usage(format!("{}: {why}", args.file.display())))?;
    let mut rejected = Vec::new();
    let mut ready = Vec::new();
    for row in &sheet.rows {
        match columns.message(row) {
            Ok(message) => ready.push((row.clone(), message)),
            Err((column, reason)) => rejected.push(Rejected {
                row: row.clone(),
                reason: in_language(printer.language, &column, reason),
                column,
            }),
        }
    }
    let progress = Progress::new(Some(sheet.rows.len() as u64), "rows");
    progress.add(rejected.len() as u64);
    let id_base = format!("import-{}-{}", args.kind.name(), &sheet.digest[..16]);
    let sent = send::send(connection, args, &id_base, ready, &progress).await;
    progress.finish();
    let (imported, mut refused) = sent?;
    rejected.append(&mut refused);
    rejected.sort_by_key(|r| r.row.number);
    if args.dry_run {
        return report(printer, &sheet.rows, &rejected, out);
    }
    let rejected_file = rejected_path(&args.file);
    if rejected.is_empty() {
        // What an earlier run rejected has been imported since.
        let _ = std::fs::remove_file(&rejected_file);
    } else {
        write_rejected(&rejected_file, &sheet.columns, &rejected)?;
    }
    let summary = json!({
        "file": args.file.display().to_string(),
        "rows": sheet.rows.len(),
        "imported": imported,
        "rejected": rejected.len(),
        "rejectedFile": if rejected.is_empty() { String::new() } else { rejected_file.display().to_string() },
    });
    printer.one(&summary, out)?;
    match rejected.len() {
        0 => Ok(()),
        count => Err(CliError::Refused(tonic::Status::invalid_argument(format!(
            "{count} of {} rows were not imported: see {}",
            sheet.rows.len(),
            rejected_file.display()
        )))),
    }
}

/// A dry run's report: each problem, then how many rows would be imported.
fn report(
    printer: &Printer,
    rows: &[Row],
    rejected: &[Rejected],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let problems: Vec<_> = rejected
        .iter()
        .map(|r| json!({ "row": r.row.number, "column": r.column, "problem": r.reason }))
        .collect();
    if !problems.is_empty() {
        printer.rows(&problems, out)?;
    }
    let summary = json!({ "rows": rows.len(), "valid": rows.len() - rejected.len(), "problems": rejected.len() });
    printer.one(&summary, out)?;
    match rejected.len() {
        0 => Ok(()),
        count => Err(CliError::Refused(tonic::Status::invalid_argument(format!(
            "{count} of {} rows would not be imported",
            rows.len()
        )))),
    }
}

/// A problem the tool found in a cell: said in the caller's language first,
/// then the English account of what is wrong.
fn in_language(language: Language, column: &str, english: String) -> String {
    match language {
        Language::Ru => format!("Значение в столбце «{column}» не принято ({english})"),
        Language::Kk => format!("«{column}» бағанындағы мән қабылданбады ({english})"),
        Language::En => english,
    }
}

/// `data.csv` → `data.rejected.csv` beside it.
fn rejected_path(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("import");
    file.with_file_name(format!("{stem}.rejected.csv"))
}

fn write_rejected(path: &Path, columns: &[String], rejected: &[Rejected]) -> Result<(), CliError> {
    let failed = |error: csv::Error| CliError::Output(format!("{}: {error}", path.display()));
    let mut writer = csv::Writer::from_path(path).map_err(failed)?;
    let mut header = vec![
        "row".to_string(),
        "column".to_string(),
        "problem".to_string(),
    ];
    header.extend(columns.iter().cloned());
    writer.write_record(&header).map_err(failed)?;
    for one in rejected {
        let mut record = vec![
            one.row.number.to_string(),
            one.column.clone(),
            one.reason.clone(),
        ];
        record.extend(columns::cells_in_order(&one.row, columns));
        writer.write_record(&record).map_err(failed)?;
    }
    writer.flush()?;
    Ok(())
}
