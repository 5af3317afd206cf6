//! What the programme granted, and the published totals of earlier years.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, Mutation, Records, within};

use crate::domain::annual_report::{AnnualRow, sum_by_region};
use crate::domain::application::Quota;
use crate::domain::statistics::{
    Dimensions, FIRST_YEAR, Granted, Historical, LAST_YEAR, Totals, may_hold_published, roll_up,
};
use crate::store::statistics::{self as store, historical_name};

/// Statistics for `years` under a KATO prefix: the granted rows rolled up to
/// `by`, the historical rows as published, their total, and the national
/// total since the programme began.
pub struct Statistics {
    pub granted: Vec<Granted>,
    pub historical: Vec<Historical>,
    pub total: Totals,
    pub national: Totals,
}

pub async fn statistics(
    records: &Records,
    years: (i32, i32),
    prefix: Option<&str>,
    by: Dimensions,
) -> Result<Statistics, Error> {
    let db = records.database().connection();
    // The reads are independent: asked at once, the answer waits for the
    // slowest rather than for their sum. Below a region nothing was published.
    let published = async {
        match may_hold_published(prefix) {
            true => store::historical(db, years, prefix).await,
            false => Ok(Vec::new()),
        }
    };
    let (granted, historical, national) = tokio::try_join!(
        store::granted(db, years, prefix, by.region),
        published,
        // Since 2009: every grant, and the national published totals.
        store::national(db, (FIRST_YEAR, LAST_YEAR)),
    )?;
    let (granted, mut total) = roll_up(&granted, by)?;
    for row in &historical {
        total.add(&row.totals, "statistics")?;
    }
    Ok(Statistics {
        granted,
        historical,
        total,
        national,
    })
}

/// Stores published totals for a year the system did not record (its version
/// set here).
pub async fn load_historical<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    aggregate: &Historical,
    answer: impl Fn(&Historical) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let (year, region) = (aggregate.year, aggregate.region_kato.as_str());
                let name = historical_name(year, region);
                // Published totals stand for years the system did not record.
                if store::granted_in(tx, year, region).await? {
                    return Err(Error::precondition(
                        "RECORDED_YEAR",
                        &name,
                        format!("{year} already has grants recorded in the system; aggregates are for earlier years"),
                    ));
                }
                let current = store::historical_for_update(tx, year, region).await?;
                let aggregate = Historical {
                    version: current.as_ref().map_or(0, |c| c.version) + 1,
                    ..aggregate.clone()
                };
                store::save_historical(tx, &aggregate, current.is_none()).await?;
                let changed = Change::versioned("historical_aggregate", name, aggregate.version);
                Ok((answer(&aggregate), vec![changed]))
            })
        })
        .await
}

/// The programme's annual report of `year` under a KATO prefix: rows by region
/// and field, each region's sum beside its quota, and the report's total.
pub struct AnnualReport {
    pub rows: Vec<AnnualRow>,
    pub regions: Vec<(AnnualRow, Option<Quota>)>,
    pub total: AnnualRow,
}

pub async fn annual_report(
    records: &Records,
    year: i32,
    prefix: Option<&str>,
) -> Result<AnnualReport, Error> {
    let db = records.database().connection();
    let rows = crate::store::annual_report::decided(db, year, prefix).await?;
    let quotas = crate::store::annual_report::quotas_of(db, year, prefix).await?;
    let (mut sums, total) = sum_by_region(&rows)?;
    // A region with a quota and no decision yet is in the report too.
    for quota in &quotas {
        let region = quota.region.to_string();
        sums.entry(region.clone()).or_insert_with(|| AnnualRow {
            region_kato: region,
            ..AnnualRow::default()
        });
    }
    let regions = sums
        .into_values()
        .map(|sum| {
            let quota = quotas
                .iter()
                .find(|q| q.region.to_string() == sum.region_kato)
                .cloned();
            (sum, quota)
        })
        .collect();
    Ok(AnnualReport {
        rows,
        regions,
        total,
    })
}
