//! GetExecutionReport and ExportAllocations: reads over a whole programme.

use aimaq_error::{Error, Violations};
use aimaq_records::Records;
use aimaq_types::Kato;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use aimaq_proto::budget::v1::*;

use super::allocations::to_proto as allocation_to_proto;
use super::programs::envelope_to_proto;
use super::projects::status_to_proto;
use crate::domain::project::ProjectStatus;
use crate::domain::report::Row;
use crate::ops;
use crate::ops::reports::{EXPORT_BUFFER, ExecutionQuery, ExportQuery};

/// A range of years where 0 leaves an end open.
fn check_years(violations: &mut Violations, from_year: i32, to_year: i32) {
    violations.check(
        from_year == 0 || to_year == 0 || from_year <= to_year,
        "to_year",
        "must not be before from_year",
    );
}

fn row_to_proto(program: &str, row: &Row) -> ExecutionRow {
    ExecutionRow {
        program_code: program.to_owned(),
        territory_kato: row.territory.clone(),
        fiscal_year: row.fiscal_year,
        allocated_tiyn: row.allocated.tiyn(),
        committed_tiyn: row.committed.tiyn(),
        disbursed_tiyn: row.disbursed.tiyn(),
        settlements_covered: row.settlements_covered,
        // In the order of the status values: the counts' own order.
        projects: ProjectStatus::ALL
            .into_iter()
            .zip(row.projects)
            .filter(|(_, count)| *count > 0)
            .map(|(status, count)| ProjectStatusCount {
                status: status_to_proto(status) as i32,
                count,
            })
            .collect(),
    }
}

pub async fn execution(
    records: &Records,
    request: &GetExecutionReportRequest,
) -> Result<GetExecutionReportResponse, Error> {
    let mut violations = Violations::new();
    violations.check(!request.program_code.is_empty(), "program_code", "required");
    check_years(&mut violations, request.from_year, request.to_year);
    let grouping = ReportGrouping::try_from(request.grouping).ok();
    violations.check(grouping.is_some(), "grouping", "not a report grouping");
    let region = match grouping {
        Some(ReportGrouping::District) => {
            let region = violations.take("territory_kato", Kato::parse(&request.territory_kato));
            violations.check(
                region.is_none_or(|r| r.level() == 1),
                "territory_kato",
                "district grouping needs a region",
            );
            region.map(|r| r.to_string())
        }
        _ => None,
    };
    violations.into_result()?;
    let query = ExecutionQuery {
        program_code: &request.program_code,
        from_year: request.from_year,
        to_year: request.to_year,
        region: region.as_deref(),
    };
    let (program, envelopes, report) = ops::reports::execution(records, query).await?;
    let code = &program.code;
    Ok(GetExecutionReportResponse {
        program_code: code.clone(),
        envelopes: envelopes.iter().map(envelope_to_proto).collect(),
        rows: report
            .rows
            .iter()
            .map(|row| row_to_proto(code, row))
            .collect(),
        totals: report
            .totals
            .iter()
            .map(|row| row_to_proto(code, row))
            .collect(),
    })
}

/// Validates an export's filter and streams its allocations.
pub fn export(
    records: &Records,
    request: &ExportAllocationsRequest,
) -> Result<ReceiverStream<Result<ExportAllocationsResponse, Status>>, Error> {
    let mut violations = Violations::new();
    violations.check(!request.program_code.is_empty(), "program_code", "required");
    check_years(&mut violations, request.from_year, request.to_year);
    let prefix = &request.kato_prefix;
    violations.check(
        prefix.len() <= Kato::DIGITS && prefix.bytes().all(|b| b.is_ascii_digit()),
        "kato_prefix",
        "up to 9 digits",
    );
    violations.into_result()?;
    let years = match (request.from_year, request.to_year) {
        (0, 0) => i32::MIN..=i32::MAX,
        (from, 0) => from..=i32::MAX,
        (0, to) => i32::MIN..=to,
        (from, to) => from..=to,
    };
    let query = ExportQuery {
        program_code: request.program_code.clone(),
        years,
        kato_prefix: (!prefix.is_empty()).then(|| prefix.clone()),
    };
    let (sender, receiver) = mpsc::channel(EXPORT_BUFFER);
    let records = records.clone();
    tokio::spawn(async move {
        let item = |allocation: &_| {
            Ok(ExportAllocationsResponse {
                allocation: Some(allocation_to_proto(allocation)),
            })
        };
        if let Err(error) = ops::reports::export(&records, query, &sender, item).await {
            let _ = sender.send(Err(error.into_status())).await;
        }
    });
    Ok(ReceiverStream::new(receiver))
}
