//! GetExecutionReport and ExportAllocations: reads over a whole programme.

use std::collections::HashMap;

use aimaq_auth::OnBehalf;
use aimaq_error::{Error, Violations};
use aimaq_proto::common::v1::LocalizedText;
use aimaq_records::Records;
use aimaq_territories::TerritoryDirectory;
use aimaq_types::Kato;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use aimaq_proto::budget::v1::*;

use super::allocations::to_proto as allocation_to_proto;
use super::programs::envelope_to_proto;
use super::projects::status_to_proto;
use crate::domain::project::ProjectStatus;
use crate::domain::report::{Quarter, Row};
use crate::ops;
use crate::ops::reports::{EXPORT_BUFFER, ExecutionQuery, ExportQuery, years_of};

/// A range of years where 0 leaves an end open.
fn check_years(violations: &mut Violations, from_year: i32, to_year: i32) {
    violations.check(
        from_year == 0 || to_year == 0 || from_year <= to_year,
        "to_year",
        "must not be before from_year",
    );
}

/// A row in the proto's columns; `names` holds the rows' territories' names.
fn row_to_proto(program: &str, row: &Row, names: &HashMap<String, LocalizedText>) -> ExecutionRow {
    ExecutionRow {
        program_code: program.to_owned(),
        territory_kato: row.territory.clone(),
        territory_name: names.get(&row.territory).cloned(),
        fiscal_year: row.fiscal_year,
        approved_plan_tiyn: row.approved.tiyn(),
        // Tenths of a percent are exact in a double to one decimal.
        spend_rate_percent: row.spend_rate_tenths() as f64 / 10.0,
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

/// The names of the rows' territories, asked of governance on the caller's
/// behalf (and remembered by the directory).
async fn names_of(
    directory: &TerritoryDirectory,
    caller: &OnBehalf,
    rows: &[Row],
) -> Result<HashMap<String, LocalizedText>, Error> {
    let mut names = HashMap::new();
    for row in rows {
        if names.contains_key(&row.territory) {
            continue;
        }
        let kato = Kato::parse(&row.territory).map_err(Error::internal)?;
        let facts = directory.facts(kato, caller).await?;
        names.insert(row.territory.clone(), facts.name);
    }
    Ok(names)
}

/// A district report is of a region that existed under its code in every
/// year it covers: before, its districts' money was another region's.
async fn require_region_in(
    directory: &TerritoryDirectory,
    caller: &OnBehalf,
    region: &str,
    years: std::ops::RangeInclusive<i32>,
) -> Result<(), Error> {
    let kato = Kato::parse(region).map_err(Error::internal)?;
    let facts = directory.facts(kato, caller).await?;
    if let Some(year) = years.clone().find(|year| !facts.existed_in(*year)) {
        return Err(Error::invalid(
            "territory_kato",
            format!(
                "{kato} did not exist under this code in {year}: report on the years it existed, or on the region that held its districts then"
            ),
        ));
    }
    Ok(())
}

/// The request's fields, checked.
fn execution_query(request: &GetExecutionReportRequest) -> Result<ExecutionQuery<'_>, Error> {
    let mut violations = Violations::new();
    violations.check(!request.program_code.is_empty(), "program_code", "required");
    check_years(&mut violations, request.from_year, request.to_year);
    let grouping = ReportGrouping::try_from(request.grouping).ok();
    violations.check(grouping.is_some(), "grouping", "not a report grouping");
    let quarter = violations.take("quarter", Quarter::from_number(request.quarter));
    let region = match grouping {
        Some(ReportGrouping::District) => {
            let region = violations.take("territory_kato", Kato::parse(&request.territory_kato));
            violations.check(
                region.is_none_or(|r| r.level() == 1),
                "territory_kato",
                "district grouping needs a region",
            );
            region
        }
        _ => None,
    };
    violations.into_result()?;
    Ok(ExecutionQuery {
        program_code: &request.program_code,
        from_year: request.from_year,
        to_year: request.to_year,
        region: region.map(|r| r.to_string()),
        quarter: quarter.flatten(),
    })
}

pub async fn execution(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &tonic::Request<GetExecutionReportRequest>,
) -> Result<GetExecutionReportResponse, Error> {
    let query = execution_query(request.get_ref())?;
    let caller = OnBehalf::of(request)?;
    let (program, envelopes, report) = ops::reports::execution(records, &query).await?;
    if let Some(region) = &query.region {
        require_region_in(directory, &caller, region, years_of(&query, &program)).await?;
    }
    let names = names_of(directory, &caller, &report.rows).await?;
    let code = &program.code;
    let to_proto = |row: &Row| row_to_proto(code, row, &names);
    Ok(GetExecutionReportResponse {
        program_code: code.clone(),
        envelopes: envelopes.iter().map(envelope_to_proto).collect(),
        rows: report.rows.iter().map(to_proto).collect(),
        totals: report.totals.iter().map(to_proto).collect(),
        budget_code: program.budget_code.clone(),
        budget_code_source: program.budget_code_source.clone(),
        quarter: query.quarter.map_or(0, Quarter::number),
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
