//! ListStandards, RecordStandardStatus, ImportStandardStatuses, GetSufficiency.

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_records::{Mutation, Records};
use aimaq_types::Kato;
use tonic::Request;

use crate::domain::standard::{self, CATALOGUE, StandardStatus as Kept, sufficiency_bp};
use crate::ops;
use crate::ops::standards::Asked;
use crate::store::project;
use aimaq_territories::TerritoryDirectory;

pub(super) fn to_proto(status: &Kept) -> StandardStatus {
    StandardStatus {
        settlement_kato: status.settlement.to_string(),
        standard_code: status.standard_code.clone(),
        applicable: status.applicable,
        met: status.met,
        project: status.project_id.map(project::name).unwrap_or_default(),
        version: status.version,
    }
}

pub fn list() -> ListStandardsResponse {
    ListStandardsResponse {
        standards: CATALOGUE
            .iter()
            .map(|standard| Standard {
                code: standard.code.to_owned(),
                title: Some(LocalizedText {
                    kk: standard.title_kk.to_owned(),
                    ru: standard.title_ru.to_owned(),
                    en: standard.title_en.to_owned(),
                }),
                applicability: standard.applicability.to_owned(),
            })
            .collect(),
    }
}

/// Most statuses one ImportStandardStatuses call may carry.
const IMPORT_MAX: usize = 1000;

/// Checks one status as asked, that the caller may write at its settlement and
/// that governance knows it as a settlement.
async fn prepare(
    caller: &Caller,
    directory: &TerritoryDirectory,
    on_behalf: &OnBehalf,
    asked: &StandardStatusInput,
) -> Result<Asked, Error> {
    let mut violations = Violations::new();
    let settlement = violations.take("settlement_kato", Kato::parse(&asked.settlement_kato));
    violations.check(
        standard::find(&asked.standard_code).is_some(),
        "standard_code",
        format!(
            "{:?} is not a regional standard; see ListStandards",
            asked.standard_code
        ),
    );
    violations.check(
        asked.applicable || !asked.met,
        "met",
        "a standard that does not apply cannot be met",
    );
    let settlement = violations.then(|| settlement)?;
    caller.require_write_at(settlement)?;
    super::require_settlement(directory, on_behalf, settlement, None).await?;
    Ok(Asked {
        settlement,
        standard_code: asked.standard_code.clone(),
        applicable: asked.applicable,
        met: asked.met,
    })
}

pub async fn record(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &Request<RecordStandardStatusRequest>,
) -> Result<RecordStandardStatusResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let input = StandardStatusInput {
        settlement_kato: body.settlement_kato.clone(),
        standard_code: body.standard_code.clone(),
        applicable: body.applicable,
        met: body.met,
    };
    let on_behalf = OnBehalf::of(request)?;
    let asked = prepare(caller, directory, &on_behalf, &input).await?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    ops::standards::record(records, &mutation, &asked, |status| {
        RecordStandardStatusResponse {
            status: Some(to_proto(status)),
        }
    })
    .await
}

pub async fn import(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &Request<ImportStandardStatusesRequest>,
) -> Result<ImportStandardStatusesResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    if body.statuses.is_empty() || body.statuses.len() > IMPORT_MAX {
        return Err(Error::invalid(
            "statuses",
            format!("between 1 and {IMPORT_MAX} statuses per call"),
        ));
    }
    let on_behalf = OnBehalf::of(request)?;
    let mut violations = Violations::new();
    let mut asked = Vec::with_capacity(body.statuses.len());
    for (index, input) in body.statuses.iter().enumerate() {
        match prepare(caller, directory, &on_behalf, input).await {
            Ok(one) => asked.push(one),
            Err(error) => violations.nest(&format!("statuses[{index}]"), Err(error))?,
        }
    }
    violations.into_result()?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    if body.validate_only {
        return Ok(ImportStandardStatusesResponse::default());
    }
    ops::standards::import(records, &mutation, &asked, |recorded_count| {
        ImportStandardStatusesResponse { recorded_count }
    })
    .await
}

pub async fn sufficiency(
    records: &Records,
    request: &GetSufficiencyRequest,
) -> Result<GetSufficiencyResponse, Error> {
    let prefix = Kato::parse_subtree(&request.territory_kato)
        .map_err(|e| Error::invalid("territory_kato", e.to_string()))?;
    let (counts, settlements) = ops::standards::counts(records, prefix.as_deref()).await?;
    let figure = |code: &str, met: i64, applicable: i64| SufficiencyFigure {
        standard_code: code.to_owned(),
        met,
        applicable,
        sufficiency_bp: sufficiency_bp(met, applicable),
    };
    // Every standard of the catalogue, in its order, even where nothing is recorded.
    let by_standard: Vec<_> = CATALOGUE
        .iter()
        .map(|standard| {
            let found = counts.iter().find(|c| c.standard_code == standard.code);
            figure(
                standard.code,
                found.map_or(0, |c| c.met),
                found.map_or(0, |c| c.applicable),
            )
        })
        .collect();
    let met = by_standard.iter().map(|f| f.met).sum();
    let applicable = by_standard.iter().map(|f| f.applicable).sum();
    Ok(GetSufficiencyResponse {
        territory_kato: request.territory_kato.clone(),
        overall: Some(figure("", met, applicable)),
        by_standard,
        settlements_counted: settlements,
    })
}
