//! GetExecutionReport and ExportAllocations: reads over a whole programme, each
//! from one consistent snapshot.

use std::collections::BTreeMap;

use aimaq_error::{Error, Violations};
use aimaq_records::Records;
use aimaq_storage::paging::Page;
use aimaq_types::Kato;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use aimaq_proto::budget::v1::*;

use super::allocations::to_proto as allocation_to_proto;
use super::projects::status_to_proto;
use crate::domain::project::ProjectStatus;
use crate::store;
use crate::store::report::{Grouping, Scope};

/// Allocations read per query while exporting; the stream holds at most this
/// many and the channel's few.
const EXPORT_BATCH: u64 = 500;
const EXPORT_BUFFER: usize = 4;

fn add_counts(into: &mut Vec<ProjectStatusCount>, status: i32, count: i64) -> Option<()> {
    match into.iter_mut().find(|c| c.status == status) {
        Some(existing) => existing.count = existing.count.checked_add(count)?,
        None => into.push(ProjectStatusCount { status, count }),
    }
    Some(())
}

/// Adds `row` to `total`; a total past one figure is refused by name.
fn add_row(total: &mut ExecutionRow, row: &ExecutionRow) -> Result<(), Error> {
    let added = (|| {
        total.allocated_tiyn = total.allocated_tiyn.checked_add(row.allocated_tiyn)?;
        total.committed_tiyn = total.committed_tiyn.checked_add(row.committed_tiyn)?;
        total.disbursed_tiyn = total.disbursed_tiyn.checked_add(row.disbursed_tiyn)?;
        total.settlements_covered = total
            .settlements_covered
            .checked_add(row.settlements_covered)?;
        for count in &row.projects {
            add_counts(&mut total.projects, count.status, count.count)?;
        }
        Some(())
    })();
    added.ok_or_else(|| {
        Error::total_overflow(format!(
            "execution/{}/{}",
            row.territory_kato, row.fiscal_year
        ))
    })
}

/// A range of years where 0 leaves an end open.
fn check_years(violations: &mut Violations, from_year: i32, to_year: i32) {
    violations.check(
        from_year == 0 || to_year == 0 || from_year <= to_year,
        "to_year",
        "must not be before from_year",
    );
}

fn row_of<'a>(
    rows: &'a mut BTreeMap<(String, i32), ExecutionRow>,
    territory: &str,
    year: i32,
) -> &'a mut ExecutionRow {
    rows.entry((territory.to_owned(), year))
        .or_insert_with(|| ExecutionRow {
            territory_kato: territory.to_owned(),
            fiscal_year: year,
            ..ExecutionRow::default()
        })
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
    let snapshot = records.database().begin_snapshot().await?;
    let program = store::program::find(&snapshot, &request.program_code)
        .await?
        .ok_or_else(|| Error::not_found("program", format!("programs/{}", request.program_code)))?;
    let scope = Scope {
        program: &program.code,
        from_year: if request.from_year == 0 {
            program.first_year
        } else {
            request.from_year
        },
        to_year: if request.to_year == 0 {
            program.last_year
        } else {
            request.to_year
        },
        grouping: match &region {
            Some(region) => Grouping::DistrictOf(region),
            None => Grouping::Region,
        },
    };
    let years = scope.from_year..=scope.to_year;
    let envelopes = store::program::envelopes_of(&snapshot, &program.code)
        .await?
        .into_iter()
        .filter(|e| years.contains(&e.fiscal_year))
        .map(|e| super::programs::envelope_to_proto(&e))
        .collect();
    let allocations = store::report::allocations(&snapshot, scope).await?;
    let counts = store::report::status_counts(&snapshot, scope).await?;
    let coverage = store::report::coverage(&snapshot, scope).await?;
    snapshot.commit().await?;

    let mut rows: BTreeMap<(String, i32), ExecutionRow> = BTreeMap::new();
    for allocation in &allocations {
        let row = row_of(
            &mut rows,
            &allocation.territory_kato,
            allocation.fiscal_year,
        );
        row.allocated_tiyn = allocation.amount_tiyn;
        row.committed_tiyn = allocation.committed_tiyn;
        row.disbursed_tiyn = allocation.disbursed_tiyn;
    }
    for count in &counts {
        let by_status = [
            (ProjectStatus::Planned, count.planned),
            (ProjectStatus::Approved, count.approved),
            (ProjectStatus::InProgress, count.in_progress),
            (ProjectStatus::Completed, count.completed),
            (ProjectStatus::Cancelled, count.cancelled),
        ];
        if by_status.iter().all(|(_, projects)| *projects == 0) {
            continue;
        }
        let row = row_of(&mut rows, &count.territory, count.fiscal_year);
        for (status, projects) in by_status {
            if projects > 0 {
                add_counts(&mut row.projects, status_to_proto(status) as i32, projects)
                    .ok_or_else(|| Error::total_overflow("project counts"))?;
            }
        }
    }
    for covered in &coverage {
        row_of(&mut rows, &covered.territory, covered.fiscal_year).settlements_covered =
            covered.settlements;
    }
    let mut rows: Vec<ExecutionRow> = rows.into_values().collect();
    let mut totals: BTreeMap<i32, ExecutionRow> = BTreeMap::new();
    for row in &rows {
        let total = totals
            .entry(row.fiscal_year)
            .or_insert_with(|| ExecutionRow {
                fiscal_year: row.fiscal_year,
                ..ExecutionRow::default()
            });
        add_row(total, row)?;
    }
    for row in rows.iter_mut().chain(totals.values_mut()) {
        row.projects.sort_by_key(|c| c.status);
        row.program_code.clone_from(&program.code);
    }
    Ok(GetExecutionReportResponse {
        program_code: program.code,
        envelopes,
        rows,
        totals: totals.into_values().collect(),
    })
}

/// Validates an export's filter and streams its allocations, read page by page
/// from one snapshot, so memory stays constant however many there are.
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
    let (sender, receiver) = mpsc::channel(EXPORT_BUFFER);
    let records = records.clone();
    let program = request.program_code.clone();
    let prefix = (!prefix.is_empty()).then(|| prefix.clone());
    tokio::spawn(async move {
        let pump = async {
            let snapshot = records.database().begin_snapshot().await?;
            if store::program::find(&snapshot, &program).await?.is_none() {
                return Err(Error::not_found("program", format!("programs/{program}")));
            }
            let mut page = Page {
                size: EXPORT_BATCH,
                after: None,
            };
            loop {
                let (rows, next) = store::allocation::list(
                    &snapshot,
                    &program,
                    years.clone(),
                    prefix.clone(),
                    &page,
                )
                .await?;
                for row in &rows {
                    let item = ExportAllocationsResponse {
                        allocation: Some(allocation_to_proto(row)),
                    };
                    if sender.send(Ok(item)).await.is_err() {
                        // The caller went away.
                        return Ok(());
                    }
                }
                if next.is_empty() {
                    return Ok(());
                }
                page.after = rows.last().map(store::allocation::page_key);
            }
        };
        if let Err(error) = pump.await {
            let _ = sender.send(Err(error.into_status())).await;
        }
    });
    Ok(ReceiverStream::new(receiver))
}
