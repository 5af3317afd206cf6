//! `aimaq export`: allocations, projects or applications of a programme, a
//! year and a territory's subtree, written as they are read (CSV, JSON lines)
//! or into a workbook (`.xlsx`: a header row frozen, money as numbers in
//! tenge with the tenge format), with progress on standard error.

use std::io::Write;
use std::path::PathBuf;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::{ExportAllocationsRequest, ListProjectsRequest};
use aimaq_proto::grants::v1::ListApplicationsRequest;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_types::Language;
use clap::ValueEnum;
use serde_json::Value;

use crate::output::{descriptor, to_json};
use crate::progress::Progress;
use crate::resources::{each_page, jsons};
use crate::workbook::{csv_cells, heading, headings, write_row, xlsx_error};
use crate::{CliError, Connection};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportKind {
    Allocations,
    Projects,
    Applications,
    /// A service's audit records (`--service`).
    Audit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Csv,
    Jsonl,
    Xlsx,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    pub kind: ExportKind,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FileFormat,
    /// The file to write (standard output for CSV and JSON lines when absent).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Of this programme (allocations, projects).
    #[arg(long)]
    pub program: Option<String>,
    /// Of this year.
    #[arg(long)]
    pub year: Option<i32>,
    /// Within this territory's subtree (a KATO code).
    #[arg(long)]
    pub territory: Option<String>,
    /// Of this service (the audit log).
    #[arg(long, value_enum)]
    pub service: Option<crate::args::Service>,
}

/// Where rows go as they come.
enum Sink<'a> {
    Lines(&'a mut dyn Write),
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
    Workbook(Box<rust_xlsxwriter::Workbook>, u32),
}

pub async fn export(
    connection: &Connection,
    language: Language,
    args: &ExportArgs,
    stdout: &mut dyn Write,
) -> Result<(), CliError> {
    let mut file;
    let out: &mut dyn Write = match (&args.file, args.format) {
        (None, FileFormat::Xlsx) => {
            return Err(CliError::Usage("a workbook needs --file FILE.xlsx".into()));
        }
        (None, _) => stdout,
        // A workbook is written whole at the end; its file is made now, so
        // that a path that cannot be written fails before anything is read.
        (Some(path), _) => {
            file = std::fs::File::create(path)
                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
            &mut file
        }
    };
    let columns = columns(args.kind)?;
    let mut sink = Sink::open(args.format, out, &columns)?;
    let progress = Progress::new(None, "rows");
    let mut write = |row: Value| -> Result<(), CliError> {
        sink.row(&columns, &row, language)?;
        progress.add(1);
        Ok(())
    };
    let read = match args.kind {
        ExportKind::Allocations => allocations(connection, args, &mut write).await,
        ExportKind::Projects => projects(connection, args, &mut write).await,
        ExportKind::Applications => applications(connection, args, &mut write).await,
        ExportKind::Audit => audit(connection, args, &mut write).await,
    };
    progress.finish();
    read?;
    sink.close(args.file.as_ref())
}

/// The fields of the exported message, by their JSON names, in proto order.
fn columns(kind: ExportKind) -> Result<Vec<String>, CliError> {
    let name = match kind {
        ExportKind::Allocations => "aimaq.budget.v1.Allocation",
        ExportKind::Projects => "aimaq.budget.v1.Project",
        ExportKind::Applications => "aimaq.grants.v1.Application",
        ExportKind::Audit => "aimaq.common.v1.AuditRecord",
    };
    let message = descriptor(name)?;
    Ok(message
        .fields()
        .map(|f| f.json_name().to_string())
        .collect())
}

impl<'a> Sink<'a> {
    fn open(
        format: FileFormat,
        out: &'a mut dyn Write,
        columns: &[String],
    ) -> Result<Sink<'a>, CliError> {
        Ok(match format {
            FileFormat::Jsonl => Sink::Lines(out),
            FileFormat::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer
                    .write_record(columns.iter().map(|c| heading(c)))
                    .map_err(|e| CliError::Output(e.to_string()))?;
                Sink::Csv(Box::new(writer))
            }
            FileFormat::Xlsx => {
                let mut workbook = Box::new(rust_xlsxwriter::Workbook::new());
                headings(workbook.add_worksheet(), 0, columns)?;
                Sink::Workbook(workbook, 1)
            }
        })
    }

    fn row(&mut self, columns: &[String], row: &Value, language: Language) -> Result<(), CliError> {
        match self {
            Sink::Lines(out) => writeln!(out, "{row}")?,
            Sink::Csv(writer) => writer
                .write_record(csv_cells(columns, row, language))
                .map_err(|e| CliError::Output(e.to_string()))?,
            Sink::Workbook(workbook, next) => {
                let sheet = workbook.worksheet_from_index(0).map_err(xlsx_error)?;
                write_row(sheet, *next, columns, row, language)?;
                *next += 1;
            }
        }
        Ok(())
    }

    fn close(self, path: Option<&PathBuf>) -> Result<(), CliError> {
        match self {
            Sink::Lines(out) => out.flush()?,
            Sink::Csv(mut writer) => writer.flush()?,
            Sink::Workbook(mut workbook, _) => {
                let path = path.ok_or_else(|| CliError::Usage("a workbook needs --file".into()))?;
                workbook.save(path).map_err(xlsx_error)?;
            }
        }
        Ok(())
    }
}

/// Rows asked per page of a list.
const PAGE_SIZE: i32 = 1000;

type Write1<'w> = &'w mut dyn FnMut(Value) -> Result<(), CliError>;

async fn allocations(
    connection: &Connection,
    args: &ExportArgs,
    write: Write1<'_>,
) -> Result<(), CliError> {
    let year = args.year.unwrap_or_default();
    let request = connection.stream_request(ExportAllocationsRequest {
        program_code: args.program.clone().unwrap_or_default(),
        from_year: year,
        to_year: year,
        kato_prefix: args.territory.clone().unwrap_or_default(),
    })?;
    let failed = |status| CliError::of_call(connection, status);
    let mut stream = BudgetServiceClient::new(connection.channel.clone())
        .export_allocations(request)
        .await
        .map_err(failed)?
        .into_inner();
    while let Some(message) = stream.message().await.map_err(failed)? {
        if let Some(allocation) = message.allocation {
            write(to_json(&allocation)?)?;
        }
    }
    Ok(())
}

async fn projects(
    connection: &Connection,
    args: &ExportArgs,
    write: Write1<'_>,
) -> Result<(), CliError> {
    let client = BudgetServiceClient::new(connection.channel.clone());
    let page = |page_token| {
        let request = connection.request(ListProjectsRequest {
            program_code: args.program.clone().unwrap_or_default(),
            fiscal_year: args.year.unwrap_or_default(),
            territory_kato: args.territory.clone().unwrap_or_default(),
            page_size: PAGE_SIZE,
            page_token,
            ..Default::default()
        });
        let mut client = client.clone();
        async move {
            let answer = client.list_projects(request?).await;
            let answer = answer.map_err(|status| CliError::of_call(connection, status))?;
            let answer = answer.into_inner();
            Ok((jsons(&answer.projects)?, answer.next_page_token))
        }
    };
    each_page(page, |rows| rows.into_iter().try_for_each(&mut *write)).await
}

async fn applications(
    connection: &Connection,
    args: &ExportArgs,
    write: Write1<'_>,
) -> Result<(), CliError> {
    let client = GrantsServiceClient::new(connection.channel.clone());
    let page = |page_token| {
        let request = connection.request(ListApplicationsRequest {
            territory_kato: args.territory.clone().unwrap_or_default(),
            year: args.year.unwrap_or_default(),
            page_size: PAGE_SIZE,
            page_token,
            ..Default::default()
        });
        let mut client = client.clone();
        async move {
            let answer = client.list_applications(request?).await;
            let answer = answer.map_err(|status| CliError::of_call(connection, status))?;
            let answer = answer.into_inner();
            Ok((jsons(&answer.applications)?, answer.next_page_token))
        }
    };
    each_page(page, |rows| rows.into_iter().try_for_each(&mut *write)).await
}

async fn audit(
    connection: &Connection,
    args: &ExportArgs,
    write: Write1<'_>,
) -> Result<(), CliError> {
    let service = args
        .service
        .ok_or_else(|| CliError::Usage("the audit log of which service: give --service".into()))?;
    let filter = crate::feed::AuditFilter {
        service,
        actor: String::new(),
        resource_type: String::new(),
        resource: String::new(),
    };
    let mut after = 0;
    loop {
        let (rows, next) = crate::feed::audit_page(connection, &filter, after, PAGE_SIZE).await?;
        rows.into_iter().try_for_each(&mut *write)?;
        if next == 0 {
            return Ok(());
        }
        after = next;
    }
}
