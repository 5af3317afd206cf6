//! Rural-district budgets: revenue records and their summary, and development
//! indicators.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, next_version, within};
use aimaq_storage::paging::Page;
use aimaq_types::Kato;

use crate::domain::local_budget::{RevenueSource, RevenueSummary, summarize};
use crate::domain::territory::{Territory, TerritoryKind};
use crate::store;
use crate::store::local_budget::{indicator_name, indicators, revenue_name, revenues};

/// RecordRevenue, checked.
pub struct Revenue {
    pub territory: Kato,
    pub fiscal_year: i32,
    pub source: RevenueSource,
    pub amount_tiyn: i64,
    pub note: String,
}

/// Records revenue of a rural district; answers with the stored record.
pub async fn record_revenue<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Revenue,
    answer: impl Fn(&revenues::Model) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let territory = asked.territory;
                let place = store::territory::require(tx, territory).await?;
                if place.draft.kind != TerritoryKind::RuralDistrict {
                    return Err(Error::invalid(
                        "territory_kato",
                        format!(
                            "revenue is recorded for rural districts; {territory} is a {}",
                            place.draft.kind.as_str()
                        ),
                    ));
                }
                if !place.draft.validity.covers_year(asked.fiscal_year) {
                    return Err(Error::invalid(
                        "fiscal_year",
                        format!(
                            "{territory} did not exist in {} under this code",
                            asked.fiscal_year
                        ),
                    ));
                }
                let row = revenues::Model {
                    id: 0,
                    territory_kato: territory.to_string(),
                    fiscal_year: asked.fiscal_year,
                    source: asked.source.as_str().to_owned(),
                    amount_tiyn: asked.amount_tiyn,
                    note: asked.note.clone(),
                    recorded_at_micros: chrono::Utc::now().timestamp_micros(),
                };
                let saved = store::local_budget::insert_revenue(tx, row).await?;
                let created = Change {
                    resource_type: "revenue",
                    resource_name: revenue_name(saved.id),
                    action: ChangeAction::Created,
                    version: 1,
                    resource: None,
                };
                Ok((answer(&saved), vec![created]))
            })
        })
        .await
}

/// The code prefix of a territory and its subtree; empty for the country.
fn subtree_prefix(territory: Option<Kato>) -> String {
    territory.map_or_else(String::new, |territory| {
        territory
            .descendant_prefix()
            .unwrap_or_else(|| territory.to_string())
    })
}

/// The revenue summary of a territory and its subtree (none: the country)
/// over the years, and how many rural districts it counts.
pub async fn revenue_summary(
    records: &Records,
    territory: Option<Kato>,
    (from_year, to_year): (i32, i32),
) -> Result<(RevenueSummary, u64), Error> {
    let place = match territory {
        Some(territory) => {
            Some(store::territory::require(records.database().connection(), territory).await?)
        }
        None => None,
    };
    revenue_of(records, place.as_ref(), (from_year, to_year)).await
}

/// As [`revenue_summary`], of a territory already read (none: the country).
pub async fn revenue_of(
    records: &Records,
    place: Option<&Territory>,
    (from_year, to_year): (i32, i32),
) -> Result<(RevenueSummary, u64), Error> {
    let territory = place.map(|p| p.draft.kato);
    if let Some(place) = place
        && let Some(year) = place
            .draft
            .validity
            .first_year_missing((from_year, to_year))
    {
        return Err(Error::invalid(
            "territory_kato",
            format!(
                "{} did not exist under this code in {year}: report on the years it existed",
                place.draft.kato
            ),
        ));
    }
    let db = records.database().connection();
    let prefix = subtree_prefix(territory);
    let (rows, counted) = tokio::try_join!(
        store::local_budget::revenue_by_year_and_source(db, &prefix, from_year, to_year),
        store::local_budget::revenue_territories(db, &prefix, from_year, to_year),
    )?;
    Ok((summarize(&rows, from_year, to_year)?, counted))
}

/// One rural district's budget over the years of a report.
pub struct RuralBudget {
    pub territory: Territory,
    pub summary: RevenueSummary,
}

/// The rural district budget report: a page of the territories of the subtree
/// with revenue in the years, each summarised, and the whole subtree's
/// summary (GetRevenueSummary's).
pub async fn rural_budget_report(
    records: &Records,
    territory: Option<Kato>,
    years: (i32, i32),
    page: &Page,
) -> Result<(Vec<RuralBudget>, RevenueSummary, String), Error> {
    let (totals, _) = revenue_summary(records, territory, years).await?;
    let db = records.database().connection();
    let prefix = subtree_prefix(territory);
    let (codes, next) =
        store::local_budget::revenue_territory_page(db, &prefix, years, page).await?;
    let mut by_territory: std::collections::BTreeMap<String, Vec<(i32, RevenueSource, i64)>> =
        std::collections::BTreeMap::new();
    for (kato, year, source, amount) in
        store::local_budget::revenue_of_territories(db, &codes, years).await?
    {
        by_territory
            .entry(kato)
            .or_default()
            .push((year, source, amount));
    }
    let mut report = Vec::with_capacity(codes.len());
    for territory in store::territory::find_many(db, &codes).await? {
        let own = by_territory
            .remove(&territory.draft.kato.to_string())
            .unwrap_or_default();
        let summary = summarize(&own, years.0, years.1)?;
        report.push(RuralBudget { territory, summary });
    }
    Ok((report, totals, next))
}

/// RecordIndicator, checked: kinds and figures by their stored names.
pub struct Indicator {
    /// None for the republic as a whole.
    pub territory: Option<Kato>,
    pub kind: &'static str,
    pub figure: &'static str,
    pub year: i32,
    pub value_bp: i64,
    pub source: String,
    pub expected_version: i64,
}

pub async fn record_indicator<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Indicator,
    answer: impl Fn(&indicators::Model) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                if let Some(territory) = asked.territory {
                    store::territory::require(tx, territory).await?;
                }
                let code = asked.territory.map(|t| t.to_string()).unwrap_or_default();
                let (kind, figure, year) = (asked.kind, asked.figure, asked.year);
                let name = indicator_name(&code, kind, figure, year);
                let current =
                    store::local_budget::find_indicator(tx, (&code, kind, figure, year)).await?;
                let version = next_version(
                    "indicator",
                    &name,
                    current.as_ref().map(|c| c.version),
                    asked.expected_version,
                )?;
                let model = indicators::Model {
                    territory_kato: code,
                    kind: kind.to_owned(),
                    figure: figure.to_owned(),
                    year,
                    value_bp: asked.value_bp,
                    source: asked.source.clone(),
                    version,
                };
                store::local_budget::save_indicator(tx, model.clone(), current.is_none()).await?;
                let changed = Change::versioned("indicator", name, version);
                Ok((answer(&model), vec![changed]))
            })
        })
        .await
}

/// A page of a territory's (or, with none, the republic's) indicators of
/// `kinds` (any when empty) in the years, by kind, year and figure.
pub async fn list_indicators(
    records: &Records,
    territory: Option<Kato>,
    kinds: &[&str],
    years: (Option<i32>, Option<i32>),
    page: &Page,
) -> Result<(Vec<indicators::Model>, String), Error> {
    let rows = store::local_budget::list_indicators(
        records.database().connection(),
        &territory.map(|t| t.to_string()).unwrap_or_default(),
        kinds,
        years.0,
        years.1,
    )
    .await?;
    // A territory has few indicators: page over the ordered list in memory.
    let key = |m: &indicators::Model| format!("{}|{:04}|{}", m.kind, m.year, m.figure);
    let rows: Vec<indicators::Model> = rows
        .into_iter()
        .filter(|m| page.after.as_ref().is_none_or(|after| key(m) > *after))
        .take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX))
        .collect();
    Ok(page.finish(rows, key))
}
