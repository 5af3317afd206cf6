//! The regions' yearly quotas of allowances and loan money.

use aimaq_error::Error;
use aimaq_types::{Kato, Money};
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query, UpdateStatement};

use super::{found, stored_kato};
use crate::domain::application::Quota;

pub mod quotas {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "quotas")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub region_kato: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub allowance_count: i32,
        pub loan_amount_tiyn: i64,
        pub allowances_approved: i32,
        pub loans_approved_tiyn: i64,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `quotas/{region}/{year}`.
pub fn name(region: Kato, year: i32) -> String {
    format!("quotas/{region}/{year}")
}

impl TryFrom<quotas::Model> for Quota {
    type Error = Error;

    fn try_from(row: quotas::Model) -> Result<Quota, Error> {
        Ok(Quota {
            region: stored_kato(&row.region_kato)?,
            year: row.year,
            allowance_count: row.allowance_count,
            loan_amount: Money::from_tiyn(row.loan_amount_tiyn),
            allowances_approved: row.allowances_approved,
            loans_approved: Money::from_tiyn(row.loans_approved_tiyn),
            version: row.version,
        })
    }
}

/// The quota, locked for the rest of the transaction when `lock` (on
/// PostgreSQL).
pub async fn find(
    db: &impl ConnectionTrait,
    region: Kato,
    year: i32,
    lock: bool,
) -> Result<Option<Quota>, Error> {
    let mut query = quotas::Entity::find_by_id((region.to_string(), year));
    if lock {
        query = query.lock_exclusive();
    }
    found(query.one(db).await?)
}

pub async fn save(db: &impl ConnectionTrait, quota: &Quota, created: bool) -> Result<(), Error> {
    let row = quotas::Model {
        region_kato: quota.region.to_string(),
        year: quota.year,
        allowance_count: quota.allowance_count,
        loan_amount_tiyn: quota.loan_amount.tiyn(),
        allowances_approved: quota.allowances_approved,
        loans_approved_tiyn: quota.loans_approved.tiyn(),
        version: quota.version,
    };
    aimaq_storage::save(db, quotas::ActiveModel::from(row), created).await
}

/// Adds an approval to the region's quota for the year in one statement, which
/// locks the row, if the quota then still holds it. The new version, or `None`
/// when the quota is not set or would be exceeded.
pub async fn draw_on(
    db: &impl ConnectionTrait,
    (region, year): (Kato, i32),
    allowances: i32,
    loans: Money,
) -> Result<Option<i64>, Error> {
    let region = region.to_string();
    let update = draw((&region, year), allowances, loans.tiyn())
        .returning_col(quotas::Column::Version)
        .to_owned();
    let statement = sea_orm::StatementBuilder::build(&update, &db.get_database_backend());
    match db.query_one_raw(statement).await? {
        Some(row) => Ok(Some(row.try_get::<i64>("", "version")?)),
        None => Ok(None),
    }
}

/// The `UPDATE` of [`draw_on`], to send with others; it changes no row when
/// the quota is not set or would be exceeded.
pub(super) fn draw(
    (region, year): (&str, i32),
    allowances: i32,
    loans_tiyn: i64,
) -> UpdateStatement {
    use quotas::Column;
    Query::update()
        .table(quotas::Entity)
        .value(
            Column::AllowancesApproved,
            Expr::col(Column::AllowancesApproved).add(allowances),
        )
        .value(
            Column::LoansApprovedTiyn,
            Expr::col(Column::LoansApprovedTiyn).add(loans_tiyn),
        )
        .value(Column::Version, Expr::col(Column::Version).add(1))
        .and_where(Expr::col(Column::RegionKato).eq(region))
        .and_where(Expr::col(Column::Year).eq(year))
        .and_where(
            Expr::col(Column::AllowanceCount)
                .sub(Expr::col(Column::AllowancesApproved))
                .gte(allowances),
        )
        .and_where(
            Expr::col(Column::LoanAmountTiyn)
                .sub(Expr::col(Column::LoansApprovedTiyn))
                .gte(loans_tiyn),
        )
        .to_owned()
}
