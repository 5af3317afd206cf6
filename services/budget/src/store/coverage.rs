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
    let key = (program.to_owned(), year, settlement.to_string());
    let current = settlements::Entity::find_by_id(key.clone())
        .lock_exclusive()
        .one(db)
        .await?;
    let before = current.as_ref().map_or(0, |c| c.live_projects);
    let after = before + delta;
    let row = settlements::ActiveModel::from(settlements::Model {
        program_code: key.0,
        fiscal_year: year,
        settlement_kato: key.2,
        live_projects: after,
    })
    .reset_all();
    if current.is_some() {
        settlements::Entity::update(row).exec(db).await?;
    } else {
        settlements::Entity::insert(row)
            .exec_without_returning(db)
            .await?;
    }
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
        districts::Entity::update(row).exec(db).await?;
    } else {
        districts::Entity::insert(row)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
