//! GetStatistics and LoadHistoricalAggregate: what the programme granted, by
//! year, region, field and age band, with the published totals of the years
//! before the system went live, marked as such.

use std::collections::BTreeMap;

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::grants::v1::{self as pb, *};
use aimaq_records::{Change, Mutation, Records, within};
use aimaq_types::Kato;
use tonic::Request;

use super::terms::field_to_proto;
use crate::domain::terms::Field;
use crate::store;
use crate::store::statistics::historical;

/// The programme started in 2009.
const FIRST_YEAR: i32 = 2009;
const LAST_YEAR: i32 = 2100;
const SOURCE_MAX_CHARS: usize = 300;

fn age_band_to_proto(band: &str) -> pb::AgeBand {
    match band {
        "under_25" => pb::AgeBand::Under25,
        "25_to_29" => pb::AgeBand::AgeBand25To29,
        "30_to_34" => pb::AgeBand::AgeBand30To34,
        "35_and_over" => pb::AgeBand::AgeBand35AndOver,
        _ => pb::AgeBand::Unspecified,
    }
}

/// Adds `more` to `into`; a total past one figure is refused naming `subject`.
fn add(into: &mut GrantTotals, more: &GrantTotals, subject: &str) -> Result<(), Error> {
    let added = (|| {
        into.allowances = into.allowances.checked_add(more.allowances)?;
        into.allowances_tiyn = into.allowances_tiyn.checked_add(more.allowances_tiyn)?;
        into.loans = into.loans.checked_add(more.loans)?;
        into.loans_tiyn = into.loans_tiyn.checked_add(more.loans_tiyn)?;
        Some(())
    })();
    added.ok_or_else(|| Error::total_overflow(subject))
}

fn historical_totals(row: &historical::Model) -> GrantTotals {
    GrantTotals {
        allowances: row.allowances,
        allowances_tiyn: row.allowances_tiyn,
        loans: row.loans,
        loans_tiyn: row.loans_tiyn,
    }
}

fn historical_row(row: &historical::Model) -> StatisticsRow {
    StatisticsRow {
        year: row.year,
        region_kato: row.region_kato.clone(),
        field: 0,
        age_band: 0,
        totals: Some(historical_totals(row)),
        historical: true,
    }
}

pub async fn statistics(
    records: &Records,
    request: &GetStatisticsRequest,
) -> Result<GetStatisticsResponse, Error> {
    let from = if request.from_year == 0 {
        FIRST_YEAR
    } else {
        request.from_year
    };
    let to = if request.to_year == 0 {
        LAST_YEAR
    } else {
        request.to_year
    };
    let mut violations = Violations::new();
    violations.check(from <= to, "to_year", "must not be before from_year");
    let prefix = violations
        .take(
            "territory_kato",
            Kato::parse_subtree(&request.territory_kato),
        )
        .flatten();
    let mut by = [false; 4];
    for (index, value) in request.group_by.iter().enumerate() {
        match pb::StatisticsDimension::try_from(*value) {
            Ok(pb::StatisticsDimension::Year) => by[0] = true,
            Ok(pb::StatisticsDimension::Region) => by[1] = true,
            Ok(pb::StatisticsDimension::Field) => by[2] = true,
            Ok(pb::StatisticsDimension::AgeBand) => by[3] = true,
            _ => violations.add(format!("group_by[{index}]"), "not a dimension"),
        }
    }
    violations.into_result()?;
    let db = records.database().connection();
    let granted = store::statistics::granted(db, (from, to), prefix.as_deref()).await?;
    let past = store::statistics::historical(db, (from, to), prefix.as_deref()).await?;

    // Rolled up to the dimensions asked for; historical rows keep their own.
    let mut rows: BTreeMap<(i32, String, String, String), GrantTotals> = BTreeMap::new();
    let mut totals = GrantTotals::default();
    for row in &granted {
        let key = (
            if by[0] { row.year } else { 0 },
            if by[1] {
                row.region_kato.clone()
            } else {
                String::new()
            },
            if by[2] {
                row.field.clone()
            } else {
                String::new()
            },
            if by[3] {
                row.age_band.clone()
            } else {
                String::new()
            },
        );
        let these = GrantTotals {
            allowances: row.allowances,
            allowances_tiyn: row.allowances_tiyn,
            loans: row.loans,
            loans_tiyn: row.loans_tiyn,
        };
        add(rows.entry(key).or_default(), &these, "statistics")?;
        add(&mut totals, &these, "statistics")?;
    }
    let mut out: Vec<StatisticsRow> = rows
        .into_iter()
        .map(|((year, region, field, band), totals)| StatisticsRow {
            year,
            region_kato: region,
            field: Field::parse(&field).map_or(0, |f| field_to_proto(f) as i32),
            age_band: age_band_to_proto(&band) as i32,
            totals: Some(totals),
            historical: false,
        })
        .collect();
    for row in &past {
        add(&mut totals, &historical_totals(row), "statistics")?;
        out.push(historical_row(row));
    }
    out.sort_by_key(|r| r.year);

    // National totals since 2009: every grant, and the national published totals.
    let mut national = GrantTotals::default();
    for row in store::statistics::granted(db, (FIRST_YEAR, LAST_YEAR), None).await? {
        add(
            &mut national,
            &GrantTotals {
                allowances: row.allowances,
                allowances_tiyn: row.allowances_tiyn,
                loans: row.loans,
                loans_tiyn: row.loans_tiyn,
            },
            "statistics/national",
        )?;
    }
    for row in store::statistics::historical(db, (FIRST_YEAR, LAST_YEAR), None).await? {
        add(
            &mut national,
            &historical_totals(&row),
            "statistics/national",
        )?;
    }
    Ok(GetStatisticsResponse {
        rows: out,
        totals: Some(totals),
        national_since_2009: Some(national),
    })
}

pub async fn load_historical(
    records: &Records,
    request: &Request<LoadHistoricalAggregateRequest>,
) -> Result<LoadHistoricalAggregateResponse, Error> {
    Caller::of(request)?.require_national(Scope::GrantsWrite, "historical aggregates")?;
    let body = request.get_ref();
    let mut violations = Violations::new();
    violations.check(
        (FIRST_YEAR..=LAST_YEAR).contains(&body.year),
        "year",
        format!("from {FIRST_YEAR}"),
    );
    let region = if body.region_kato.is_empty() {
        Some(String::new())
    } else {
        let region = violations.take("region_kato", Kato::parse(&body.region_kato));
        violations.check(
            region.is_none_or(|r| r.level() == 1),
            "region_kato",
            "a region (top level), or empty for the country",
        );
        region.map(|r| r.to_string())
    };
    let totals = body.totals.unwrap_or_default();
    for (field, value) in [
        ("totals.allowances", totals.allowances),
        ("totals.loans", totals.loans),
    ] {
        violations.take(field, aimaq_types::bounds::people(value));
    }
    for (field, value) in [
        ("totals.allowances_tiyn", totals.allowances_tiyn),
        ("totals.loans_tiyn", totals.loans_tiyn),
    ] {
        violations.check(value >= 0, field, "must not be negative");
    }
    violations.check(
        !body.source.trim().is_empty(),
        "source",
        "required: the publication",
    );
    violations.check(
        body.source.chars().count() <= SOURCE_MAX_CHARS,
        "source",
        format!("at most {SOURCE_MAX_CHARS} characters"),
    );
    let region = violations.then(|| region)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let region = &region;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let name = format!("historical-aggregates/{}/{}", body.year, if region.is_empty() { "national" } else { region });
                // Published totals stand for years the system did not record.
                if store::statistics::granted_in(tx, body.year, region).await? {
                    return Err(Error::precondition(
                        "RECORDED_YEAR",
                        &name,
                        format!("{} already has grants recorded in the system; aggregates are for earlier years", body.year),
                    ));
                }
                let current = store::statistics::historical_for_update(tx, body.year, region).await?;
                let model = historical::Model {
                    year: body.year,
                    region_kato: region.clone(),
                    allowances: totals.allowances,
                    allowances_tiyn: totals.allowances_tiyn,
                    loans: totals.loans,
                    loans_tiyn: totals.loans_tiyn,
                    source: body.source.trim().to_owned(),
                    version: current.as_ref().map_or(0, |c| c.version) + 1,
                };
                aimaq_storage::save(tx, historical::ActiveModel::from(model.clone()), current.is_none())
                    .await?;
                Ok((
                    LoadHistoricalAggregateResponse {
                        row: Some(historical_row(&model)),
                    },
                    vec![Change::versioned("historical_aggregate", name, model.version)],
                ))
            })
        })
        .await
}
