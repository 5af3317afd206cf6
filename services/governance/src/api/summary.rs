//! GetSettlementSummary: what a settlement profile shows of governance, in one
//! call rather than five, each part answered as its own RPC would answer it.

use aimaq_error::{Error, fields};
use aimaq_proto::governance::v1::{
    GetAkimRequest, GetSettlementSummaryRequest, GetSettlementSummaryResponse,
};
use aimaq_records::Records;

use super::akims;
use super::convert::territory_to_proto;
use super::elections::election_to_proto;
use super::local_budget::{check_year_range, revenue_summary_to_proto};
use super::protocols::results_to_proto;
use crate::domain::territory::TerritoryKind;
use crate::ops;
use crate::store::territory_cache::TerritoryCache;

/// The revenue years asked for, if any.
fn revenue_years(request: &GetSettlementSummaryRequest) -> Result<Option<(i32, i32)>, Error> {
    let (from, to) = (request.revenue_from_year, request.revenue_to_year);
    if (from, to) == (0, 0) {
        return Ok(None);
    }
    check_year_range(["revenue_from_year", "revenue_to_year"], from, to)?;
    Ok(Some((from, to)))
}

pub async fn summary(
    records: &Records,
    cache: &TerritoryCache,
    request: &GetSettlementSummaryRequest,
) -> Result<GetSettlementSummaryResponse, Error> {
    let code = fields::settlement("kato", &request.kato)?;
    let years = revenue_years(request)?;
    let (territory, ancestors) = ops::territories::get(records, cache, code, true).await?;
    let rural_district = std::iter::once(&territory)
        .chain(&ancestors)
        .find(|t| t.draft.kind == TerritoryKind::RuralDistrict);
    let akim = GetAkimRequest {
        territory_kato: request.kato.clone(),
    };
    let akim = akims::get(records, &akim);
    // Over the asked years the rural district existed in: a district formed
    // lately has no revenue to report before it, which is no fault of the call.
    let revenue_years = rural_district
        .zip(years)
        .and_then(|(place, years)| Some((place, place.draft.validity.years_within(years)?)));
    let revenue = async {
        match revenue_years {
            Some((rural_district, years)) => {
                let (summary, counted) =
                    ops::local_budget::revenue_of(records, Some(rural_district), years).await?;
                let kato = rural_district.draft.kato.to_string();
                Ok(Some(revenue_summary_to_proto(&kato, &summary, counted)))
            }
            None => Ok(None),
        }
    };
    let (akim, election, revenue) =
        tokio::try_join!(akim, ops::protocols::latest_results(records, code), revenue)?;
    let (latest_election, latest_results) = match election {
        Some((record, results)) => (
            Some(election_to_proto(&record)?),
            Some(results_to_proto(&record, &results)),
        ),
        None => (None, None),
    };
    Ok(GetSettlementSummaryResponse {
        territory: Some(territory_to_proto(&territory)),
        ancestors: ancestors.iter().map(territory_to_proto).collect(),
        current_akim: akim.current,
        latest_election,
        latest_results,
        revenue,
    })
}
