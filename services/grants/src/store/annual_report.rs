//! The rows of the programme's annual report, and the quotas beside them.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{FromQueryResult, QueryOrder, StatementBuilder};

use super::application::applications;
use super::quota::quotas;
use crate::domain::annual_report::AnnualRow;
use crate::domain::application::Quota;
use crate::domain::statistics::Totals;
use crate::domain::terms::Field;

#[derive(Debug, Clone, FromQueryResult)]
struct Decided {
    region_kato: String,
    field: String,
    approved: i64,
    rejected: i64,
    allowances: i64,
    allowances_tiyn: i64,
    loans: i64,
    loans_tiyn: i64,
    allowances_paid: i64,
    allowances_paid_tiyn: i64,
    loans_disbursed: i64,
    loans_disbursed_tiyn: i64,
    departures: i64,
    allowance_refund_tiyn: i64,
    loan_principal_due_tiyn: i64,
}

impl TryFrom<Decided> for AnnualRow {
    type Error = Error;

    fn try_from(row: Decided) -> Result<AnnualRow, Error> {
        let field = Field::parse(&row.field)
            .ok_or_else(|| Error::internal(format!("stored field {:?}", row.field)))?;
        Ok(AnnualRow {
            region_kato: row.region_kato,
            field: Some(field),
            approved: row.approved,
            rejected: row.rejected,
            granted: Totals {
                allowances: row.allowances,
                allowances_tiyn: row.allowances_tiyn,
                loans: row.loans,
                loans_tiyn: row.loans_tiyn,
            },
            paid: Totals {
                allowances: row.allowances_paid,
                allowances_tiyn: row.allowances_paid_tiyn,
                loans: row.loans_disbursed,
                loans_tiyn: row.loans_disbursed_tiyn,
            },
            departures: row.departures,
            allowance_refund_tiyn: row.allowance_refund_tiyn,
            loan_principal_due_tiyn: row.loan_principal_due_tiyn,
        })
    }
}

/// What an aggregate column of the report adds up.
enum Sum {
    /// The rows where the condition holds.
    Rows(&'static str),
    /// A column.
    Amount(&'static str),
    /// A column, where the condition holds.
    AmountWhere(&'static str, &'static str),
}

impl Sum {
    /// The SQL, as both backends read it.
    fn sql(&self) -> String {
        let sum = match self {
            Sum::Rows(condition) => format!("CASE WHEN {condition} THEN 1 ELSE 0 END"),
            Sum::Amount(column) => (*column).to_owned(),
            Sum::AmountWhere(condition, column) => {
                format!("CASE WHEN {condition} THEN {column} ELSE 0 END")
            }
        };
        format!("CAST(SUM({sum}) AS BIGINT)")
    }
}

const SUMS: [(&str, Sum); 13] = [
    ("approved", Sum::Rows("status <> 'rejected'")),
    ("rejected", Sum::Rows("status = 'rejected'")),
    ("allowances", Sum::Rows("allowance_tiyn > 0")),
    ("allowances_tiyn", Sum::Amount("allowance_tiyn")),
    ("loans", Sum::Rows("loan_amount_tiyn > 0")),
    ("loans_tiyn", Sum::Amount("loan_amount_tiyn")),
    ("allowances_paid", Sum::Rows("allowance_paid")),
    (
        "allowances_paid_tiyn",
        Sum::AmountWhere("allowance_paid", "allowance_tiyn"),
    ),
    (
        "loans_disbursed",
        Sum::Rows("loan_disbursed_on IS NOT NULL"),
    ),
    (
        "loans_disbursed_tiyn",
        Sum::AmountWhere("loan_disbursed_on IS NOT NULL", "loan_amount_tiyn"),
    ),
    ("departures", Sum::Rows("departure_date IS NOT NULL")),
    (
        "allowance_refund_tiyn",
        Sum::Amount("allowance_refund_tiyn"),
    ),
    (
        "loan_principal_due_tiyn",
        Sum::Amount("loan_principal_due_tiyn"),
    ),
];

/// The decisions of `year` by region and field, under a settlement KATO prefix.
pub async fn decided(
    db: &impl ConnectionTrait,
    year: i32,
    kato_prefix: Option<&str>,
) -> Result<Vec<AnnualRow>, Error> {
    use applications::Column;
    let mut query = Query::select();
    query
        .from(applications::Entity)
        .column(Column::RegionKato)
        .column(Column::Field)
        .and_where(Expr::col(Column::DecisionYear).eq(year))
        .and_where(Expr::col(Column::Status).ne("submitted"))
        .group_by_col(Column::RegionKato)
        .group_by_col(Column::Field)
        .order_by(Column::RegionKato, sea_orm::Order::Asc)
        .order_by(Column::Field, sea_orm::Order::Asc);
    for (alias, sum) in &SUMS {
        query.expr_as(Expr::cust(sum.sql()), Alias::new(*alias));
    }
    if let Some(prefix) = kato_prefix {
        query.and_where(aimaq_storage::subtree::within(
            Column::SettlementKato,
            prefix,
        ));
    }
    let statement = StatementBuilder::build(&query, &db.get_database_backend());
    Decided::find_by_statement(statement)
        .all(db)
        .await?
        .into_iter()
        .map(AnnualRow::try_from)
        .collect()
}

/// The quotas of `year` of the regions under a KATO prefix, by region.
pub async fn quotas_of(
    db: &impl ConnectionTrait,
    year: i32,
    kato_prefix: Option<&str>,
) -> Result<Vec<Quota>, Error> {
    let mut query = quotas::Entity::find().filter(quotas::Column::Year.eq(year));
    if let Some(prefix) = kato_prefix {
        // A quota is a region's: it is in the report when the region's code
        // begins with the prefix, or the prefix lies within the region.
        let region = format!("{:0<9}", prefix.get(..2).unwrap_or(prefix));
        query = query.filter(quotas::Column::RegionKato.eq(region));
    }
    query
        .order_by_asc(quotas::Column::RegionKato)
        .all(db)
        .await?
        .into_iter()
        .map(Quota::try_from)
        .collect()
}
