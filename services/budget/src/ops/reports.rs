//! Reads over a whole programme, each from one consistent snapshot: the
//! execution report, and the export of its allocations.

use std::ops::RangeInclusive;

use aimaq_error::Error;
use aimaq_records::Records;
use aimaq_storage::paging::Page;
use tokio::sync::mpsc;

use crate::domain::allocation::Allocation;
use crate::domain::program::{Envelope, Program};
use crate::domain::report::{self, Execution};
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
    pub region: Option<&'a str>,
}

/// The programme, its envelopes in range, and the report.
pub async fn execution(
    records: &Records,
    query: ExecutionQuery<'_>,
) -> Result<(Program, Vec<Envelope>, Execution), Error> {
    let snapshot = records.database().begin_snapshot().await?;
    let program = store::program::get(&snapshot, query.program_code).await?;
    let or = |year: i32, default: i32| if year == 0 { default } else { year };
    let scope = Scope {
        program: &program.code,
        from_year: or(query.from_year, program.first_year),
        to_year: or(query.to_year, program.last_year),
        grouping: match query.region {
            Some(region) => Grouping::DistrictOf(region),
            None => Grouping::Region,
        },
    };
    let years = scope.from_year..=scope.to_year;
    let envelopes = store::program::envelopes_of(&snapshot, &program.code)
        .await?
        .into_iter()
        .filter(|e| years.contains(&e.fiscal_year))
        .collect();
    let allocations = store::report::allocations(&snapshot, scope).await?;
    let counts = store::report::status_counts(&snapshot, scope).await?;
    let coverage = store::report::coverage(&snapshot, scope).await?;
    snapshot.commit().await?;
    let execution = report::execution(&allocations, &counts, &coverage)?;
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
