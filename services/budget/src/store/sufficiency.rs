//! The sufficiency counts kept per scope (the republic, each region, each
//! district) in the transaction that changes a status: a national or regional
//! view reads a handful of rows, not every status.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};

use super::standard::Counts;
use crate::domain::standard::Tally;

pub mod standards {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sufficiency_counts")]
    pub struct Model {
        /// Empty for the republic, else a region's or district's code.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope_kato: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub standard_code: String,
        pub applicable: i64,
        pub met: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod settlements {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sufficiency_settlements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope_kato: String,
        /// Settlements with at least one status.
        pub settlements: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Adds `tally` to the kept counts: each row is added to, or made.
pub async fn add(db: &impl ConnectionTrait, tally: &Tally) -> Result<(), Error> {
    use standards::Column;
    let rows: Vec<_> = tally
        .standards
        .iter()
        .filter(|(_, delta)| **delta != (0, 0))
        .map(
            |((scope, code), (applicable, met))| standards::ActiveModel {
                scope_kato: sea_orm::Set(scope.clone()),
                standard_code: sea_orm::Set(code.clone()),
                applicable: sea_orm::Set(*applicable),
                met: sea_orm::Set(*met),
            },
        )
        .collect();
    if !rows.is_empty() {
        let on_conflict = OnConflict::columns([Column::ScopeKato, Column::StandardCode])
            .value(
                Column::Applicable,
                Expr::cust("sufficiency_counts.applicable + excluded.applicable"),
            )
            .value(
                Column::Met,
                Expr::cust("sufficiency_counts.met + excluded.met"),
            )
            .to_owned();
        standards::Entity::insert_many(rows)
            .on_conflict(on_conflict)
            .exec_without_returning(db)
            .await?;
    }
    let rows: Vec<_> = tally
        .settlements
        .iter()
        .filter(|(_, delta)| **delta != 0)
        .map(|(scope, delta)| settlements::ActiveModel {
            scope_kato: sea_orm::Set(scope.clone()),
            settlements: sea_orm::Set(*delta),
        })
        .collect();
    if !rows.is_empty() {
        let on_conflict = OnConflict::column(settlements::Column::ScopeKato)
            .value(
                settlements::Column::Settlements,
                Expr::cust("sufficiency_settlements.settlements + excluded.settlements"),
            )
            .to_owned();
        settlements::Entity::insert_many(rows)
            .on_conflict(on_conflict)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The kept counts of `scope`, per standard, and its settlements with a
/// status: two primary-key reads.
pub async fn of_scope(db: &impl ConnectionTrait, scope: &str) -> Result<(Vec<Counts>, i64), Error> {
    use sea_orm::QueryOrder;
    let counts = standards::Entity::find()
        .filter(standards::Column::ScopeKato.eq(scope))
        .order_by_asc(standards::Column::StandardCode)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Counts {
            standard_code: row.standard_code,
            applicable: row.applicable,
            met: row.met,
        })
        .collect();
    let settlements = settlements::Entity::find_by_id(scope.to_owned())
        .one(db)
        .await?
        .map_or(0, |row| row.settlements);
    Ok((counts, settlements))
}

#[cfg(test)]
mod tests;
