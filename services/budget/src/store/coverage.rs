//! Which settlements projects cover: live (not cancelled) projects per settlement
//! and year, and per district how many settlements have any. Kept with every
//! project change, so that reports read a row per district, not a row per
//! project.

use aimaq_error::Error;
use aimaq_types::Kato;
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;

pub mod settlements {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "settlement_coverage")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub program_code: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub fiscal_year: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub settlement_kato: String,
        pub live_projects: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod districts {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "district_coverage")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub program_code: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub fiscal_year: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub district_kato: String,
        pub region_kato: String,
        /// Settlements of the district with a live project.
        pub settlements: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Adds `delta` live projects at `settlement` in a programme's year; when that
/// makes the settlement covered, or no longer, its district's count follows.
pub async fn add_live(
    db: &impl ConnectionTrait,
    program: &str,
    year: i32,
    settlement: Kato,
    delta: i64,
) -> Result<(), Error> {
    // One statement: add to the settlement's count (a new row at the first
    // project), locking it, and read the count back.
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
    use settlements::Column;
    let mut upsert = Query::insert();
    upsert
        .into_table(settlements::Entity)
        .columns([
            Column::ProgramCode,
            Column::FiscalYear,
            Column::SettlementKato,
            Column::LiveProjects,
        ])
        .values_panic([
            program.into(),
            year.into(),
            settlement.to_string().into(),
            delta.into(),
        ])
        .on_conflict(
            OnConflict::columns([
                Column::ProgramCode,
                Column::FiscalYear,
                Column::SettlementKato,
            ])
            .value(
                Column::LiveProjects,
                Expr::col((settlements::Entity, Column::LiveProjects))
                    .add(Expr::col((Alias::new("excluded"), Column::LiveProjects))),
            )
            .to_owned(),
        )
        .returning_col(Column::LiveProjects);
    let statement = sea_orm::StatementBuilder::build(&upsert, &db.get_database_backend());
    let after = db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| Error::internal("the coverage upsert returned nothing"))?
        .try_get::<i64>("", "live_projects")?;
    let before = after - delta;
    let change = match (before > 0, after > 0) {
        (false, true) => 1,
        (true, false) => -1,
        _ => return Ok(()),
    };
    let district = settlement.district().to_string();
    let key = (program.to_owned(), year, district);
    let current = districts::Entity::find_by_id(key.clone())
        .lock_exclusive()
        .one(db)
        .await?;
    let row = districts::ActiveModel::from(districts::Model {
        settlements: current.as_ref().map_or(0, |c| c.settlements) + change,
        program_code: key.0,
        fiscal_year: year,
        district_kato: key.2,
        region_kato: settlement.region().to_string(),
    })
    .reset_all();
    if current.is_some() {
        districts::Entity::update(row)
            .exec_without_returning(db)
            .await?;
    } else {
        districts::Entity::insert(row)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
