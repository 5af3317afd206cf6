//! What was granted, kept for the country, per region and per district, year,
//! field and age band in the transaction of each approval: the country's or a
//! region's statistics read a few hundred rows instead of every application,
//! and the national total since 2009 (on every answer) sums a few hundred
//! (`statistics::national`). An
//! application counts from its approval on and never stops counting (its
//! later states are all granted ones) and its amounts are fixed then, so the
//! approval is the one place the counts change.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveEnum, QueryOrder};

use super::application::applications;
use super::statistics::GRANTED;
use crate::domain::application::Application;
use crate::domain::statistics::{self as domain, Totals};

/// The level of a kept row: the country's (its scope empty), a region's or a
/// district's.
pub const COUNTRY: i32 = 0;
pub const REGION: i32 = 1;
pub const DISTRICT: i32 = 2;

pub mod counts {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "granted_counts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub level: i32,
        /// The region's or district's code.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope_kato: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub field: String,
        /// Empty when the decision fixed none.
        #[sea_orm(primary_key, auto_increment = false)]
        pub age_band: String,
        pub allowances: i64,
        pub allowances_tiyn: i64,
        pub loans: i64,
        pub loans_tiyn: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Adds a decided application to the counts of the country, its region and
/// its district, when the decision granted it.
pub async fn add(db: &impl ConnectionTrait, decided: &Application) -> Result<(), Error> {
    use counts::Column;
    let row = applications::Model::from(decided);
    let (Some(year), true) = (
        row.decision_year,
        GRANTED.contains(&row.status.to_value().as_str()),
    ) else {
        return Ok(());
    };
    let district = format!("{:0<9}", &row.settlement_kato[..4]);
    let rows = [
        (COUNTRY, String::new()),
        (REGION, row.region_kato.clone()),
        (DISTRICT, district),
    ];
    let rows = rows.map(|(level, scope)| counts::ActiveModel {
        level: sea_orm::Set(level),
        scope_kato: sea_orm::Set(scope),
        year: sea_orm::Set(year),
        field: sea_orm::Set(row.field.to_value()),
        age_band: sea_orm::Set(row.age_band.clone().unwrap_or_default()),
        allowances: sea_orm::Set(i64::from(row.allowance_tiyn > 0)),
        allowances_tiyn: sea_orm::Set(row.allowance_tiyn),
        loans: sea_orm::Set(i64::from(row.loan_amount_tiyn > 0)),
        loans_tiyn: sea_orm::Set(row.loan_amount_tiyn),
    });
    let mut on_conflict = OnConflict::columns([
        Column::Level,
        Column::ScopeKato,
        Column::Year,
        Column::Field,
        Column::AgeBand,
    ]);
    for column in ["allowances", "allowances_tiyn", "loans", "loans_tiyn"] {
        let sum = Expr::cust(format!("granted_counts.{column} + excluded.{column}"));
        let column = match column {
            "allowances" => Column::Allowances,
            "allowances_tiyn" => Column::AllowancesTiyn,
            "loans" => Column::Loans,
            _ => Column::LoansTiyn,
        };
        on_conflict.value(column, sum);
    }
    counts::Entity::insert_many(rows)
        .on_conflict(on_conflict.to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The kept counts in `years` for the country (by region when `by_region`),
/// a region (`prefix` of 2 digits) or a district (4); `None` for any other
/// prefix, which the applications answer.
pub async fn kept(
    db: &impl ConnectionTrait,
    years: (i32, i32),
    prefix: Option<&str>,
    by_region: bool,
) -> Result<Option<Vec<domain::Granted>>, Error> {
    use counts::Column;
    let (level, scope) = match prefix {
        None if by_region => (REGION, None),
        None => (COUNTRY, Some(String::new())),
        Some(region) if region.len() == 2 => (REGION, Some(format!("{region:0<9}"))),
        Some(district) if district.len() == 4 => (DISTRICT, Some(format!("{district:0<9}"))),
        Some(_) => return Ok(None),
    };
    let mut query = counts::Entity::find()
        .filter(Column::Level.eq(level))
        .filter(Column::Year.between(years.0, years.1));
    if let Some(scope) = scope {
        query = query.filter(Column::ScopeKato.eq(scope));
    }
    let rows = query
        .order_by_asc(Column::ScopeKato)
        .order_by_asc(Column::Year)
        .all(db)
        .await?;
    Ok(Some(
        rows.into_iter()
            .map(|row| domain::Granted {
                year: row.year,
                // The country's rows name no region.
                region_kato: row
                    .scope_kato
                    .get(..2)
                    .map(|region| format!("{region:0<9}"))
                    .unwrap_or_default(),
                field: row.field,
                age_band: row.age_band,
                totals: Totals {
                    allowances: row.allowances,
                    allowances_tiyn: row.allowances_tiyn,
                    loans: row.loans,
                    loans_tiyn: row.loans_tiyn,
                },
            })
            .collect(),
    ))
}
