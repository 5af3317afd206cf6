//! Programmes and their yearly envelopes.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

pub mod programs {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "programs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub title_kk: String,
        pub title_ru: String,
        pub title_en: String,
        pub kind: String,
        pub funding_source: String,
        pub first_year: i32,
        pub last_year: i32,
        pub version: i64,
        pub created_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod envelopes {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "envelopes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub program_code: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub fiscal_year: i32,
        pub amount_tiyn: i64,
        /// What region allocations draw from it, kept with every allocation change.
        pub allocated_tiyn: i64,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn find(db: &impl ConnectionTrait, code: &str) -> Result<Option<programs::Model>, Error> {
    Ok(programs::Entity::find_by_id(code.to_owned())
        .one(db)
        .await?)
}

pub async fn insert(db: &impl ConnectionTrait, program: programs::Model) -> Result<(), Error> {
    programs::Entity::insert::<programs::ActiveModel>(program.into())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn envelopes_of(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<Vec<envelopes::Model>, Error> {
    Ok(envelopes::Entity::find()
        .filter(envelopes::Column::ProgramCode.eq(code))
        .order_by_asc(envelopes::Column::FiscalYear)
        .all(db)
        .await?)
}

/// The envelope, locked for the rest of the transaction (on PostgreSQL).
pub async fn envelope_for_update(
    db: &impl ConnectionTrait,
    code: &str,
    fiscal_year: i32,
) -> Result<Option<envelopes::Model>, Error> {
    Ok(
        envelopes::Entity::find_by_id((code.to_owned(), fiscal_year))
            .lock_exclusive()
            .one(db)
            .await?,
    )
}

pub async fn envelope(
    db: &impl ConnectionTrait,
    code: &str,
    fiscal_year: i32,
) -> Result<Option<envelopes::Model>, Error> {
    Ok(
        envelopes::Entity::find_by_id((code.to_owned(), fiscal_year))
            .one(db)
            .await?,
    )
}

pub async fn save_envelope(
    db: &impl ConnectionTrait,
    envelope: envelopes::Model,
    created: bool,
) -> Result<(), Error> {
    aimaq_storage::save(db, envelopes::ActiveModel::from(envelope), created).await
}

/// Programmes by code, optionally of a kind and running in a year.
pub async fn list(
    db: &impl ConnectionTrait,
    kind: Option<&str>,
    year: Option<i32>,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<programs::Model>, String), Error> {
    let mut query = programs::Entity::find();
    if let Some(kind) = kind {
        query = query.filter(programs::Column::Kind.eq(kind));
    }
    if let Some(year) = year {
        query = query
            .filter(programs::Column::FirstYear.lte(year))
            .filter(programs::Column::LastYear.gte(year));
    }
    if let Some(after) = &page.after {
        query = query.filter(programs::Column::Code.gt(after.clone()));
    }
    let rows = query
        .order_by_asc(programs::Column::Code)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(page.finish(rows, |row| row.code.clone()))
}
