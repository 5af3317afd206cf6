//! GetStatistics and LoadHistoricalAggregate: what the programme granted, by
//! year, region, field and age band, with the published totals of the years
//! before the system went live, marked as such.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::grants::v1::{self as pb, *};
use aimaq_records::{Mutation, Records};
use aimaq_types::Kato;
use tonic::Request;

use super::terms::field_to_proto;
use crate::domain::statistics::{Dimensions, FIRST_YEAR, Granted, Historical, LAST_YEAR, Totals};
use crate::domain::terms::Field;
use crate::ops;

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

pub(super) fn totals_to_proto(totals: &Totals) -> GrantTotals {
    GrantTotals {
        allowances: totals.allowances,
        allowances_tiyn: totals.allowances_tiyn,
        loans: totals.loans,
        loans_tiyn: totals.loans_tiyn,
    }
}

fn granted_row(row: &Granted) -> StatisticsRow {
    StatisticsRow {
        year: row.year,
        region_kato: row.region_kato.clone(),
        field: Field::parse(&row.field).map_or(0, |f| field_to_proto(f) as i32),
        age_band: age_band_to_proto(&row.age_band) as i32,
        totals: Some(totals_to_proto(&row.totals)),
        historical: false,
    }
}

pub(super) fn historical_row(row: &Historical) -> StatisticsRow {
    StatisticsRow {
        year: row.year,
        region_kato: row.region_kato.clone(),
        field: 0,
        age_band: 0,
        totals: Some(totals_to_proto(&row.totals)),
        historical: true,
    }
}

fn dimensions(violations: &mut Violations, group_by: &[i32]) -> Dimensions {
    let mut by = Dimensions::default();
    for (index, value) in group_by.iter().enumerate() {
        match pb::StatisticsDimension::try_from(*value) {
            Ok(pb::StatisticsDimension::Year) => by.year = true,
            Ok(pb::StatisticsDimension::Region) => by.region = true,
            Ok(pb::StatisticsDimension::Field) => by.field = true,
            Ok(pb::StatisticsDimension::AgeBand) => by.age_band = true,
            _ => violations.add(format!("group_by[{index}]"), "not a dimension"),
        }
    }
    by
}

pub async fn statistics(
    records: &Records,
    request: &GetStatisticsRequest,
) -> Result<GetStatisticsResponse, Error> {
    let or = |year: i32, default: i32| if year == 0 { default } else { year };
    let (from, to) = (
        or(request.from_year, FIRST_YEAR),
        or(request.to_year, LAST_YEAR),
    );
    let mut violations = Violations::new();
    violations.check(from <= to, "to_year", "must not be before from_year");
    let prefix = violations
        .take(
            "territory_kato",
            Kato::parse_subtree(&request.territory_kato),
        )
        .flatten();
    let by = dimensions(&mut violations, &request.group_by);
    violations.into_result()?;
    let found = ops::statistics::statistics(records, (from, to), prefix.as_deref(), by).await?;
    // Rolled up to the dimensions asked for; historical rows keep their own.
    let mut rows: Vec<StatisticsRow> = found.granted.iter().map(granted_row).collect();
    rows.extend(found.historical.iter().map(historical_row));
    rows.sort_by_key(|r| r.year);
    Ok(GetStatisticsResponse {
        rows,
        totals: Some(totals_to_proto(&found.total)),
        national_since_2009: Some(totals_to_proto(&found.national)),
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
    let aggregate = Historical {
        year: body.year,
        region_kato: region,
        totals: Totals {
            allowances: totals.allowances,
            allowances_tiyn: totals.allowances_tiyn,
            loans: totals.loans,
            loans_tiyn: totals.loans_tiyn,
        },
        source: body.source.trim().to_owned(),
        version: 0,
    };
    ops::statistics::load_historical(records, &mutation, &aggregate, |row| {
        LoadHistoricalAggregateResponse {
            row: Some(historical_row(row)),
        }
    })
    .await
}
