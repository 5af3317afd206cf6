//! CreateProject, ImportProjects, GetProject, TransitionProject,
//! RecordDisbursement, ListProjects.

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::{self as pb, *};
use aimaq_records::{Mutation, Records};
use aimaq_storage::paging::Page;
use aimaq_types::{Kato, Money};
use tonic::Request;

use crate::domain::project::{
    Disbursement as Payment, Project as Kept, ProjectCategory, ProjectStatus, check_imported,
    check_new,
};
use crate::ops;
use crate::store::allocation::{self, parse_name as parse_allocation};
use crate::store::project::{Filter, name, parse_name};
use aimaq_territories::TerritoryDirectory;

fn status_from_proto(value: i32) -> Option<ProjectStatus> {
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

fn category_to_proto(category: ProjectCategory) -> pb::ProjectCategory {
    match category {
        ProjectCategory::SocialInfrastructure => pb::ProjectCategory::SocialInfrastructure,
        ProjectCategory::EngineeringInfrastructure => {
            pb::ProjectCategory::EngineeringInfrastructure
        }
        ProjectCategory::TransportInfrastructure => pb::ProjectCategory::TransportInfrastructure,
        ProjectCategory::Entrepreneurship => pb::ProjectCategory::Entrepreneurship,
    }
}

pub(super) fn to_proto(project: &Kept) -> Project {
    let key = (
        project.program_code.as_str(),
        project.fiscal_year,
        project.allocation,
    );
    Project {
        name: name(project.id),
        allocation: allocation::name(key),
        program_code: project.program_code.clone(),
        fiscal_year: project.fiscal_year,
        settlement_kato: project.settlement.to_string(),
        category: category_to_proto(project.category) as i32,
        title: project.title.clone(),
        borrower_id: project.borrower_id.clone(),
        cost_tiyn: project.cost.tiyn(),
        disbursed_tiyn: project.disbursed.tiyn(),
        status: status_to_proto(project.status) as i32,
        standard_codes: project.standard_codes.clone(),
        version: project.version,
        update_time: Some(aimaq_proto::timestamp_from_micros(
            project.updated_at_micros,
        )),
    }
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
) -> Result<Kept, Error> {
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
    super::require_settlement(directory, on_behalf, settlement, Some(year)).await?;
    Ok(Kept {
        id: 0,
        program_code: program,
        fiscal_year: year,
        allocation: allocation_kato,
        settlement,
        category,
        title: asked.title.trim().to_owned(),
        borrower_id: asked.borrower_id.to_owned(),
        cost: Money::from_tiyn(asked.cost_tiyn),
        disbursed: Money::ZERO,
        status: ProjectStatus::Planned,
        standard_codes: asked.standard_codes.to_vec(),
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
    ops::projects::create(records, &mutation, &project, |project| {
        CreateProjectResponse {
            project: Some(to_proto(project)),
        }
    })
    .await
}

/// Most projects one ImportProjects call may carry.
const IMPORT_MAX: usize = 1000;

/// Checks one imported project: what a new one must be, and the status and
/// disbursed total it arrives with.
async fn prepare_imported(
    caller: &Caller,
    directory: &TerritoryDirectory,
    on_behalf: &OnBehalf,
    item: &ImportedProject,
    now: i64,
) -> Result<Kept, Error> {
    let status = status_from_proto(item.status);
    let mut own = Violations::new();
    check_imported(&mut own, status, item.cost_tiyn, item.disbursed_tiyn);
    let mut violations = Violations::new();
    violations.nest("", own.into_result())?;
    let asked = Asked {
        allocation: &item.allocation,
        settlement_kato: &item.settlement_kato,
        category: item.category,
        title: &item.title,
        borrower_id: &item.borrower_id,
        cost_tiyn: item.cost_tiyn,
        standard_codes: &item.standard_codes,
    };
    let prepared = prepare(caller, directory, on_behalf, asked, now).await;
    let project = match prepared {
        Ok(project) => Some(project),
        Err(error) => {
            violations.nest("", Err(error))?;
            None
        }
    };
    let (project, status) = violations.then(|| Some((project?, status?)))?;
    Ok(Kept {
        status,
        disbursed: Money::from_tiyn(item.disbursed_tiyn),
        ..project
    })
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
        match prepare_imported(caller, directory, &on_behalf, item, now).await {
            Ok(project) => prepared.push(project),
            Err(error) => violations.nest(&format!("projects[{index}]"), Err(error))?,
        }
    }
    violations.into_result()?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    if body.validate_only {
        return Ok(ImportProjectsResponse::default());
    }
    ops::projects::import(records, &mutation, &prepared, |projects| {
        ImportProjectsResponse { projects }
    })
    .await
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
    let asked = ops::projects::Transition {
        id,
        to,
        expected_version: body.expected_version,
    };
    let may_write = |settlement| caller.require_write_at(settlement);
    ops::projects::transition(records, &mutation, asked, may_write, |project| {
        TransitionProjectResponse {
            project: Some(to_proto(project)),
        }
    })
    .await
}

/// Longest payment reference accepted.
const REFERENCE_MAX_CHARS: usize = 100;

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
    let payment = Payment {
        project_id: id,
        amount: Money::from_tiyn(body.amount_tiyn),
        payment_date,
        payment_reference: reference.to_owned(),
        recorded_at_micros: 0,
    };
    let may_write = |settlement| caller.require_write_at(settlement);
    ops::projects::disburse(
        records,
        &mutation,
        &payment,
        may_write,
        |project, payment| RecordDisbursementResponse {
            disbursement: Some(Disbursement {
                project: name(payment.project_id),
                amount_tiyn: payment.amount.tiyn(),
                payment_date: Some(aimaq_proto::date_to_proto(payment.payment_date)),
                payment_reference: payment.payment_reference.clone(),
                record_time: Some(aimaq_proto::timestamp_from_micros(
                    payment.recorded_at_micros,
                )),
            }),
            project: Some(to_proto(project)),
        },
    )
    .await
}

pub async fn get(
    records: &Records,
    request: &GetProjectRequest,
) -> Result<GetProjectResponse, Error> {
    let id = parse_name(&request.project)?;
    let project = ops::projects::get(records, id).await?;
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
        status,
        category,
    };
    let (projects, next_page_token) = ops::projects::list(records, filter, &page).await?;
    Ok(ListProjectsResponse {
        projects: projects.iter().map(to_proto).collect(),
        next_page_token,
    })
}
