//! The execution report's aggregates: a few grouped queries over the whole
//! range, never a query per row.

use aimaq_error::Error;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ConnectionTrait, FromQueryResult, StatementBuilder};

use super::allocation;
use super::project::projects;

/// How rows are grouped: by region, or by district within one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping<'a> {
    Region,
    DistrictOf(&'a str),
}

/// The range a report covers.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub program: &'a str,
    pub from_year: i32,
    pub to_year: i32,
    pub grouping: Grouping<'a>,
}

#[derive(Debug, FromQueryResult)]
pub struct StatusCount {
    pub territory: String,
    pub fiscal_year: i32,
    pub status: String,
    pub projects: i64,
}

#[derive(Debug, FromQueryResult)]
pub struct Coverage {
    pub territory: String,
    pub fiscal_year: i32,
    pub settlements: i64,
}

/// The allocations that make the report's rows: the regions' (drawing on the
/// envelope), or the districts' of one region.
pub async fn allocations(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
) -> Result<Vec<allocation::Model>, Error> {
    use allocation::Column;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let query = allocation::Entity::find()
        .filter(Column::ProgramCode.eq(scope.program))
        .filter(Column::FiscalYear.between(scope.from_year, scope.to_year));
    let query = match scope.grouping {
        Grouping::Region => query.filter(Column::ParentKato.is_null()),
        Grouping::DistrictOf(region) => query.filter(Column::ParentKato.eq(region)),
    };
    Ok(query
        .order_by_asc(Column::TerritoryKato)
        .order_by_asc(Column::FiscalYear)
        .all(db)
        .await?)
}

/// Projects of the range, grouped by territory and year.
fn projects_grouped(scope: Scope<'_>) -> SelectStatement {
    use projects::Column;
    let territory = match scope.grouping {
        Grouping::Region => Column::RegionKato,
        Grouping::DistrictOf(_) => Column::DistrictKato,
    };
    let mut query = Query::select();
    query
        .from(projects::Entity)
        .expr_as(Expr::col(territory), Alias::new("territory"))
        .column(Column::FiscalYear)
        .and_where(Expr::col(Column::ProgramCode).eq(scope.program))
        .and_where(Expr::col(Column::FiscalYear).between(scope.from_year, scope.to_year))
        .group_by_col(territory)
        .group_by_col(Column::FiscalYear);
    if let Grouping::DistrictOf(region) = scope.grouping {
        query.and_where(Expr::col(Column::RegionKato).eq(region));
    }
    query
}

/// Projects by territory, year and status.
pub async fn status_counts(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
) -> Result<Vec<StatusCount>, Error> {
    let mut query = projects_grouped(scope);
    query
        .column(projects::Column::Status)
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("projects"))
        .group_by_col(projects::Column::Status);
    let statement = StatementBuilder::build(&query, &db.get_database_backend());
    Ok(StatusCount::find_by_statement(statement).all(db).await?)
}

/// Settlements with a project that was not cancelled, by territory and year.
pub async fn coverage(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
    cancelled: &str,
) -> Result<Vec<Coverage>, Error> {
    let mut query = projects_grouped(scope);
    query
        .expr_as(
            Expr::cust("COUNT(DISTINCT settlement_kato)"),
            Alias::new("settlements"),
        )
        .and_where(Expr::col(projects::Column::Status).ne(cancelled));
    let statement = StatementBuilder::build(&query, &db.get_database_backend());
    Ok(Coverage::find_by_statement(statement).all(db).await?)
}
