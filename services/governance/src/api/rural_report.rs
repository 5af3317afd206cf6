//! GetRuralBudgetReport: the rural district budget report an akimat files.

use aimaq_error::Error;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1::*;
use aimaq_records::Records;
use aimaq_storage::paging::Page;

use super::convert::kato;
use super::local_budget::{check_years, revenue_year_to_proto};
use crate::ops;

pub async fn rural_budget_report(
    records: &Records,
    request: &GetRuralBudgetReportRequest,
) -> Result<GetRuralBudgetReportResponse, Error> {
    // Empty: the whole country.
    let territory = if request.territory_kato.is_empty() {
        None
    } else {
        Some(kato("territory_kato", &request.territory_kato)?)
    };
    check_years(request.from_year, request.to_year)?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let years = (request.from_year, request.to_year);
    let (report, totals, next_page_token) =
        ops::local_budget::rural_budget_report(records, territory, years, &page).await?;
    Ok(GetRuralBudgetReportResponse {
        rows: report
            .iter()
            .map(|budget| {
                let names = &budget.territory.draft.names;
                RuralBudgetRow {
                    territory_kato: budget.territory.draft.kato.to_string(),
                    name: Some(LocalizedText {
                        kk: names.kk.clone(),
                        ru: names.ru.clone(),
                        en: names.en.clone(),
                    }),
                    years: budget
                        .summary
                        .years
                        .iter()
                        .map(revenue_year_to_proto)
                        .collect(),
                    growth_factor_bp: budget.summary.growth_factor_bp,
                }
            })
            .collect(),
        totals: totals.years.iter().map(revenue_year_to_proto).collect(),
        growth_factor_bp: totals.growth_factor_bp,
        next_page_token,
    })
}
