//! The allocation tree. Every change locks what it draws on (the parent
//! allocation, or the envelope for a region), always upward from child to
//! parent, and checks the headroom inside the transaction: children never sum
//! above their parent, under any concurrency.

use std::ops::RangeInclusive;

use aimaq_error::Error;
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::{Kato, Money};
use sea_orm::ConnectionTrait;

use crate::domain::allocation::{Allocation, ProjectCounts, check_draw, check_new_amount};
use crate::domain::program::Envelope;
use crate::store::allocation::{self as store, Draw, Key, name};
use crate::store::program::{self as programs, envelope_name};

/// Moves `delta` on the envelope a region's allocation draws on.
async fn move_on_envelope(
    tx: &impl ConnectionTrait,
    program: &str,
    year: i32,
    delta: Money,
) -> Result<Change, Error> {
    let this = envelope_name(program, year);
    let envelope = programs::envelope(tx, program, year, true)
        .await?
        .ok_or_else(|| Error::precondition("ENVELOPE", &this, format!("{this} is not set")))?;
    if delta > Money::ZERO {
        check_draw(&this, envelope.holding(), delta)?;
    }
    let allocated = envelope
        .allocated
        .checked_add(delta)
        .map_err(Error::internal)?;
    let version = envelope.version;
    programs::save_envelope(
        tx,
        Envelope {
            allocated,
            ..envelope
        },
        false,
    )
    .await?;
    Ok(Change {
        resource_type: "envelope",
        resource_name: this,
        action: ChangeAction::Updated,
        version,
        resource: None,
    })
}

/// What a change of `delta` to an allocation draws on, checked and moved: the
/// parent allocation, or the envelope for a region. Returns the change event of
/// the parent, if it changed.
async fn move_on_parent(
    tx: &impl ConnectionTrait,
    (program, year): (&str, i32),
    parent: Option<Kato>,
    delta: Money,
    now: i64,
) -> Result<Option<Change>, Error> {
    let Some(parent) = parent else {
        return move_on_envelope(tx, program, year, delta).await.map(Some);
    };
    let parent_name = name((program, year, parent));
    let missing = || {
        Error::precondition(
            "PARENT_ALLOCATION",
            &parent_name,
            format!("{parent_name} does not exist: allocate to the parent territory first"),
        )
    };
    let draw = Draw {
        committed: delta,
        counts: ProjectCounts::default(),
        now,
    };
    draw_on(tx, (program, year, parent), &draw, missing).await
}

/// Applies `draw` to the allocation `key` (never committing above its amount)
/// in one locking statement; `missing` is the error when it does not exist.
/// Returns its change event when the committed amount moved (a new version).
pub async fn draw_on(
    tx: &impl ConnectionTrait,
    key: Key<'_>,
    draw: &Draw,
    missing: impl FnOnce() -> Error,
) -> Result<Option<Change>, Error> {
    let this = name(key);
    match store::apply_draw(tx, key, draw).await? {
        Some(version) => Ok((draw.committed != Money::ZERO).then_some(Change {
            resource_type: "allocation",
            resource_name: this,
            action: ChangeAction::Updated,
            version,
            resource: None,
        })),
        // Refused: say why, with the numbers.
        None => {
            let allocation = store::find(tx, key, false).await?.ok_or_else(missing)?;
            check_draw(&this, allocation.holding(), draw.committed)?;
            Err(Error::Conflict(format!("{this} changed under the draw")))
        }
    }
}

/// Adds `amount` to what is disbursed at the allocation `key` and every one
/// above it, child to parent.
pub async fn add_disbursed(
    tx: &impl ConnectionTrait,
    (program, year, kato): Key<'_>,
    amount: Money,
    now: i64,
) -> Result<(), Error> {
    let mut next = Some(kato);
    while let Some(kato) = next {
        let current = store::find(tx, (program, year, kato), true)
            .await?
            .ok_or_else(|| Error::internal(format!("allocation chain broken at {kato}")))?;
        let disbursed = current
            .disbursed
            .checked_add(amount)
            .map_err(Error::internal)?;
        next = current.parent;
        // Disbursed is a running total, not something callers set: it moves no
        // version, so it never makes an adjustment stale.
        let allocation = Allocation {
            disbursed,
            updated_at_micros: now,
            ..current
        };
        store::save(tx, allocation, false).await?;
    }
    Ok(())
}

/// What Allocate asks, checked; `parent` is what governance says the
/// territory's parent is.
pub struct Allocate<'a> {
    pub program_code: &'a str,
    pub fiscal_year: i32,
    pub territory: Kato,
    pub parent: Option<Kato>,
    pub amount: Money,
}

pub async fn allocate<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: Allocate<'_>,
    answer: impl Fn(&Allocation) -> R,
) -> Result<R, Error> {
    let (asked, answer) = (&asked, &answer);
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let program = programs::get(tx, asked.program_code).await?;
                let key = (program.code.as_str(), asked.fiscal_year, asked.territory);
                let this = name(key);
                if store::find(tx, key, false).await?.is_some() {
                    return Err(Error::already_exists(
                        "allocation",
                        &this,
                        format!("{this} exists; adjust it instead"),
                    ));
                }
                let now = super::now_micros();
                let on = (key.0, key.1);
                let parent_change = move_on_parent(tx, on, asked.parent, asked.amount, now).await?;
                let allocation = Allocation {
                    program_code: program.code.clone(),
                    fiscal_year: asked.fiscal_year,
                    territory: asked.territory,
                    parent: asked.parent,
                    amount: asked.amount,
                    approved: asked.amount,
                    committed: Money::ZERO,
                    disbursed: Money::ZERO,
                    version: 1,
                    updated_at_micros: now,
                    projects: ProjectCounts::default(),
                };
                store::save(tx, allocation.clone(), true).await?;
                let created = Change {
                    resource_type: "allocation",
                    resource_name: this,
                    action: ChangeAction::Created,
                    version: 1,
                    resource: None,
                };
                let changes = [created].into_iter().chain(parent_change).collect();
                Ok((answer(&allocation), changes))
            })
        })
        .await
}

/// What AdjustAllocation asks, checked.
pub struct Adjust<'a> {
    pub key: Key<'a>,
    pub delta: Money,
    pub expected_version: i64,
}

pub async fn adjust<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: Adjust<'_>,
    answer: impl Fn(&Allocation) -> R,
) -> Result<R, Error> {
    let (asked, answer) = (&asked, &answer);
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let this = name(asked.key);
                let current = store::find(tx, asked.key, true)
                    .await?
                    .ok_or_else(|| Error::not_found("allocation", &this))?;
                if current.version != asked.expected_version {
                    return Err(Error::stale_version(
                        &this,
                        asked.expected_version,
                        current.version,
                    ));
                }
                let new_amount = current
                    .amount
                    .checked_add(asked.delta)
                    .map_err(|e| Error::invalid("delta_tiyn", e.to_string()))?;
                check_new_amount(&this, current.holding(), new_amount)?;
                let now = super::now_micros();
                let on = (asked.key.0, asked.key.1);
                let parent_change =
                    move_on_parent(tx, on, current.parent, asked.delta, now).await?;
                let allocation = Allocation {
                    amount: new_amount,
                    version: current.version + 1,
                    updated_at_micros: now,
                    ..current
                };
                store::save(tx, allocation.clone(), false).await?;
                let changed = Change {
                    resource_type: "allocation",
                    resource_name: this,
                    action: ChangeAction::Updated,
                    version: allocation.version,
                    resource: None,
                };
                let changes = [changed].into_iter().chain(parent_change).collect();
                Ok((answer(&allocation), changes))
            })
        })
        .await
}

pub async fn get(records: &Records, key: Key<'_>) -> Result<Allocation, Error> {
    store::find(records.database().connection(), key, false)
        .await?
        .ok_or_else(|| Error::not_found("allocation", name(key)))
}

pub async fn list(
    records: &Records,
    program: &str,
    years: RangeInclusive<i32>,
    kato_prefix: Option<String>,
    page: &Page,
) -> Result<(Vec<Allocation>, String), Error> {
    let db = records.database().connection();
    store::list(db, program, years, kato_prefix, page).await
}

/// Every allocation of a settlement's or a rural district's subtree.
pub async fn of_place(records: &Records, prefix: &str) -> Result<Vec<Allocation>, Error> {
    store::of_place(records.database().connection(), prefix).await
}
