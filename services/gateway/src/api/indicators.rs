//! The national dashboard's lines from governance: the development indicators
//! recorded for the republic, the rural districts' revenue growth, and the
//! pilot round of direct akim elections.

use aimaq_proto::budget::v1::GetSufficiencyRequest;
use aimaq_proto::governance::v1::{
    ElectionStatus, GetRevenueSummaryRequest, Indicator, IndicatorKind, ListElectionsRequest,
    ListIndicatorsRequest,
};
use tonic::Status;

use super::dashboard::{BASIS_POINTS, COUNT, Line, Target};
use super::{GatewayApi, Outgoing, PAGE_SIZE, all_pages};
use crate::domain::dashboard::{Figure, indicator_figures, period};

/// The most years a revenue summary covers.
const REVENUE_YEARS: i32 = 49;

/// An indicator kind's key (`standards_sufficiency`) and title.
fn indicator_words(kind: IndicatorKind) -> (String, &'static str) {
    let key = kind
        .as_str_name()
        .trim_start_matches("INDICATOR_KIND_")
        .to_lowercase();
    let title = match kind {
        IndicatorKind::StandardsSufficiency => {
            "Settlements' needs met against the regional standards"
        }
        IndicatorKind::SmeShareOfGdp => "Small and medium enterprises' share of GDP",
        IndicatorKind::GreenRenewableEnergyShare => "Renewable energy's share of generation",
        IndicatorKind::GreenEmissionsReduction => "Reduction of greenhouse-gas emissions",
        IndicatorKind::GreenWasteRecyclingShare => "Share of waste recycled",
        IndicatorKind::GreenWaterSaving => "Water saved",
        IndicatorKind::Unspecified => "Unspecified indicator",
    };
    (key, title)
}

impl GatewayApi {
    /// A line per development indicator recorded for the republic.
    pub(super) async fn indicator_lines(
        &self,
        out: &Outgoing,
        year: i32,
        this_year: i32,
    ) -> Vec<Line> {
        let recorded = match self.national_indicators(out).await {
            Ok(recorded) => recorded,
            Err(status) => {
                return vec![Line::unread(
                    "development_indicators",
                    "Development indicators",
                    status,
                )];
            }
        };
        let mut kinds: Vec<IndicatorKind> = recorded.iter().map(Indicator::kind).collect();
        kinds.sort_by_key(|kind| *kind as i32);
        kinds.dedup();
        let mut lines = Vec::new();
        for kind in kinds {
            let (target, actual) = indicator_figures(&recorded, kind, year);
            let (key, title) = indicator_words(kind);
            let mut line = Line {
                key,
                title: title.into(),
                unit: BASIS_POINTS,
                target: target.map(|t| Target {
                    value: t.value_bp,
                    years: (t.year, t.year),
                    source: t.source.clone(),
                }),
                actual: Ok(actual.map_or(Figure::NoData, |a| Figure::Value(a.value_bp))),
                period: year.to_string(),
                actual_source: actual.map(|a| a.source.clone()).unwrap_or_default(),
            };
            // This year's sufficiency is counted from the settlements' standard
            // statuses as they stand, over any figure recorded for the year.
            if kind == IndicatorKind::StandardsSufficiency && year == this_year {
                line.actual = self.sufficiency_now(out).await;
                line.actual_source = "budget: standard statuses of every settlement".into();
            }
            lines.push(line);
        }
        lines
    }

    async fn national_indicators(&self, out: &Outgoing) -> Result<Vec<Indicator>, Status> {
        all_pages(|page_token| {
            let mut governance = self.governance.clone();
            let request = out.request(ListIndicatorsRequest {
                page_size: PAGE_SIZE,
                page_token,
                ..ListIndicatorsRequest::default()
            });
            async move {
                let page = out.ask(governance.list_indicators(request)).await?;
                Ok((page.indicators, page.next_page_token))
            }
        })
        .await
    }

    async fn sufficiency_now(&self, out: &Outgoing) -> Result<Figure, Status> {
        let request = out.request(GetSufficiencyRequest {
            territory_kato: String::new(),
        });
        let sufficiency = out
            .ask(self.budget.clone().get_sufficiency(request))
            .await?;
        Ok(match sufficiency.overall {
            Some(overall) if sufficiency.settlements_counted > 0 => {
                Figure::Value(i64::from(overall.sufficiency_bp))
            }
            _ => Figure::NoData,
        })
    }

    /// Growth of the rural districts' revenue from the first year recorded to
    /// the last before `year`.
    pub(super) async fn revenue_line(&self, out: &Outgoing, year: i32) -> Line {
        let mut line = Line {
            key: "rural_district_revenue_growth".into(),
            title: "Rural districts' revenue growth (35000 = 3.5-fold)".into(),
            unit: BASIS_POINTS,
            target: None,
            actual: Ok(Figure::NoData),
            period: String::new(),
            actual_source: "governance: revenue recorded for every rural district".into(),
        };
        let ask = async |years: (i32, i32)| {
            let request = out.request(GetRevenueSummaryRequest {
                territory_kato: String::new(),
                from_year: years.0,
                to_year: years.1,
            });
            let mut governance = self.governance.clone();
            out.ask(governance.get_revenue_summary(request)).await
        };
        let last = year - 1;
        let first = (last - REVENUE_YEARS).max(aimaq_types::bounds::FIRST_YEAR);
        let recorded = match ask((first, last)).await {
            Ok(summary) => summary.years,
            Err(status) => {
                line.actual = Err(status);
                return line;
            }
        };
        let with_revenue = recorded.iter().filter(|y| y.total_tiyn > 0);
        let (Some(first), Some(last)) = (
            with_revenue.clone().map(|y| y.fiscal_year).min(),
            with_revenue.map(|y| y.fiscal_year).max(),
        ) else {
            line.period = period(first, last);
            return line;
        };
        line.period = period(first, last);
        line.actual = ask((first, last))
            .await
            .map(|summary| Figure::Value(summary.growth_factor_bp));
        line
    }

    /// The pilot round: its elections certified (first elections and repeats),
    /// against all of them scheduled.
    pub(super) async fn pilot_line(&self, out: &Outgoing) -> Line {
        let pilot = ListElectionsRequest {
            pilot_only: true,
            ..ListElectionsRequest::default()
        };
        let mut line = Line {
            key: "akim_elections_pilot".into(),
            title: "Elections of the pilot round of direct akim elections certified (first elections and repeats), of those scheduled".into(),
            unit: COUNT,
            target: None,
            actual: Ok(Figure::NoData),
            period: String::new(),
            actual_source: "governance: pilot elections and their status".into(),
        };
        let elections = match self.elections(out, pilot).await {
            Ok(elections) => elections,
            Err(status) => {
                line.actual = Err(status);
                return line;
            }
        };
        let years: Vec<i32> = elections
            .iter()
            .filter_map(|e| e.voting_date.map(|d| d.year))
            .collect();
        let (Some(from), Some(to)) = (years.iter().min(), years.iter().max()) else {
            return line;
        };
        line.period = period(*from, *to);
        let certified = elections
            .iter()
            .filter(|e| e.status() == ElectionStatus::Certified)
            .count();
        line.actual = Ok(Figure::Value(certified as i64));
        line.target = Some(Target {
            value: elections.len() as i64,
            years: (*from, *to),
            source: "governance: the elections scheduled in the pilot round".into(),
        });
        line
    }
}
