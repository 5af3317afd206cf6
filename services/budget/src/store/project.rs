//! Projects and their disbursements.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;

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
        pub category: String,
        pub title: String,
        pub borrower_id: String,
        pub cost_tiyn: i64,
        pub disbursed_tiyn: i64,
        pub status: String,
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

/// Inserts a new project and returns it with its id.
pub async fn insert(
    db: &impl ConnectionTrait,
    project: projects::Model,
) -> Result<projects::Model, Error> {
    let mut model = projects::ActiveModel::from(project.clone()).reset_all();
    model.id = sea_orm::ActiveValue::NotSet;
    let id = projects::Entity::insert(model)
        .exec(db)
        .await?
        .last_insert_id;
    Ok(projects::Model { id, ..project })
}

/// The project, locked for the rest of the transaction when `lock` (on PostgreSQL).
pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<Option<projects::Model>, Error> {
    aimaq_storage::find_by_id::<projects::Entity>(db, id, lock).await
}

pub async fn update(db: &impl ConnectionTrait, project: projects::Model) -> Result<(), Error> {
    projects::Entity::update(projects::ActiveModel::from(project).reset_all())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_disbursement(
    db: &impl ConnectionTrait,
    disbursement: disbursements::Model,
) -> Result<(), Error> {
    let mut model = disbursements::ActiveModel::from(disbursement).reset_all();
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
    pub status: Option<&'static str>,
    pub category: Option<&'static str>,
}

/// Projects matching `filter`, in the order they were created.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<projects::Model>, String), Error> {
    use projects::Column;
    let mut query = projects::Entity::find();
    if let Some(program) = filter.program {
        query = query.filter(Column::ProgramCode.eq(program));
    }
    if let Some(year) = filter.year {
        query = query.filter(Column::FiscalYear.eq(year));
    }
    if let Some(prefix) = filter.kato_prefix {
        query = query.filter(Column::SettlementKato.starts_with(prefix));
    }
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status));
    }
    if let Some(category) = filter.category {
        query = query.filter(Column::Category.eq(category));
    }
    aimaq_storage::paging::by_id(db, query, Column::Id, page, |row| row.id).await
}
