//! MCI values and programme terms, each by the date it takes effect.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{ExprTrait, Func, IntoIden, Query, SelectStatement};
use sea_orm::{QueryOrder, QuerySelect};

pub mod mci_rates {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mci_rates")]
    pub struct Model {
        /// ISO date.
        #[sea_orm(primary_key, auto_increment = false)]
        pub effective_from: String,
        pub value_tiyn: i64,
        pub source: String,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod policies {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "policies")]
    pub struct Model {
        /// ISO date.
        #[sea_orm(primary_key, auto_increment = false)]
        pub effective_from: String,
        pub allowance_mci: i32,
        pub loan_cap_mci: i32,
        pub loan_rate_bp: i32,
        pub max_term_months: i32,
        pub obligation_months: i32,
        /// Field codes, comma-separated.
        pub eligible_fields: String,
        pub source: String,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The MCI value taking effect on exactly `date`, locked (on PostgreSQL).
pub async fn mci_for_update(
    db: &impl ConnectionTrait,
    date: &str,
) -> Result<Option<mci_rates::Model>, Error> {
    Ok(mci_rates::Entity::find_by_id(date.to_owned())
        .lock_exclusive()
        .one(db)
        .await?)
}

/// The MCI value in force on `date`: the latest to take effect on or before it.
pub async fn mci_on(
    db: &impl ConnectionTrait,
    date: &str,
) -> Result<Option<mci_rates::Model>, Error> {
    Ok(mci_rates::Entity::find()
        .filter(mci_rates::Column::EffectiveFrom.lte(date))
        .order_by_desc(mci_rates::Column::EffectiveFrom)
        .one(db)
        .await?)
}

pub async fn mci_rates(db: &impl ConnectionTrait) -> Result<Vec<mci_rates::Model>, Error> {
    Ok(mci_rates::Entity::find()
        .order_by_asc(mci_rates::Column::EffectiveFrom)
        .all(db)
        .await?)
}

pub async fn save_mci(
    db: &impl ConnectionTrait,
    rate: mci_rates::Model,
    created: bool,
) -> Result<(), Error> {
    aimaq_storage::save(db, mci_rates::ActiveModel::from(rate), created).await
}

/// The terms taking effect on exactly `date`, locked (on PostgreSQL).
pub async fn policy_for_update(
    db: &impl ConnectionTrait,
    date: &str,
) -> Result<Option<policies::Model>, Error> {
    Ok(policies::Entity::find_by_id(date.to_owned())
        .lock_exclusive()
        .one(db)
        .await?)
}

/// The terms in force on `date`.
pub async fn policy_on(
    db: &impl ConnectionTrait,
    date: &str,
) -> Result<Option<policies::Model>, Error> {
    Ok(policies::Entity::find()
        .filter(policies::Column::EffectiveFrom.lte(date))
        .order_by_desc(policies::Column::EffectiveFrom)
        .one(db)
        .await?)
}

/// The terms and the MCI value in force on `date`, in one query: none when
/// either is missing.
pub async fn terms_on(
    db: &impl ConnectionTrait,
    date: &str,
) -> Result<Option<(policies::Model, mci_rates::Model)>, Error> {
    let mut both = policies::Entity::find().select_also(mci_rates::Entity);
    QuerySelect::query(&mut both).from(mci_rates::Entity);
    let found = both
        .filter(policies::Column::EffectiveFrom.in_subquery(latest(
            policies::Entity,
            policies::Column::EffectiveFrom,
            date,
        )))
        .filter(mci_rates::Column::EffectiveFrom.in_subquery(latest(
            mci_rates::Entity,
            mci_rates::Column::EffectiveFrom,
            date,
        )))
        .one(db)
        .await?;
    Ok(found.and_then(|(policy, mci)| Some((policy, mci?))))
}

/// The latest `column` of `table` on or before `date`.
pub(super) fn latest<T, C>(table: T, column: C, date: &str) -> SelectStatement
where
    T: IntoIden + Copy,
    C: IntoIden + Copy,
{
    Query::select()
        .expr(Func::max(Expr::col((table, column))))
        .from(table)
        .and_where(Expr::col((table, column)).lte(date))
        .to_owned()
}

pub async fn save_policy(
    db: &impl ConnectionTrait,
    policy: policies::Model,
    created: bool,
) -> Result<(), Error> {
    aimaq_storage::save(db, policies::ActiveModel::from(policy), created).await
}
