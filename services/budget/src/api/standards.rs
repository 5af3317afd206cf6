//! ListStandards, RecordStandardStatus, GetSufficiency, and the standards a
//! completed project meets.

use std::collections::HashMap;

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_records::{Change, Mutation, Records, within};
use aimaq_types::Kato;
use sea_orm::ConnectionTrait;
use tonic::Request;

use super::projects::standard_codes;
use crate::domain::standard::{self, CATALOGUE, sufficiency_bp};
use crate::store;
use crate::store::project::projects;
use crate::store::standard::statuses;
use aimaq_territories::TerritoryDirectory;

fn status_name(settlement: &str, code: &str) -> String {
    format!("settlements/{settlement}/standards/{code}")
}

fn to_proto(model: &statuses::Model) -> StandardStatus {
    StandardStatus {
        settlement_kato: model.settlement_kato.clone(),
        standard_code: model.standard_code.clone(),
        applicable: model.applicable,
        met: model.met,
        project: model
            .project_id
            .map(store::project::name)
            .unwrap_or_default(),
        version: model.version,
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

/// A settlement's standard as it becomes: `applicable` and `met` (by `project`
/// when a project's completion met it, keeping the project that met it before
/// while it stays met), one version on from `current`.
fn next_status(
    current: Option<&statuses::Model>,
    settlement: &str,
    code: &str,
    (applicable, met): (bool, bool),
    project: Option<i64>,
    now: i64,
) -> statuses::Model {
    statuses::Model {
        settlement_kato: settlement.to_owned(),
        standard_code: code.to_owned(),
        applicable,
        met,
        project_id: project.or(current.and_then(|c| c.project_id).filter(|_| met)),
        version: current.map_or(0, |c| c.version) + 1,
        updated_at_micros: now,
    }
}

fn change_of(status: &statuses::Model) -> Change {
    Change::versioned(
        "standard_status",
        status_name(&status.settlement_kato, &status.standard_code),
        status.version,
    )
}

/// Writes the status after `current` (read under lock) and returns its change
/// event.
async fn set(
    tx: &impl ConnectionTrait,
    current: Option<statuses::Model>,
    settlement: &str,
    code: &str,
    flags: (bool, bool),
    project: Option<i64>,
    now: i64,
) -> Result<(statuses::Model, Change), Error> {
    let status = next_status(current.as_ref(), settlement, code, flags, project, now);
    store::standard::save(tx, status.clone(), current.is_none()).await?;
    let change = change_of(&status);
    Ok((status, change))
}

/// Marks the standards a completed project satisfies as met for its settlement.
/// A standard recorded as not applicable there stays so; one with no record
/// becomes applicable and met.
pub(super) async fn meet(
    tx: &impl ConnectionTrait,
    project: &projects::Model,
    now: i64,
) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    for code in standard_codes(project) {
        let current = store::standard::find_for_update(tx, &project.settlement_kato, code).await?;
        if current.as_ref().is_some_and(|c| c.met) {
            continue;
        }
        let applicable = current.as_ref().is_none_or(|c| c.applicable);
        let (_, change) = set(
            tx,
            current,
            &project.settlement_kato,
            code,
            (applicable, true),
            Some(project.id),
            now,
        )
        .await?;
        changes.push(change);
    }
    Ok(changes)
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
) -> Result<Kato, Error> {
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
    super::require_settlement(directory, on_behalf, settlement).await?;
    Ok(settlement)
}

pub async fn record(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &Request<RecordStandardStatusRequest>,
) -> Result<RecordStandardStatusResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let asked = StandardStatusInput {
        settlement_kato: body.settlement_kato.clone(),
        standard_code: body.standard_code.clone(),
        applicable: body.applicable,
        met: body.met,
    };
    let on_behalf = OnBehalf::of(request)?;
    let settlement = prepare(caller, directory, &on_behalf, &asked).await?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let settlement = &settlement.to_string();
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let now = chrono::Utc::now().timestamp_micros();
                let current =
                    store::standard::find_for_update(tx, settlement, &body.standard_code).await?;
                let (status, change) = set(
                    tx,
                    current,
                    settlement,
                    &body.standard_code,
                    (body.applicable, body.met),
                    None,
                    now,
                )
                .await?;
                Ok((
                    RecordStandardStatusResponse {
                        status: Some(to_proto(&status)),
                    },
                    vec![change],
                ))
            })
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
    let mut settlements = Vec::with_capacity(body.statuses.len());
    for (index, asked) in body.statuses.iter().enumerate() {
        match prepare(caller, directory, &on_behalf, asked).await {
            Ok(settlement) => settlements.push(settlement.to_string()),
            Err(error) => violations.nest(&format!("statuses[{index}]"), Err(error))?,
        }
    }
    violations.into_result()?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let settlements = &settlements;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                // Read what exists once and write the new statuses in bulk: an
                // import may carry a thousand.
                let now = chrono::Utc::now().timestamp_micros();
                let existing: HashMap<(String, String), statuses::Model> =
                    store::standard::of_settlements(tx, settlements)
                        .await?
                        .into_iter()
                        .map(|s| ((s.settlement_kato.clone(), s.standard_code.clone()), s))
                        .collect();
                let mut written: Vec<statuses::Model> = Vec::new();
                let mut position: HashMap<(String, String), usize> = HashMap::new();
                let mut changes = Vec::with_capacity(settlements.len());
                for (settlement, asked) in settlements.iter().zip(&body.statuses) {
                    let key = (settlement.clone(), asked.standard_code.clone());
                    let current = match position.get(&key) {
                        Some(at) => written.get(*at),
                        None => existing.get(&key),
                    };
                    let status = next_status(
                        current,
                        settlement,
                        &asked.standard_code,
                        (asked.applicable, asked.met),
                        None,
                        now,
                    );
                    changes.push(change_of(&status));
                    match position.get(&key) {
                        Some(at) => written[*at] = status,
                        None => {
                            position.insert(key, written.len());
                            written.push(status);
                        }
                    }
                }
                let (updated, created): (Vec<_>, Vec<_>) = written.into_iter().partition(|s| {
                    existing.contains_key(&(s.settlement_kato.clone(), s.standard_code.clone()))
                });
                store::standard::insert_many(tx, created).await?;
                for status in updated {
                    store::standard::save(tx, status, false).await?;
                }
                let recorded_count = i64::try_from(changes.len()).map_err(Error::internal)?;
                Ok((ImportStandardStatusesResponse { recorded_count }, changes))
            })
        })
        .await
}

pub async fn sufficiency(
    records: &Records,
    request: &GetSufficiencyRequest,
) -> Result<GetSufficiencyResponse, Error> {
    let prefix = Kato::parse_subtree(&request.territory_kato)
        .map_err(|e| Error::invalid("territory_kato", e.to_string()))?;
    let (counts, settlements) =
        store::standard::counts(records.database().connection(), prefix.as_deref()).await?;
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
