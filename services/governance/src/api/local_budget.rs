//! RecordRevenue, GetRevenueSummary, RecordIndicator, ListIndicators.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::governance::v1::{self as pb, *};
use aimaq_records::{Mutation, Records};
use aimaq_storage::paging::Page;
use aimaq_types::Kato;
use tonic::Request;

use super::convert::kato;
use crate::domain::local_budget::{RevenueSource, RevenueSummary};
use crate::ops;
use crate::store::local_budget::{indicators, revenue_name, revenues};

const FIRST_YEAR: i32 = 1991;
const LAST_YEAR: i32 = 2100;

fn source_from_proto(value: i32) -> Option<RevenueSource> {
    Some(match pb::RevenueSource::try_from(value).ok()? {
        pb::RevenueSource::PersonalIncomeTax => RevenueSource::PersonalIncomeTax,
        pb::RevenueSource::PropertyTax => RevenueSource::PropertyTax,
        pb::RevenueSource::LandTax => RevenueSource::LandTax,
        pb::RevenueSource::VehicleTax => RevenueSource::VehicleTax,
        pb::RevenueSource::OtherOwn => RevenueSource::OtherOwn,
        pb::RevenueSource::Transfers => RevenueSource::Transfers,
        pb::RevenueSource::Subventions => RevenueSource::Subventions,
        pb::RevenueSource::Unspecified => return None,
    })
}

pub(super) fn source_to_proto(source: RevenueSource) -> pb::RevenueSource {
    match source {
        RevenueSource::PersonalIncomeTax => pb::RevenueSource::PersonalIncomeTax,
        RevenueSource::PropertyTax => pb::RevenueSource::PropertyTax,
        RevenueSource::LandTax => pb::RevenueSource::LandTax,
        RevenueSource::VehicleTax => pb::RevenueSource::VehicleTax,
        RevenueSource::OtherOwn => pb::RevenueSource::OtherOwn,
        RevenueSource::Transfers => pb::RevenueSource::Transfers,
        RevenueSource::Subventions => pb::RevenueSource::Subventions,
    }
}

pub(super) fn check_year(violations: &mut Violations, field: &str, year: i32) {
    violations.check(
        (FIRST_YEAR..=LAST_YEAR).contains(&year),
        field,
        format!("must be a year from {FIRST_YEAR} to {LAST_YEAR}"),
    );
}

pub async fn record_revenue(
    records: &Records,
    request: &Request<RecordRevenueRequest>,
) -> Result<RecordRevenueResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::GovernanceWrite)?;
    let body = request.get_ref();
    let mut violations = Violations::new();
    let territory = violations.take("territory_kato", Kato::parse(&body.territory_kato));
    check_year(&mut violations, "fiscal_year", body.fiscal_year);
    let source = source_from_proto(body.source);
    violations.check(
        source.is_some(),
        "source",
        "required: one of the RevenueSource values",
    );
    violations.check(body.amount_tiyn != 0, "amount_tiyn", "must not be zero");
    violations.check(
        body.amount_tiyn > 0 || !body.note.trim().is_empty(),
        "note",
        "required for a negative (correcting) amount",
    );
    violations.check(
        body.note.chars().count() <= 500,
        "note",
        "at most 500 characters",
    );
    let (territory, source) = violations.then(|| Some((territory?, source?)))?;
    caller.require_write_at(territory)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    if body.validate_only {
        return Ok(RecordRevenueResponse::default());
    }
    let asked = ops::local_budget::Revenue {
        territory,
        fiscal_year: body.fiscal_year,
        source,
        amount_tiyn: body.amount_tiyn,
        note: body.note.trim().to_owned(),
    };
    ops::local_budget::record_revenue(records, &mutation, &asked, |saved| RecordRevenueResponse {
        revenue: Some(revenue_to_proto(saved, source)),
    })
    .await
}

/// A stored revenue, whose `source` the caller gave or the row was read as.
pub(super) fn revenue_to_proto(saved: &revenues::Model, source: RevenueSource) -> RevenueRecord {
    RevenueRecord {
        name: revenue_name(saved.id),
        territory_kato: saved.territory_kato.clone(),
        fiscal_year: saved.fiscal_year,
        source: source_to_proto(source) as i32,
        amount_tiyn: saved.amount_tiyn,
        record_time: Some(aimaq_proto::timestamp_from_micros(saved.recorded_at_micros)),
    }
}

pub async fn revenue_summary(
    records: &Records,
    request: &GetRevenueSummaryRequest,
) -> Result<GetRevenueSummaryResponse, Error> {
    // Empty: the whole country.
    let territory = if request.territory_kato.is_empty() {
        None
    } else {
        Some(kato("territory_kato", &request.territory_kato)?)
    };
    check_years(request.from_year, request.to_year)?;
    let years = (request.from_year, request.to_year);
    let (summary, counted) = ops::local_budget::revenue_summary(records, territory, years).await?;
    Ok(revenue_summary_to_proto(
        &request.territory_kato,
        &summary,
        counted,
    ))
}

pub(super) fn revenue_summary_to_proto(
    territory_kato: &str,
    summary: &RevenueSummary,
    counted: u64,
) -> GetRevenueSummaryResponse {
    GetRevenueSummaryResponse {
        territory_kato: territory_kato.to_owned(),
        years: summary.years.iter().map(revenue_year_to_proto).collect(),
        growth_factor_bp: summary.growth_factor_bp,
        rural_districts_counted: i32::try_from(counted).unwrap_or(i32::MAX),
    }
}

pub(super) fn revenue_year_to_proto(
    year: &crate::domain::local_budget::RevenueYear,
) -> RevenueYear {
    RevenueYear {
        fiscal_year: year.year,
        total_tiyn: year.total,
        own_revenue_tiyn: year.own,
        transfers_tiyn: year.transfers,
        own_revenue_share_bp: i32::try_from(year.own_share_bp).unwrap_or(i32::MAX),
        by_source: year
            .by_source
            .iter()
            .map(|(source, amount)| RevenueBySource {
                source: source_to_proto(*source) as i32,
                amount_tiyn: *amount,
            })
            .collect(),
    }
}

/// A range of fiscal years: in bounds, forward, at most 50 years.
pub(super) fn check_years(from_year: i32, to_year: i32) -> Result<(), Error> {
    check_year_range(["from_year", "to_year"], from_year, to_year)
}

/// A range of fiscal years whose bounds the request names `fields`.
pub(super) fn check_year_range(
    [from_field, to_field]: [&str; 2],
    from_year: i32,
    to_year: i32,
) -> Result<(), Error> {
    let mut violations = Violations::new();
    check_year(&mut violations, from_field, from_year);
    check_year(&mut violations, to_field, to_year);
    violations.check(
        from_year <= to_year,
        to_field,
        format!("must not be before {from_field}"),
    );
    violations.check(
        to_year - from_year < 50,
        to_field,
        "at most 50 years at once",
    );
    violations.into_result()
}

const KIND_PREFIX: &str = "INDICATOR_KIND_";
const FIGURE_PREFIX: &str = "INDICATOR_FIGURE_";

/// The stored name of an indicator kind: its proto name without the prefix.
fn kind_name(value: i32) -> Option<&'static str> {
    pb::IndicatorKind::try_from(value)
        .ok()
        .filter(|kind| *kind != pb::IndicatorKind::Unspecified)
        .and_then(|kind| kind.as_str_name().strip_prefix(KIND_PREFIX))
}

fn figure_name(value: i32) -> Option<&'static str> {
    pb::IndicatorFigure::try_from(value)
        .ok()
        .filter(|figure| *figure != pb::IndicatorFigure::Unspecified)
        .and_then(|figure| figure.as_str_name().strip_prefix(FIGURE_PREFIX))
}

pub(super) fn indicator_to_proto(model: &indicators::Model) -> Indicator {
    Indicator {
        territory_kato: model.territory_kato.clone(),
        kind: pb::IndicatorKind::from_str_name(&format!("{KIND_PREFIX}{}", model.kind))
            .unwrap_or_default() as i32,
        figure: pb::IndicatorFigure::from_str_name(&format!("{FIGURE_PREFIX}{}", model.figure))
            .unwrap_or_default() as i32,
        year: model.year,
        value_bp: model.value_bp,
        source: model.source.clone(),
        version: model.version,
    }
}

/// Values beyond ±1000% are no share or rate any indicator measures.
const MAX_INDICATOR_BP: i64 = 10_000_000;

pub async fn record_indicator(
    records: &Records,
    request: &Request<RecordIndicatorRequest>,
) -> Result<RecordIndicatorResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::GovernanceWrite)?;
    let body = request.get_ref();
    let mut violations = Violations::new();
    // Empty: a figure of the republic as a whole.
    let territory = if body.territory_kato.is_empty() {
        Some(None)
    } else {
        violations
            .take("territory_kato", Kato::parse(&body.territory_kato))
            .map(Some)
    };
    let kind = kind_name(body.kind);
    violations.check(
        kind.is_some(),
        "kind",
        "required: one of the IndicatorKind values",
    );
    let figure = figure_name(body.figure);
    violations.check(figure.is_some(), "figure", "required: ACTUAL or TARGET");
    check_year(&mut violations, "year", body.year);
    violations.check(
        (-MAX_INDICATOR_BP..=MAX_INDICATOR_BP).contains(&body.value_bp),
        "value_bp",
        format!("must be within ±{MAX_INDICATOR_BP} basis points"),
    );
    violations.check(
        body.source.chars().count() <= 500,
        "source",
        "at most 500 characters",
    );
    violations.check(
        body.expected_version >= 0,
        "expected_version",
        "must not be negative",
    );
    let (territory, kind, figure) = violations.then(|| Some((territory?, kind?, figure?)))?;
    match territory {
        Some(territory) => caller.require_write_at(territory)?,
        None => caller.require_national(Scope::GovernanceWrite, "national indicators")?,
    }
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let asked = ops::local_budget::Indicator {
        territory,
        kind,
        figure,
        year: body.year,
        value_bp: body.value_bp,
        source: body.source.trim().to_owned(),
        expected_version: body.expected_version,
    };
    ops::local_budget::record_indicator(records, &mutation, &asked, |model| {
        RecordIndicatorResponse {
            indicator: Some(indicator_to_proto(model)),
        }
    })
    .await
}

pub async fn list_indicators(
    records: &Records,
    request: &ListIndicatorsRequest,
) -> Result<ListIndicatorsResponse, Error> {
    let territory = if request.territory_kato.is_empty() {
        None
    } else {
        Some(kato("territory_kato", &request.territory_kato)?)
    };
    let mut violations = Violations::new();
    let mut kinds = Vec::new();
    for (index, kind) in request.kinds.iter().enumerate() {
        match kind_name(*kind) {
            Some(name) => kinds.push(name),
            None => violations.add(format!("kinds[{index}]"), "not an IndicatorKind value"),
        }
    }
    violations.into_result()?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let years = (
        (request.from_year != 0).then_some(request.from_year),
        (request.to_year != 0).then_some(request.to_year),
    );
    let (rows, next_page_token) =
        ops::local_budget::list_indicators(records, territory, &kinds, years, &page).await?;
    Ok(ListIndicatorsResponse {
        indicators: rows.iter().map(indicator_to_proto).collect(),
        next_page_token,
    })
}
