//! Allocate, AdjustAllocation, GetAllocation, ListAllocations: the allocation tree.
//! Every change locks what it draws on (the parent allocation, or the envelope for
//! a region), always upward from child to parent, and checks the headroom inside
//! the transaction: children never sum above their parent, under any concurrency.

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::*;
use aimaq_records::{Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::{Kato, Money};
use sea_orm::ConnectionTrait;
use tonic::Request;

use crate::domain::allocation::{Holding, check_draw, check_new_amount};
use crate::store;
use crate::store::allocation::{Draw, Model, ProjectCounts, name};
use crate::store::program::envelopes;
use aimaq_territories::TerritoryDirectory;

pub(super) fn to_proto(model: &Model) -> Allocation {
    Allocation {
        name: name(
            &model.program_code,
            model.fiscal_year,
            &model.territory_kato,
        ),
        program_code: model.program_code.clone(),
        fiscal_year: model.fiscal_year,
        territory_kato: model.territory_kato.clone(),
        parent: model
            .parent_kato
            .as_deref()
            .map(|parent| name(&model.program_code, model.fiscal_year, parent))
            .unwrap_or_default(),
        amount_tiyn: model.amount_tiyn,
        committed_tiyn: model.committed_tiyn,
        disbursed_tiyn: model.disbursed_tiyn,
        headroom_tiyn: model.amount_tiyn.saturating_sub(model.committed_tiyn),
        version: model.version,
        update_time: Some(aimaq_proto::timestamp_from_micros(model.updated_at_micros)),
    }
}

/// `allocations/{program}/{year}/{kato}`.
pub(super) fn parse_name(text: &str) -> Result<(String, i32, Kato), Error> {
    let invalid = || {
        Error::invalid(
            "allocation",
            "must be allocations/{program_code}/{fiscal_year}/{kato}",
        )
    };
    let mut parts = text
        .strip_prefix("allocations/")
        .ok_or_else(invalid)?
        .split('/');
    let (Some(program), Some(year), Some(kato), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let year = year.parse().map_err(|_| invalid())?;
    let kato = Kato::parse(kato).map_err(|_| invalid())?;
    Ok((program.to_owned(), year, kato))
}

fn envelope_name(program: &str, year: i32) -> String {
    format!("programs/{program}/envelopes/{year}")
}

/// What a change of `delta` to an allocation draws on, checked and moved: the
/// parent allocation, or the envelope for a region. Returns the change event of
/// the parent, if it changed.
pub(super) async fn move_on_parent(
    tx: &impl ConnectionTrait,
    program: &str,
    year: i32,
    parent: Option<&str>,
    delta: Money,
    now: i64,
) -> Result<Option<Change>, Error> {
    match parent {
        None => {
            let envelope = store::program::envelope_for_update(tx, program, year)
                .await?
                .ok_or_else(|| {
                    Error::precondition(
                        "ENVELOPE",
                        envelope_name(program, year),
                        format!("{} is not set", envelope_name(program, year)),
                    )
                })?;
            let holding = Holding {
                amount: Money::from_tiyn(envelope.amount_tiyn),
                committed: Money::from_tiyn(envelope.allocated_tiyn),
            };
            if delta > Money::ZERO {
                check_draw(&envelope_name(program, year), holding, delta)?;
            }
            let allocated = holding
                .committed
                .checked_add(delta)
                .map_err(Error::internal)?;
            let version = envelope.version;
            store::program::save_envelope(
                tx,
                envelopes::Model {
                    allocated_tiyn: allocated.tiyn(),
                    ..envelope
                },
                false,
            )
            .await?;
            Ok(Some(Change {
                resource_type: "envelope",
                resource_name: envelope_name(program, year),
                action: ChangeAction::Updated,
                version,
            }))
        }
        Some(parent_kato) => {
            let parent_name = name(program, year, parent_kato);
            let missing = || {
                Error::precondition(
                    "PARENT_ALLOCATION",
                    &parent_name,
                    format!("{parent_name} does not exist: allocate to the parent territory first"),
                )
            };
            draw_on_allocation(
                tx,
                (program, year, parent_kato),
                delta,
                now,
                missing,
                ProjectCounts::default(),
            )
            .await
        }
    }
}

/// Moves `delta` on what the allocation `key` has committed (never above its
/// amount) and its project counts by `counts`, in one locking statement;
/// `missing` is the error when it does not exist. Returns its change event when
/// the committed amount moved (a new version).
pub(super) async fn draw_on_allocation(
    tx: &impl ConnectionTrait,
    key: (&str, i32, &str),
    delta: Money,
    now: i64,
    missing: impl FnOnce() -> Error,
    counts: ProjectCounts,
) -> Result<Option<Change>, Error> {
    let (program, year, kato) = key;
    let this = name(program, year, kato);
    let draw = Draw {
        committed: delta.tiyn(),
        counts,
        now,
    };
    match store::allocation::apply_draw(tx, key, &draw).await? {
        Some(version) => Ok((delta != Money::ZERO).then_some(Change {
            resource_type: "allocation",
            resource_name: this,
            action: ChangeAction::Updated,
            version,
        })),
        // Refused: say why, with the numbers.
        None => {
            let allocation = store::allocation::find(tx, key, false)
                .await?
                .ok_or_else(missing)?;
            let holding = Holding {
                amount: Money::from_tiyn(allocation.amount_tiyn),
                committed: Money::from_tiyn(allocation.committed_tiyn),
            };
            check_draw(&this, holding, delta)?;
            Err(Error::Conflict(format!("{this} changed under the draw")))
        }
    }
}

pub async fn allocate(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &Request<AllocateRequest>,
) -> Result<AllocateResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let mut violations = Violations::new();
    violations.check(!body.program_code.is_empty(), "program_code", "required");
    let kato = violations.take("territory_kato", Kato::parse(&body.territory_kato));
    violations.check(body.amount_tiyn > 0, "amount_tiyn", "must be positive");
    let kato = violations.then(|| kato)?;
    caller.require_write_at(kato)?;
    // Asked before the transaction: no lock is held while governance answers.
    let facts = directory.facts(kato, &OnBehalf::of(request)?).await?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let parent = facts.parent.map(|p| p.to_string());
    let parent = parent.as_deref();
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let program = store::program::find(tx, &body.program_code)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found("program", format!("programs/{}", body.program_code))
                    })?;
                let code = kato.to_string();
                let this = name(&program.code, body.fiscal_year, &code);
                if store::allocation::find(tx, (&program.code, body.fiscal_year, &code), false)
                    .await?
                    .is_some()
                {
                    return Err(Error::already_exists(
                        "allocation",
                        &this,
                        format!("{this} exists; adjust it instead"),
                    ));
                }
                let now = chrono::Utc::now().timestamp_micros();
                let amount = Money::from_tiyn(body.amount_tiyn);
                let parent_change =
                    move_on_parent(tx, &program.code, body.fiscal_year, parent, amount, now)
                        .await?;
                let model = Model {
                    program_code: program.code.clone(),
                    fiscal_year: body.fiscal_year,
                    territory_kato: code,
                    parent_kato: parent.map(str::to_owned),
                    amount_tiyn: body.amount_tiyn,
                    committed_tiyn: 0,
                    disbursed_tiyn: 0,
                    version: 1,
                    updated_at_micros: now,
                    projects_planned: 0,
                    projects_approved: 0,
                    projects_in_progress: 0,
                    projects_completed: 0,
                    projects_cancelled: 0,
                };
                store::allocation::save(tx, model.clone(), true).await?;
                Ok((
                    AllocateResponse {
                        allocation: Some(to_proto(&model)),
                    },
                    [Change {
                        resource_type: "allocation",
                        resource_name: this,
                        action: ChangeAction::Created,
                        version: 1,
                    }]
                    .into_iter()
                    .chain(parent_change)
                    .collect(),
                ))
            })
        })
        .await
}

pub async fn adjust(
    records: &Records,
    request: &Request<AdjustAllocationRequest>,
) -> Result<AdjustAllocationResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let (program, year, kato) = parse_name(&body.allocation)?;
    let mut violations = Violations::new();
    violations.check(body.delta_tiyn != 0, "delta_tiyn", "must not be zero");
    violations.require_version(body.expected_version);
    violations.into_result()?;
    caller.require_write_at(kato)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let (program, code) = (&program, kato.to_string());
    let code = &code;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let this = name(program, year, code);
                let current = store::allocation::find(tx, (program, year, code), true)
                    .await?
                    .ok_or_else(|| Error::not_found("allocation", &this))?;
                if current.version != body.expected_version {
                    return Err(Error::stale_version(
                        &this,
                        body.expected_version,
                        current.version,
                    ));
                }
                let holding = Holding {
                    amount: Money::from_tiyn(current.amount_tiyn),
                    committed: Money::from_tiyn(current.committed_tiyn),
                };
                let delta = Money::from_tiyn(body.delta_tiyn);
                let new_amount = holding
                    .amount
                    .checked_add(delta)
                    .map_err(|e| Error::invalid("delta_tiyn", e.to_string()))?;
                check_new_amount(&this, holding, new_amount)?;
                let now = chrono::Utc::now().timestamp_micros();
                let parent_change = move_on_parent(
                    tx,
                    program,
                    year,
                    current.parent_kato.as_deref(),
                    delta,
                    now,
                )
                .await?;
                let model = Model {
                    amount_tiyn: new_amount.tiyn(),
                    version: current.version + 1,
                    updated_at_micros: now,
                    ..current
                };
                store::allocation::save(tx, model.clone(), false).await?;
                Ok((
                    AdjustAllocationResponse {
                        allocation: Some(to_proto(&model)),
                    },
                    [Change {
                        resource_type: "allocation",
                        resource_name: this,
                        action: ChangeAction::Updated,
                        version: model.version,
                    }]
                    .into_iter()
                    .chain(parent_change)
                    .collect(),
                ))
            })
        })
        .await
}

pub async fn get(
    records: &Records,
    request: &GetAllocationRequest,
) -> Result<GetAllocationResponse, Error> {
    let (program, year, kato) = parse_name(&request.allocation)?;
    let code = kato.to_string();
    let model = store::allocation::find(
        records.database().connection(),
        (&program, year, &code),
        false,
    )
    .await?
    .ok_or_else(|| Error::not_found("allocation", name(&program, year, &code)))?;
    Ok(GetAllocationResponse {
        allocation: Some(to_proto(&model)),
    })
}

pub async fn list(
    records: &Records,
    request: &ListAllocationsRequest,
) -> Result<ListAllocationsResponse, Error> {
    if request.program_code.is_empty() {
        return Err(Error::invalid("program_code", "required"));
    }
    let prefix = Kato::parse_subtree(&request.territory_kato)
        .map_err(|e| Error::invalid("territory_kato", e.to_string()))?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let years = match request.fiscal_year {
        0 => i32::MIN..=i32::MAX,
        year => year..=year,
    };
    let (rows, next_page_token) = store::allocation::list(
        records.database().connection(),
        &request.program_code,
        years,
        prefix,
        &page,
    )
    .await?;
    Ok(ListAllocationsResponse {
        allocations: rows.iter().map(to_proto).collect(),
        next_page_token,
    })
}
