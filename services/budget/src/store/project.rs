//! Projects and their disbursements.

use aimaq_error::Error;
use aimaq_types::Money;
use sea_orm::entity::prelude::*;

use super::stored_kato;
use crate::domain::project::{Disbursement, Project, ProjectCategory, ProjectStatus, Tally};

aimaq_storage::text_enum!(StatusColumn for ProjectStatus {
    Planned = "planned",
    Approved = "approved",
    InProgress = "in_progress",
    Completed = "completed",
    Cancelled = "cancelled",
});

aimaq_storage::text_enum!(CategoryColumn for ProjectCategory {
    SocialInfrastructure = "social_infrastructure",
    EngineeringInfrastructure = "engineering_infrastructure",
    TransportInfrastructure = "transport_infrastructure",
    Entrepreneurship = "entrepreneurship",
});

pub mod projects {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "projects")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub program_code: String,
        pub fiscal_year: i32,
        /// The territory of the allocation it is committed against.
        pub allocation_kato: String,
        pub settlement_kato: String,
        /// The settlement's region and district, kept for set-based reports.
        pub region_kato: String,
        pub district_kato: String,
        pub category: super::CategoryColumn,
        pub title: String,
        pub borrower_id: String,
        pub cost_tiyn: i64,
        pub disbursed_tiyn: i64,
        pub status: super::StatusColumn,
        /// Codes of the standards it meets once completed, comma-separated.
        pub standard_codes: String,
        pub version: i64,
        pub created_at_micros: i64,
        pub updated_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod disbursements {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "disbursements")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub project_id: i64,
        pub amount_tiyn: i64,
        /// ISO date.
        pub payment_date: String,
        pub payment_reference: String,
        pub recorded_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub fn name(id: i64) -> String {
    format!("projects/{id}")
}

/// The id in `projects/{id}`.
pub fn parse_name(text: &str) -> Result<i64, Error> {
    aimaq_storage::id_from_name(text, "projects", "project")
}

impl TryFrom<projects::Model> for Project {
    type Error = Error;

    fn try_from(row: projects::Model) -> Result<Project, Error> {
        Ok(Project {
            id: row.id,
            allocation: stored_kato(&row.allocation_kato)?,
            settlement: stored_kato(&row.settlement_kato)?,
            program_code: row.program_code,
            fiscal_year: row.fiscal_year,
            category: row.category.into(),
            title: row.title,
            borrower_id: row.borrower_id,
            cost: Money::from_tiyn(row.cost_tiyn),
            disbursed: Money::from_tiyn(row.disbursed_tiyn),
            status: row.status.into(),
            standard_codes: row
                .standard_codes
                .split(',')
                .filter(|code| !code.is_empty())
                .map(str::to_owned)
                .collect(),
            version: row.version,
            created_at_micros: row.created_at_micros,
            updated_at_micros: row.updated_at_micros,
        })
    }
}

impl From<Project> for projects::Model {
    fn from(project: Project) -> projects::Model {
        projects::Model {
            id: project.id,
            program_code: project.program_code,
            fiscal_year: project.fiscal_year,
            allocation_kato: project.allocation.to_string(),
            settlement_kato: project.settlement.to_string(),
            region_kato: project.settlement.region().to_string(),
            district_kato: project.settlement.district().to_string(),
            category: project.category.into(),
            title: project.title,
            borrower_id: project.borrower_id,
            cost_tiyn: project.cost.tiyn(),
            disbursed_tiyn: project.disbursed.tiyn(),
            status: project.status.into(),
            standard_codes: project.standard_codes.join(","),
            version: project.version,
            created_at_micros: project.created_at_micros,
            updated_at_micros: project.updated_at_micros,
        }
    }
}

/// Inserts a new project and returns it with its id.
pub async fn insert(db: &impl ConnectionTrait, project: Project) -> Result<Project, Error> {
    let mut model = projects::ActiveModel::from(projects::Model::from(project.clone())).reset_all();
    model.id = sea_orm::ActiveValue::NotSet;
    let id = projects::Entity::insert(model)
        .exec(db)
        .await?
        .last_insert_id;
    Ok(Project { id, ..project })
}

/// The project, locked for the rest of the transaction when `lock` (on PostgreSQL).
pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<Option<Project>, Error> {
    aimaq_storage::find_by_id::<projects::Entity>(db, id, lock)
        .await?
        .map(Project::try_from)
        .transpose()
}

pub async fn update(db: &impl ConnectionTrait, project: Project) -> Result<(), Error> {
    let row = projects::Model::from(project);
    projects::Entity::update(projects::ActiveModel::from(row).reset_all())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_disbursement(
    db: &impl ConnectionTrait,
    disbursement: &Disbursement,
) -> Result<(), Error> {
    let row = disbursements::Model {
        id: 0,
        project_id: disbursement.project_id,
        amount_tiyn: disbursement.amount.tiyn(),
        payment_date: disbursement.payment_date.to_string(),
        payment_reference: disbursement.payment_reference.clone(),
        recorded_at_micros: disbursement.recorded_at_micros,
    };
    let mut model = disbursements::ActiveModel::from(row).reset_all();
    model.id = sea_orm::ActiveValue::NotSet;
    disbursements::Entity::insert(model)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// What ListProjects filters by; `None` for any.
#[derive(Debug, Default)]
pub struct Filter {
    pub program: Option<String>,
    pub year: Option<i32>,
    pub kato_prefix: Option<String>,
    pub status: Option<ProjectStatus>,
    pub category: Option<ProjectCategory>,
}

/// Projects matching `filter`: those of a subtree by settlement and then in
/// the order they were created (an index's order, so a page reads only its
/// rows), any others in the order they were created.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<Project>, String), Error> {
    use projects::Column;
    let mut query = projects::Entity::find();
    let by_place = filter.kato_prefix.is_some();
    if let Some(program) = filter.program {
        query = query.filter(Column::ProgramCode.eq(program));
    }
    if let Some(year) = filter.year {
        query = query.filter(Column::FiscalYear.eq(year));
    }
    if let Some(prefix) = filter.kato_prefix {
        query = query.filter(aimaq_storage::subtree::within(
            Column::SettlementKato,
            prefix,
        ));
    }
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(StatusColumn::from(status)));
    }
    if let Some(category) = filter.category {
        query = query.filter(Column::Category.eq(CategoryColumn::from(category)));
    }
    let (rows, next) = if by_place {
        let pair = (Column::SettlementKato, Column::Id);
        aimaq_storage::paging::by_text_and_id(db, query, pair, page, |row| {
            (row.settlement_kato.clone(), row.id)
        })
        .await?
    } else {
        aimaq_storage::paging::by_id(db, query, Column::Id, page, |row| row.id).await?
    };
    let projects = rows
        .into_iter()
        .map(Project::try_from)
        .collect::<Result<_, _>>()?;
    Ok((projects, next))
}

/// How a subtree's projects are counted: a row per programme and status.
#[derive(Debug, sea_orm::FromQueryResult)]
struct TallyRow {
    program_code: String,
    status: StatusColumn,
    count: i64,
    cost_tiyn: i64,
}

/// The projects placed in a subtree, by programme and status: how many and
/// what they cost. Counted rather than kept: only a settlement's or a rural
/// district's subtree is asked for, and its few projects are an index range.
pub async fn tally_of_place(db: &impl ConnectionTrait, prefix: &str) -> Result<Vec<Tally>, Error> {
    use projects::Column;
    use sea_orm::{QuerySelect, sea_query::Expr};
    let rows = projects::Entity::find()
        .select_only()
        .column(Column::ProgramCode)
        .column(Column::Status)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "count")
        .column_as(Expr::cust("CAST(SUM(cost_tiyn) AS BIGINT)"), "cost_tiyn")
        .filter(aimaq_storage::subtree::within(
            Column::SettlementKato,
            prefix,
        ))
        .group_by(Column::ProgramCode)
        .group_by(Column::Status)
        .into_model::<TallyRow>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Tally {
            program_code: row.program_code,
            status: row.status.into(),
            count: row.count,
            cost: Money::from_tiyn(row.cost_tiyn),
        })
        .collect())
}
