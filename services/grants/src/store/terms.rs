//! MCI values and programme terms, each by the date it takes effect.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{ExprTrait, Func, IntoIden, Query, SelectStatement};
use sea_orm::{QueryOrder, QuerySelect};

use aimaq_types::Money;
use chrono::NaiveDate;

use super::found;
use crate::domain::terms::{Field, MciRate, Policy, PolicyRecord};

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

/// A date as stored (ISO); one that does not parse is a fault of the store.
pub(super) fn stored_date(text: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(Error::internal)
}

/// `mci-rates/{date}`.
pub fn mci_name(date: NaiveDate) -> String {
    format!("mci-rates/{date}")
}

/// `policies/{date}`.
pub fn policy_name(date: NaiveDate) -> String {
    format!("policies/{date}")
}

impl TryFrom<mci_rates::Model> for MciRate {
    type Error = Error;

    fn try_from(row: mci_rates::Model) -> Result<MciRate, Error> {
        Ok(MciRate {
            effective_from: stored_date(&row.effective_from)?,
            value: Money::from_tiyn(row.value_tiyn),
            source: row.source,
            version: row.version,
        })
    }
}

impl TryFrom<policies::Model> for PolicyRecord {
    type Error = Error;

    fn try_from(row: policies::Model) -> Result<PolicyRecord, Error> {
        Ok(PolicyRecord {
            effective_from: stored_date(&row.effective_from)?,
            terms: Policy {
                allowance_mci: row.allowance_mci,
                loan_cap_mci: row.loan_cap_mci,
                loan_rate_bp: row.loan_rate_bp,
                max_term_months: row.max_term_months,
                obligation_months: row.obligation_months,
                eligible_fields: row
                    .eligible_fields
                    .split(',')
                    .filter_map(Field::parse)
                    .collect(),
            },
            source: row.source,
            version: row.version,
        })
    }
}

/// The rows of a stored pair of terms as domain values.
pub(super) fn terms_of(
    (policy, mci): (policies::Model, mci_rates::Model),
) -> Result<(PolicyRecord, MciRate), Error> {
    Ok((policy.try_into()?, mci.try_into()?))
}

/// The MCI value taking effect on exactly `date`, locked (on PostgreSQL).
pub async fn mci_for_update(
    db: &impl ConnectionTrait,
    date: NaiveDate,
) -> Result<Option<MciRate>, Error> {
    found(
        mci_rates::Entity::find_by_id(date.to_string())
            .lock_exclusive()
            .one(db)
            .await?,
    )
}

/// The MCI value in force on `date`: the latest to take effect on or before it.
pub async fn mci_on(db: &impl ConnectionTrait, date: NaiveDate) -> Result<Option<MciRate>, Error> {
    found(
        mci_rates::Entity::find()
            .filter(mci_rates::Column::EffectiveFrom.lte(date.to_string()))
            .order_by_desc(mci_rates::Column::EffectiveFrom)
            .one(db)
            .await?,
    )
}

pub async fn mci_rates(db: &impl ConnectionTrait) -> Result<Vec<MciRate>, Error> {
    mci_rates::Entity::find()
        .order_by_asc(mci_rates::Column::EffectiveFrom)
        .all(db)
        .await?
        .into_iter()
        .map(MciRate::try_from)
        .collect()
}

pub async fn save_mci(
    db: &impl ConnectionTrait,
    rate: &MciRate,
    created: bool,
) -> Result<(), Error> {
    let row = mci_rates::Model {
        effective_from: rate.effective_from.to_string(),
        value_tiyn: rate.value.tiyn(),
        source: rate.source.clone(),
        version: rate.version,
    };
    aimaq_storage::save(db, mci_rates::ActiveModel::from(row), created).await
}

/// The terms taking effect on exactly `date`, locked (on PostgreSQL).
pub async fn policy_for_update(
    db: &impl ConnectionTrait,
    date: NaiveDate,
) -> Result<Option<PolicyRecord>, Error> {
    found(
        policies::Entity::find_by_id(date.to_string())
            .lock_exclusive()
            .one(db)
            .await?,
    )
}

/// The terms in force on `date`.
pub async fn policy_on(
    db: &impl ConnectionTrait,
    date: NaiveDate,
) -> Result<Option<PolicyRecord>, Error> {
    found(
        policies::Entity::find()
            .filter(policies::Column::EffectiveFrom.lte(date.to_string()))
            .order_by_desc(policies::Column::EffectiveFrom)
            .one(db)
            .await?,
    )
}

/// The terms and the MCI value in force on `date`, in one query: none when
/// either is missing.
pub async fn terms_on(
    db: &impl ConnectionTrait,
    date: NaiveDate,
) -> Result<Option<(PolicyRecord, MciRate)>, Error> {
    let date = &date.to_string();
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
    found
        .and_then(|(policy, mci)| Some((policy, mci?)))
        .map(terms_of)
        .transpose()
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
    policy: &PolicyRecord,
    created: bool,
) -> Result<(), Error> {
    let terms = &policy.terms;
    let row = policies::Model {
        effective_from: policy.effective_from.to_string(),
        allowance_mci: terms.allowance_mci,
        loan_cap_mci: terms.loan_cap_mci,
        loan_rate_bp: terms.loan_rate_bp,
        max_term_months: terms.max_term_months,
        obligation_months: terms.obligation_months,
        eligible_fields: terms
            .eligible_fields
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(","),
        source: policy.source.clone(),
        version: policy.version,
    };
    aimaq_storage::save(db, policies::ActiveModel::from(row), created).await
}
