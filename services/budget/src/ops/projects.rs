//! Projects. A project commits its cost against its allocation like a child
//! allocation does, under the allocation's row lock; its disbursements are
//! added up the allocation chain, child to parent, the same order every change
//! locks in.

use std::collections::BTreeMap;

use aimaq_error::Error;
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::{Kato, Money};
use sea_orm::ConnectionTrait;

use super::allocations::{add_disbursed, draw_on};
use super::standards::meet;
use crate::domain::project::{
    Disbursement, Move, Project, ProjectStatus, Tally, check_disbursement, check_transition,
    count_moves, released_by,
};
use crate::store;
use crate::store::allocation::{Draw, Key};
use crate::store::project::{Filter, name};

fn allocation_key(project: &Project) -> Key<'_> {
    (
        &project.program_code,
        project.fiscal_year,
        project.allocation,
    )
}

/// Draws `amount` for projects on the allocation `key`, which must exist, and
/// moves its project counts by `moves`.
async fn draw(
    tx: &impl ConnectionTrait,
    key: Key<'_>,
    amount: Money,
    now: i64,
    moves: &[Move],
) -> Result<Option<Change>, Error> {
    let missing = || Error::not_found("allocation", store::allocation::name(key));
    let draw = Draw {
        committed: amount,
        counts: count_moves(moves),
        now,
    };
    draw_on(tx, key, &draw, missing).await
}

/// Stores a new project and returns it with its change event.
async fn insert(tx: &impl ConnectionTrait, project: Project) -> Result<(Project, Change), Error> {
    let project = store::project::insert(tx, project).await?;
    let created = Change {
        resource_type: "project",
        resource_name: name(project.id),
        action: ChangeAction::Created,
        version: project.version,
        resource: None,
    };
    Ok((project, created))
}

/// What a project moving from `from` to its status does beyond itself: its
/// allocation counts it anew; at its end, what was not disbursed goes back to
/// the allocation; cancelled, it no longer covers its settlement; completed, it
/// meets its standards.
async fn arrive(
    tx: &impl ConnectionTrait,
    project: &Project,
    from: ProjectStatus,
    now: i64,
) -> Result<Vec<Change>, Error> {
    let to = project.status;
    let released = released_by(to, project.cost, project.disbursed)?;
    let given_back = Money::ZERO.checked_sub(released).map_err(Error::internal)?;
    let key = allocation_key(project);
    let mut changes: Vec<Change> = draw(tx, key, given_back, now, &[(Some(from), to)])
        .await?
        .into_iter()
        .collect();
    if to == ProjectStatus::Cancelled {
        let (program, year) = (&project.program_code, project.fiscal_year);
        store::coverage::add_live(tx, program, year, project.settlement, -1).await?;
    }
    if to == ProjectStatus::Completed {
        changes.extend(meet(tx, project, now).await?);
    }
    Ok(changes)
}

/// Stores a new, planned project (checked by the caller, timestamps set) and
/// commits its cost against its allocation.
pub async fn create<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    project: &Project,
    answer: impl Fn(&Project) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let now = project.updated_at_micros;
                let moves = [(None, ProjectStatus::Planned)];
                let key = allocation_key(project);
                let drawn = draw(tx, key, project.cost, now, &moves).await?;
                let (program, year) = (&project.program_code, project.fiscal_year);
                store::coverage::add_live(tx, program, year, project.settlement, 1).await?;
                let (project, created) = insert(tx, project.clone()).await?;
                let changes = [created].into_iter().chain(drawn).collect();
                Ok((answer(&project), changes))
            })
        })
        .await
}

/// What an import gives each allocation at once: what its projects keep (the
/// cost, or what was disbursed of an ended one), what was disbursed, and the
/// projects' arrivals.
#[derive(Default)]
struct Batch {
    kept: Money,
    disbursed: Money,
    moves: Vec<Move>,
}

/// The imported projects' batches per allocation and live projects per
/// settlement, in a fixed order.
type Batches<'a> = (
    BTreeMap<Key<'a>, Batch>,
    BTreeMap<(&'a str, i32, Kato), i64>,
);

fn batches(projects: &[Project]) -> Result<Batches<'_>, Error> {
    let mut per_allocation: BTreeMap<Key<'_>, Batch> = BTreeMap::new();
    let mut live: BTreeMap<(&str, i32, Kato), i64> = BTreeMap::new();
    for project in projects {
        let released = released_by(project.status, project.cost, project.disbursed)?;
        let batch = per_allocation.entry(allocation_key(project)).or_default();
        let kept = project
            .cost
            .checked_sub(released)
            .map_err(Error::internal)?;
        batch.kept = batch.kept.checked_add(kept).map_err(Error::internal)?;
        batch.disbursed = batch
            .disbursed
            .checked_add(project.disbursed)
            .map_err(Error::internal)?;
        batch.moves.push((None, project.status));
        if project.status != ProjectStatus::Cancelled {
            let key = (
                project.program_code.as_str(),
                project.fiscal_year,
                project.settlement,
            );
            *live.entry(key).or_default() += 1;
        }
    }
    Ok((per_allocation, live))
}

/// Stores projects that arrive with their status and disbursed total, each
/// allocation drawn on once for the whole batch; answers their names.
pub async fn import<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    projects: &[Project],
    answer: impl Fn(Vec<String>) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let now = super::now_micros();
                let (per_allocation, live) = batches(projects)?;
                let mut changes = Vec::new();
                for (key, batch) in &per_allocation {
                    changes.extend(draw(tx, *key, batch.kept, now, &batch.moves).await?);
                }
                for (key, batch) in &per_allocation {
                    if batch.disbursed > Money::ZERO {
                        add_disbursed(tx, *key, batch.disbursed, now).await?;
                    }
                }
                for ((program, year, settlement), count) in live {
                    store::coverage::add_live(tx, program, year, settlement, count).await?;
                }
                let mut names = Vec::with_capacity(projects.len());
                for project in projects {
                    let (project, created) = insert(tx, project.clone()).await?;
                    changes.push(created);
                    if project.status == ProjectStatus::Completed {
                        changes.extend(meet(tx, &project, now).await?);
                    }
                    names.push(name(project.id));
                }
                Ok((answer(names), changes))
            })
        })
        .await
}

/// The project, locked, after checking with `may_write` that the caller may
/// write at its settlement, and that it is at the version expected.
async fn project_for_update(
    tx: &impl ConnectionTrait,
    id: i64,
    may_write: &(impl Fn(Kato) -> Result<(), Error> + Sync),
    expected_version: Option<i64>,
) -> Result<Project, Error> {
    let this = name(id);
    let project = store::project::find(tx, id, true)
        .await?
        .ok_or_else(|| Error::not_found("project", &this))?;
    may_write(project.settlement)?;
    if let Some(expected) = expected_version
        && expected != project.version
    {
        return Err(Error::stale_version(&this, expected, project.version));
    }
    Ok(project)
}

/// What TransitionProject asks, checked.
pub struct Transition {
    pub id: i64,
    pub to: ProjectStatus,
    pub expected_version: i64,
}

pub async fn transition<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: Transition,
    may_write: impl Fn(Kato) -> Result<(), Error> + Sync,
    answer: impl Fn(&Project) -> R,
) -> Result<R, Error> {
    let (asked, may_write, answer) = (&asked, &may_write, &answer);
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let expected = Some(asked.expected_version);
                let current = project_for_update(tx, asked.id, may_write, expected).await?;
                let from = current.status;
                check_transition(&name(asked.id), from, asked.to)?;
                let now = super::now_micros();
                let project = Project {
                    status: asked.to,
                    version: current.version + 1,
                    updated_at_micros: now,
                    ..current
                };
                store::project::update(tx, project.clone()).await?;
                let changed = Change::versioned("project", name(asked.id), project.version);
                let mut changes = vec![changed];
                changes.extend(arrive(tx, &project, from, now).await?);
                Ok((answer(&project), changes))
            })
        })
        .await
}

/// Records a payment to a project (its time of record set here), and adds it
/// up the allocation chain.
pub async fn disburse<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    payment: &Disbursement,
    may_write: impl Fn(Kato) -> Result<(), Error> + Sync,
    answer: impl Fn(&Project, &Disbursement) -> R,
) -> Result<R, Error> {
    let (may_write, answer) = (&may_write, &answer);
    let id = payment.project_id;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let current = project_for_update(tx, id, may_write, None).await?;
                let (cost, disbursed) = (current.cost, current.disbursed);
                check_disbursement(&name(id), current.status, cost, disbursed, payment.amount)?;
                let now = super::now_micros();
                let project = Project {
                    disbursed: disbursed
                        .checked_add(payment.amount)
                        .map_err(Error::internal)?,
                    version: current.version + 1,
                    updated_at_micros: now,
                    ..current
                };
                store::project::update(tx, project.clone()).await?;
                let payment = Disbursement {
                    recorded_at_micros: now,
                    ..payment.clone()
                };
                store::project::insert_disbursement(tx, &payment).await?;
                add_disbursed(tx, allocation_key(&project), payment.amount, now).await?;
                let changed = Change::versioned("project", name(id), project.version);
                Ok((answer(&project, &payment), vec![changed]))
            })
        })
        .await
}

pub async fn get(records: &Records, id: i64) -> Result<Project, Error> {
    store::project::find(records.database().connection(), id, false)
        .await?
        .ok_or_else(|| Error::not_found("project", name(id)))
}

pub async fn list(
    records: &Records,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<Project>, String), Error> {
    store::project::list(records.database().connection(), filter, page).await
}

/// The projects of a settlement's or a rural district's subtree, by
/// programme and status.
pub async fn tally_of_place(records: &Records, prefix: &str) -> Result<Vec<Tally>, Error> {
    store::project::tally_of_place(records.database().connection(), prefix).await
}
