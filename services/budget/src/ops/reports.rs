//! Reads over a whole programme, each from one consistent snapshot: the
//! execution report, and the export of its allocations.

use std::ops::RangeInclusive;

use aimaq_error::Error;
use aimaq_records::Records;
use aimaq_storage::paging::Page;
use tokio::sync::mpsc;

use crate::domain::allocation::Allocation;
use crate::domain::program::{Envelope, Program};
use crate::domain::report::{self, Execution, Parts, Quarter};
use crate::store;
use crate::store::report::{Grouping, Scope};

/// Allocations read per query while exporting; the stream holds at most this
/// many and the channel's few.
const EXPORT_BATCH: u64 = 500;
pub const EXPORT_BUFFER: usize = 4;

/// What GetExecutionReport asks, checked: 0 leaves an end of the years to the
/// programme's own; a region groups by its districts.
pub struct ExecutionQuery<'a> {
    pub program_code: &'a str,
    pub from_year: i32,
    pub to_year: i32,
    pub region: Option<String>,
    /// For the state at a quarter's end; the whole year when `None`.
    pub quarter: Option<Quarter>,
}

/// The years a query covers: 0 leaves an end to the programme's own.
pub fn years_of(query: &ExecutionQuery<'_>, program: &Program) -> RangeInclusive<i32> {
    let or = |year: i32, default: i32| if year == 0 { default } else { year };
    or(query.from_year, program.first_year)..=or(query.to_year, program.last_year)
}

/// The programme, its envelopes in range, and the report.
pub async fn execution(
    records: &Records,
    query: &ExecutionQuery<'_>,
) -> Result<(Program, Vec<Envelope>, Execution), Error> {
    let snapshot = records.database().begin_snapshot().await?;
    let program = store::program::get(&snapshot, query.program_code).await?;
    let years = years_of(query, &program);
    let scope = Scope {
        program: &program.code,
        from_year: *years.start(),
        to_year: *years.end(),
        grouping: match &query.region {
            Some(region) => Grouping::DistrictOf(region),
            None => Grouping::Region,
        },
    };
    let envelopes = store::program::envelopes_of(&snapshot, &program.code)
        .await?
        .into_iter()
        .filter(|e| years.contains(&e.fiscal_year))
        .collect();
    let allocations = store::report::allocations(&snapshot, scope).await?;
    let counts = store::report::status_counts(&snapshot, scope).await?;
    let coverage = store::report::coverage(&snapshot, scope).await?;
    let payments = match query.quarter {
        Some(_) => store::report::payments(&snapshot, scope).await?,
        None => Vec::new(),
    };
    snapshot.commit().await?;
    let execution = report::execution(Parts {
        allocations: &allocations,
        counts: &counts,
        coverage: &coverage,
        quarter: query.quarter.map(|quarter| (quarter, payments.as_slice())),
    })?;
    Ok((program, envelopes, execution))
}

/// What ExportAllocations asks, checked.
pub struct ExportQuery {
    pub program_code: String,
    pub years: RangeInclusive<i32>,
    pub kato_prefix: Option<String>,
}

/// Sends the programme's allocations to `sender` (each as `item` makes it),
/// read page by page from one snapshot, so memory stays constant however many
/// there are. Ends quietly when the receiver goes away; an error is the
/// caller's to pass on.
pub async fn export<T>(
    records: &Records,
    query: ExportQuery,
    sender: &mpsc::Sender<T>,
    item: impl Fn(&Allocation) -> T,
) -> Result<(), Error> {
    let snapshot = records.database().begin_snapshot().await?;
    store::program::get(&snapshot, &query.program_code).await?;
    let mut page = Page {
        size: EXPORT_BATCH,
        after: None,
    };
    loop {
        let (rows, next) = store::allocation::list(
            &snapshot,
            &query.program_code,
            query.years.clone(),
            query.kato_prefix.clone(),
            &page,
        )
        .await?;
        page.after = rows.last().map(store::allocation::page_key);
        for row in &rows {
            if sender.send(item(row)).await.is_err() {
                // The caller went away.
                return Ok(());
            }
        }
        if next.is_empty() {
            return Ok(());
        }
    }
}
