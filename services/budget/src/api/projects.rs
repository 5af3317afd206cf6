//! CreateProject, GetProject, TransitionProject, RecordDisbursement, ListProjects.
//! A project commits its cost against its allocation like a child allocation
//! does, under the allocation's row lock; its disbursements are added up the
//! allocation chain, child to parent, the same order every change locks in.

use std::collections::BTreeMap;

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::{self as pb, *};
use aimaq_records::{Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::{Kato, Money};
use sea_orm::ConnectionTrait;
use tonic::Request;

use super::allocations::{draw_on_allocation, parse_name as parse_allocation};
use super::standards::meet;
use crate::domain::project::{
    ProjectCategory, ProjectStatus, check_disbursement, check_imported, check_new,
    check_transition, released_by,
};
use crate::store;
use crate::store::allocation::{self, ProjectCounts};
use crate::store::project::{Filter, disbursements, name, parse_name, projects};
use aimaq_territories::TerritoryDirectory;

/// Most projects one ImportProjects call may carry.
const IMPORT_MAX: usize = 1000;
/// Longest payment reference accepted.
const REFERENCE_MAX_CHARS: usize = 100;

pub(super) fn status_from_proto(value: i32) -> Option<ProjectStatus> {
    Some(match pb::ProjectStatus::try_from(value).ok()? {
        pb::ProjectStatus::Planned => ProjectStatus::Planned,
        pb::ProjectStatus::Approved => ProjectStatus::Approved,
        pb::ProjectStatus::InProgress => ProjectStatus::InProgress,
        pb::ProjectStatus::Completed => ProjectStatus::Completed,
        pb::ProjectStatus::Cancelled => ProjectStatus::Cancelled,
        pb::ProjectStatus::Unspecified => return None,
    })
}

pub(super) fn status_to_proto(status: ProjectStatus) -> pb::ProjectStatus {
    match status {
        ProjectStatus::Planned => pb::ProjectStatus::Planned,
        ProjectStatus::Approved => pb::ProjectStatus::Approved,
        ProjectStatus::InProgress => pb::ProjectStatus::InProgress,
        ProjectStatus::Completed => pb::ProjectStatus::Completed,
        ProjectStatus::Cancelled => pb::ProjectStatus::Cancelled,
    }
}

fn category_from_proto(value: i32) -> Option<ProjectCategory> {
    Some(match pb::ProjectCategory::try_from(value).ok()? {
        pb::ProjectCategory::SocialInfrastructure => ProjectCategory::SocialInfrastructure,
        pb::ProjectCategory::EngineeringInfrastructure => {
            ProjectCategory::EngineeringInfrastructure
        }
        pb::ProjectCategory::TransportInfrastructure => ProjectCategory::TransportInfrastructure,
        pb::ProjectCategory::Entrepreneurship => ProjectCategory::Entrepreneurship,
        pb::ProjectCategory::Unspecified => return None,
    })
}

fn category_to_proto(text: &str) -> pb::ProjectCategory {
    match ProjectCategory::parse(text) {
        Some(ProjectCategory::SocialInfrastructure) => pb::ProjectCategory::SocialInfrastructure,
        Some(ProjectCategory::EngineeringInfrastructure) => {
            pb::ProjectCategory::EngineeringInfrastructure
        }
        Some(ProjectCategory::TransportInfrastructure) => {
            pb::ProjectCategory::TransportInfrastructure
        }
        Some(ProjectCategory::Entrepreneurship) => pb::ProjectCategory::Entrepreneurship,
        None => pb::ProjectCategory::Unspecified,
    }
}

pub(super) fn standard_codes(model: &projects::Model) -> impl Iterator<Item = &str> {
    model
        .standard_codes
        .split(',')
        .filter(|code| !code.is_empty())
}

fn to_proto(model: &projects::Model) -> Project {
    Project {
        name: name(model.id),
        allocation: allocation::name(
            &model.program_code,
            model.fiscal_year,
            &model.allocation_kato,
        ),
        program_code: model.program_code.clone(),
        fiscal_year: model.fiscal_year,
        settlement_kato: model.settlement_kato.clone(),
        category: category_to_proto(&model.category) as i32,
        title: model.title.clone(),
        borrower_id: model.borrower_id.clone(),
        cost_tiyn: model.cost_tiyn,
        disbursed_tiyn: model.disbursed_tiyn,
        status: ProjectStatus::parse(&model.status)
            .map_or(pb::ProjectStatus::Unspecified, status_to_proto) as i32,
        standard_codes: standard_codes(model).map(str::to_owned).collect(),
        version: model.version,
        update_time: Some(aimaq_proto::timestamp_from_micros(model.updated_at_micros)),
    }
}

fn status_of(model: &projects::Model) -> Result<ProjectStatus, Error> {
    ProjectStatus::parse(&model.status)
        .ok_or_else(|| Error::internal(format!("stored project status {:?}", model.status)))
}

fn settlement_of(model: &projects::Model) -> Result<Kato, Error> {
    Kato::parse(&model.settlement_kato).map_err(Error::internal)
}

/// Where an allocation counts its projects in `status`.
fn count_index(status: ProjectStatus) -> usize {
    match status {
        ProjectStatus::Planned => 0,
        ProjectStatus::Approved => 1,
        ProjectStatus::InProgress => 2,
        ProjectStatus::Completed => 3,
        ProjectStatus::Cancelled => 4,
    }
}

/// Draws `amount` for projects on the allocation `key`, which must exist, and
/// moves its project counts: each `(from, to)` is a project leaving `from` (none
/// for a new one) for `to`.
async fn draw(
    tx: &impl ConnectionTrait,
    key: (&str, i32, &str),
    amount: Money,
    now: i64,
    moves: &[(Option<ProjectStatus>, ProjectStatus)],
) -> Result<Option<Change>, Error> {
    let missing = || Error::not_found("allocation", allocation::name(key.0, key.1, key.2));
    let mut counts = ProjectCounts::default();
    for (from, to) in moves {
        if let Some(from) = from {
            counts[count_index(*from)] -= 1;
        }
        counts[count_index(*to)] += 1;
    }
    draw_on_allocation(tx, key, amount, now, missing, counts).await
}

fn allocation_key(project: &projects::Model) -> (&str, i32, &str) {
    (
        project.program_code.as_str(),
        project.fiscal_year,
        project.allocation_kato.as_str(),
    )
}

/// Stores a new project and returns it with its change event.
async fn insert(
    tx: &impl ConnectionTrait,
    project: projects::Model,
) -> Result<(projects::Model, Change), Error> {
    let project = store::project::insert(tx, project).await?;
    let created = Change {
        resource_type: "project",
        resource_name: name(project.id),
        action: ChangeAction::Created,
        version: project.version,
    };
    Ok((project, created))
}

/// What a project moving from `from` to `to` does beyond itself: its
/// allocation counts it anew; at its end, what was not disbursed goes back to
/// the allocation; cancelled, it no longer covers its settlement; completed, it
/// meets its standards.
async fn arrive(
    tx: &impl ConnectionTrait,
    project: &projects::Model,
    from: ProjectStatus,
    to: ProjectStatus,
    now: i64,
) -> Result<Vec<Change>, Error> {
    let released = released_by(
        to,
        Money::from_tiyn(project.cost_tiyn),
        Money::from_tiyn(project.disbursed_tiyn),
    )?;
    let given_back = Money::ZERO.checked_sub(released).map_err(Error::internal)?;
    let mut changes: Vec<Change> = draw(
        tx,
        allocation_key(project),
        given_back,
        now,
        &[(Some(from), to)],
    )
    .await?
    .into_iter()
    .collect();
    if to == ProjectStatus::Cancelled {
        let settlement = settlement_of(project)?;
        store::coverage::add_live(
            tx,
            &project.program_code,
            project.fiscal_year,
            settlement,
            -1,
        )
        .await?;
    }
    if to == ProjectStatus::Completed {
        changes.extend(meet(tx, project, now).await?);
    }
    Ok(changes)
}

/// What a caller asks a new project to be, from CreateProject or ImportProjects.
struct Asked<'a> {
    allocation: &'a str,
    settlement_kato: &'a str,
    category: i32,
    title: &'a str,
    borrower_id: &'a str,
    cost_tiyn: i64,
    standard_codes: &'a [String],
}

/// Checks a new project (fields named as in `Asked`), that the caller may write
/// at its settlement and that governance knows it as a settlement; returns the
/// planned project.
async fn prepare(
    caller: &Caller,
    directory: &TerritoryDirectory,
    on_behalf: &OnBehalf,
    asked: Asked<'_>,
    now: i64,
) -> Result<projects::Model, Error> {
    let mut violations = Violations::new();
    let allocation = parse_allocation(asked.allocation);
    let settlement = violations.take("settlement_kato", Kato::parse(asked.settlement_kato));
    let category = category_from_proto(asked.category);
    check_new(
        &mut violations,
        category,
        asked.title,
        asked.borrower_id,
        asked.cost_tiyn,
        asked.standard_codes,
    );
    let allocation = match allocation {
        Ok(allocation) => Some(allocation),
        Err(error) => {
            violations.nest("", Err(error))?;
            None
        }
    };
    let ((program, year, allocation_kato), settlement, category) =
        violations.then(|| Some((allocation?, settlement?, category?)))?;
    if settlement != allocation_kato && !allocation_kato.is_ancestor_of(settlement) {
        return Err(Error::invalid(
            "settlement_kato",
            format!(
                "{settlement} is outside the territory of {}",
                asked.allocation
            ),
        ));
    }
    caller.require_write_at(settlement)?;
    super::require_settlement(directory, on_behalf, settlement).await?;
    Ok(projects::Model {
        id: 0,
        program_code: program,
        fiscal_year: year,
        allocation_kato: allocation_kato.to_string(),
        settlement_kato: settlement.to_string(),
        region_kato: settlement.region().to_string(),
        district_kato: settlement.district().to_string(),
        category: category.as_str().to_owned(),
        title: asked.title.trim().to_owned(),
        borrower_id: asked.borrower_id.to_owned(),
        cost_tiyn: asked.cost_tiyn,
        disbursed_tiyn: 0,
        status: ProjectStatus::Planned.as_str().to_owned(),
        standard_codes: asked.standard_codes.join(","),
        version: 1,
        created_at_micros: now,
        updated_at_micros: now,
    })
}

pub async fn create(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &Request<CreateProjectRequest>,
) -> Result<CreateProjectResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let asked = Asked {
        allocation: &body.allocation,
        settlement_kato: &body.settlement_kato,
        category: body.category,
        title: &body.title,
        borrower_id: &body.borrower_id,
        cost_tiyn: body.cost_tiyn,
        standard_codes: &body.standard_codes,
    };
    let now = chrono::Utc::now().timestamp_micros();
    let on_behalf = OnBehalf::of(request)?;
    let project = prepare(caller, directory, &on_behalf, asked, now).await?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let project = &project;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let cost = Money::from_tiyn(project.cost_tiyn);
                let now = project.updated_at_micros;
                let moves = [(None, ProjectStatus::Planned)];
                let drawn = draw(tx, allocation_key(project), cost, now, &moves).await?;
                let settlement = settlement_of(project)?;
                store::coverage::add_live(
                    tx,
                    &project.program_code,
                    project.fiscal_year,
                    settlement,
                    1,
                )
                .await?;
                let (project, created) = insert(tx, project.clone()).await?;
                Ok((
                    CreateProjectResponse {
                        project: Some(to_proto(&project)),
                    },
                    [created].into_iter().chain(drawn).collect(),
                ))
            })
        })
        .await
}

pub async fn import(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &Request<ImportProjectsRequest>,
) -> Result<ImportProjectsResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    if body.projects.is_empty() || body.projects.len() > IMPORT_MAX {
        return Err(Error::invalid(
            "projects",
            format!("between 1 and {IMPORT_MAX} projects per call"),
        ));
    }
    let now = chrono::Utc::now().timestamp_micros();
    let on_behalf = OnBehalf::of(request)?;
    let mut violations = Violations::new();
    let mut prepared = Vec::with_capacity(body.projects.len());
    for (index, item) in body.projects.iter().enumerate() {
        let prefix = format!("projects[{index}]");
        let status = status_from_proto(item.status);
        let mut own = Violations::new();
        check_imported(&mut own, status, item.cost_tiyn, item.disbursed_tiyn);
        violations.nest(&prefix, own.into_result())?;
        let asked = Asked {
            allocation: &item.allocation,
            settlement_kato: &item.settlement_kato,
            category: item.category,
            title: &item.title,
            borrower_id: &item.borrower_id,
            cost_tiyn: item.cost_tiyn,
            standard_codes: &item.standard_codes,
        };
        match prepare(caller, directory, &on_behalf, asked, now).await {
            Ok(project) => {
                if let Some(status) = status {
                    prepared.push((project, status, item.disbursed_tiyn));
                }
            }
            Err(error) => violations.nest(&prefix, Err(error))?,
        }
    }
    violations.into_result()?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let prepared = &prepared;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                // Each allocation gives once for the whole batch (what its
                // projects keep: the cost, or what was disbursed of an ended
                // one), in a fixed order; then disbursements go up each chain.
                #[derive(Default)]
                struct Batch {
                    kept: Money,
                    disbursed: Money,
                    moves: Vec<(Option<ProjectStatus>, ProjectStatus)>,
                }
                let mut per_allocation: BTreeMap<(&str, i32, &str), Batch> = BTreeMap::new();
                let mut live: BTreeMap<(&str, i32, Kato), i64> = BTreeMap::new();
                for (project, status, disbursed) in prepared {
                    let cost = Money::from_tiyn(project.cost_tiyn);
                    let disbursed = Money::from_tiyn(*disbursed);
                    let released = released_by(*status, cost, disbursed)?;
                    let batch = per_allocation.entry(allocation_key(project)).or_default();
                    batch.kept = batch
                        .kept
                        .checked_add(cost.checked_sub(released).map_err(Error::internal)?)
                        .map_err(Error::internal)?;
                    batch.disbursed = batch
                        .disbursed
                        .checked_add(disbursed)
                        .map_err(Error::internal)?;
                    batch.moves.push((None, *status));
                    if *status != ProjectStatus::Cancelled {
                        let key = (
                            project.program_code.as_str(),
                            project.fiscal_year,
                            settlement_of(project)?,
                        );
                        *live.entry(key).or_default() += 1;
                    }
                }
                let mut changes = Vec::new();
                for (key, batch) in &per_allocation {
                    changes.extend(draw(tx, *key, batch.kept, now, &batch.moves).await?);
                }
                for ((program, year, kato), batch) in &per_allocation {
                    if batch.disbursed > Money::ZERO {
                        add_disbursed(tx, program, *year, kato, batch.disbursed, now).await?;
                    }
                }
                for ((program, year, settlement), count) in live {
                    store::coverage::add_live(tx, program, year, settlement, count).await?;
                }
                let mut names = Vec::with_capacity(prepared.len());
                for (project, status, disbursed) in prepared {
                    let arrived = projects::Model {
                        status: status.as_str().to_owned(),
                        disbursed_tiyn: *disbursed,
                        ..project.clone()
                    };
                    let (project, created) = insert(tx, arrived).await?;
                    changes.push(created);
                    if *status == ProjectStatus::Completed {
                        changes.extend(meet(tx, &project, now).await?);
                    }
                    names.push(name(project.id));
                }
                Ok((ImportProjectsResponse { projects: names }, changes))
            })
        })
        .await
}

/// The project, locked, after checking the caller may write where it is and
/// read the version it expects.
async fn project_for_update(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
    expected_version: Option<i64>,
) -> Result<projects::Model, Error> {
    let this = name(id);
    let project = store::project::find(tx, id, true)
        .await?
        .ok_or_else(|| Error::not_found("project", &this))?;
    caller.require_write_at(settlement_of(&project)?)?;
    if let Some(expected) = expected_version
        && expected != project.version
    {
        return Err(Error::stale_version(&this, expected, project.version));
    }
    Ok(project)
}

pub async fn transition(
    records: &Records,
    request: &Request<TransitionProjectRequest>,
) -> Result<TransitionProjectResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let id = parse_name(&body.project)?;
    let to = status_from_proto(body.to_status);
    let mut violations = Violations::new();
    violations.check(to.is_some(), "to_status", "required");
    violations.require_version(body.expected_version);
    let to = violations.then(|| to)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let current =
                    project_for_update(tx, caller, id, Some(body.expected_version)).await?;
                let from = status_of(&current)?;
                check_transition(&name(id), from, to)?;
                let now = chrono::Utc::now().timestamp_micros();
                let project = projects::Model {
                    status: to.as_str().to_owned(),
                    version: current.version + 1,
                    updated_at_micros: now,
                    ..current
                };
                store::project::update(tx, project.clone()).await?;
                let mut changes = vec![Change::versioned("project", name(id), project.version)];
                changes.extend(arrive(tx, &project, from, to, now).await?);
                Ok((
                    TransitionProjectResponse {
                        project: Some(to_proto(&project)),
                    },
                    changes,
                ))
            })
        })
        .await
}

/// Adds `amount` to what is disbursed at the allocation of `kato` and every one
/// above it, child to parent.
async fn add_disbursed(
    tx: &impl ConnectionTrait,
    program: &str,
    year: i32,
    kato: &str,
    amount: Money,
    now: i64,
) -> Result<(), Error> {
    let mut next = Some(kato.to_owned());
    while let Some(kato) = next {
        let current = store::allocation::find(tx, (program, year, &kato), true)
            .await?
            .ok_or_else(|| Error::internal(format!("allocation chain broken at {kato}")))?;
        let disbursed = Money::from_tiyn(current.disbursed_tiyn)
            .checked_add(amount)
            .map_err(Error::internal)?;
        next = current.parent_kato.clone();
        // Disbursed is a running total, not something callers set: it moves no
        // version, so it never makes an adjustment stale.
        store::allocation::save(
            tx,
            allocation::Model {
                disbursed_tiyn: disbursed.tiyn(),
                updated_at_micros: now,
                ..current
            },
            false,
        )
        .await?;
    }
    Ok(())
}

pub async fn disburse(
    records: &Records,
    request: &Request<RecordDisbursementRequest>,
) -> Result<RecordDisbursementResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let id = parse_name(&body.project)?;
    let mut violations = Violations::new();
    violations.check(body.amount_tiyn > 0, "amount_tiyn", "must be positive");
    let payment_date = body
        .payment_date
        .as_ref()
        .and_then(aimaq_proto::date_from_proto);
    violations.check(
        payment_date.is_some(),
        "payment_date",
        "required: a valid date",
    );
    let reference = body.payment_reference.trim();
    violations.check(!reference.is_empty(), "payment_reference", "required");
    violations.check(
        reference.chars().count() <= REFERENCE_MAX_CHARS,
        "payment_reference",
        format!("at most {REFERENCE_MAX_CHARS} characters"),
    );
    let payment_date = violations.then(|| payment_date)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let current = project_for_update(tx, caller, id, None).await?;
                let amount = Money::from_tiyn(body.amount_tiyn);
                let disbursed = Money::from_tiyn(current.disbursed_tiyn);
                check_disbursement(
                    &name(id),
                    status_of(&current)?,
                    Money::from_tiyn(current.cost_tiyn),
                    disbursed,
                    amount,
                )?;
                let now = chrono::Utc::now().timestamp_micros();
                let project = projects::Model {
                    disbursed_tiyn: disbursed
                        .checked_add(amount)
                        .map_err(Error::internal)?
                        .tiyn(),
                    version: current.version + 1,
                    updated_at_micros: now,
                    ..current
                };
                store::project::update(tx, project.clone()).await?;
                let disbursement = disbursements::Model {
                    id: 0,
                    project_id: id,
                    amount_tiyn: body.amount_tiyn,
                    payment_date: payment_date.to_string(),
                    payment_reference: reference.to_owned(),
                    recorded_at_micros: now,
                };
                store::project::insert_disbursement(tx, disbursement).await?;
                add_disbursed(
                    tx,
                    &project.program_code,
                    project.fiscal_year,
                    &project.allocation_kato,
                    amount,
                    now,
                )
                .await?;
                Ok((
                    RecordDisbursementResponse {
                        disbursement: Some(Disbursement {
                            project: name(id),
                            amount_tiyn: body.amount_tiyn,
                            payment_date: Some(aimaq_proto::date_to_proto(payment_date)),
                            payment_reference: reference.to_owned(),
                            record_time: Some(aimaq_proto::timestamp_from_micros(now)),
                        }),
                        project: Some(to_proto(&project)),
                    },
                    vec![Change::versioned("project", name(id), project.version)],
                ))
            })
        })
        .await
}

pub async fn get(
    records: &Records,
    request: &GetProjectRequest,
) -> Result<GetProjectResponse, Error> {
    let id = parse_name(&request.project)?;
    let project = store::project::find(records.database().connection(), id, false)
        .await?
        .ok_or_else(|| Error::not_found("project", name(id)))?;
    Ok(GetProjectResponse {
        project: Some(to_proto(&project)),
    })
}

pub async fn list(
    records: &Records,
    request: &ListProjectsRequest,
) -> Result<ListProjectsResponse, Error> {
    let mut violations = Violations::new();
    let prefix = violations
        .take(
            "territory_kato",
            Kato::parse_subtree(&request.territory_kato),
        )
        .flatten();
    let status = status_from_proto(request.status);
    violations.check(
        request.status == 0 || status.is_some(),
        "status",
        "not a project status",
    );
    let category = category_from_proto(request.category);
    violations.check(
        request.category == 0 || category.is_some(),
        "category",
        "not a project category",
    );
    violations.into_result()?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let filter = Filter {
        program: (!request.program_code.is_empty()).then(|| request.program_code.clone()),
        year: (request.fiscal_year != 0).then_some(request.fiscal_year),
        kato_prefix: prefix,
        status: status.map(ProjectStatus::as_str),
        category: category.map(ProjectCategory::as_str),
    };
    let (rows, next_page_token) =
        store::project::list(records.database().connection(), filter, &page).await?;
    Ok(ListProjectsResponse {
        projects: rows.iter().map(to_proto).collect(),
        next_page_token,
    })
}
