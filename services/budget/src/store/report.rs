//! The execution report's aggregates, read from what is kept with every change:
//! the allocations' own figures and project counts, and the districts' coverage.
//! A report reads a row per allocation and per district, however many projects
//! there are.

use aimaq_error::Error;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, FromQueryResult, StatementBuilder};

use super::allocation;
use super::coverage::districts;
use super::project::{disbursements, projects};
use crate::domain::allocation::{Allocation, ProjectCounts};
use crate::domain::report::{ByTerritory, MonthPaid};
use aimaq_types::Money;

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

/// Projects by status under one territory (region or district) in one year.
#[derive(Debug, FromQueryResult)]
struct StatusCounts {
    pub territory: String,
    pub fiscal_year: i32,
    pub planned: i64,
    pub approved: i64,
    pub in_progress: i64,
    pub completed: i64,
    pub cancelled: i64,
}

#[derive(Debug, FromQueryResult)]
struct Coverage {
    pub territory: String,
    pub fiscal_year: i32,
    pub settlements: i64,
}

#[derive(Debug, FromQueryResult)]
struct Paid {
    pub territory: String,
    pub fiscal_year: i32,
    pub month: String,
    pub amount: i64,
}

#[derive(Debug, FromQueryResult)]
struct Recorded {
    pub territory: String,
    pub fiscal_year: i32,
    pub amount: i64,
}

impl Grouping<'_> {
    /// How many leading digits of a code name the row it counts in.
    fn digits(self) -> usize {
        match self {
            Grouping::Region => 2,
            Grouping::DistrictOf(_) => 4,
        }
    }
}

/// The code of the region (2 digits) or district (4 digits) a grouping keys on,
/// padded to a KATO code.
fn territory_code(key: &str) -> String {
    format!("{key:0<9}")
}

/// The allocations that make the report's rows: the regions' (drawing on the
/// envelope), or the districts' of one region.
pub async fn allocations(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
) -> Result<Vec<Allocation>, Error> {
    use allocation::Column;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let query = allocation::Entity::find()
        .filter(Column::ProgramCode.eq(scope.program))
        .filter(Column::FiscalYear.between(scope.from_year, scope.to_year));
    let query = match scope.grouping {
        Grouping::Region => query.filter(Column::ParentKato.is_null()),
        Grouping::DistrictOf(region) => query.filter(Column::ParentKato.eq(region)),
    };
    let rows = query
        .order_by_asc(Column::TerritoryKato)
        .order_by_asc(Column::FiscalYear)
        .all(db)
        .await?;
    allocation::allocations(rows)
}

/// Project counts of every allocation in range, summed by the region (first 2
/// digits) or district (first 4) of its territory. Under district grouping,
/// projects committed directly on the region's own allocation come out under
/// the region's code.
pub async fn status_counts(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
) -> Result<Vec<ByTerritory<ProjectCounts>>, Error> {
    use allocation::Column;
    let key = format!("SUBSTR(territory_kato, 1, {})", scope.grouping.digits());
    let mut query = Query::select();
    query
        .from(allocation::Entity)
        .expr_as(Expr::cust(key.clone()), Alias::new("territory"))
        .column(Column::FiscalYear)
        .and_where(Expr::col(Column::ProgramCode).eq(scope.program))
        .and_where(Expr::col(Column::FiscalYear).between(scope.from_year, scope.to_year))
        .add_group_by([Expr::cust(key), Expr::col(Column::FiscalYear)]);
    for (column, alias) in [
        ("projects_planned", "planned"),
        ("projects_approved", "approved"),
        ("projects_in_progress", "in_progress"),
        ("projects_completed", "completed"),
        ("projects_cancelled", "cancelled"),
    ] {
        query.expr_as(
            Expr::cust(format!("CAST(SUM({column}) AS BIGINT)")),
            Alias::new(alias),
        );
    }
    if let Grouping::DistrictOf(region) = scope.grouping {
        query.and_where(aimaq_storage::subtree::within(
            Column::TerritoryKato,
            &region[..2],
        ));
    }
    let statement = StatementBuilder::build(&query, &db.get_database_backend());
    let rows = StatusCounts::find_by_statement(statement).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|row| ByTerritory {
            territory: territory_code(&row.territory),
            fiscal_year: row.fiscal_year,
            value: [
                row.planned,
                row.approved,
                row.in_progress,
                row.completed,
                row.cancelled,
            ],
        })
        .collect())
}

/// Settlements with a live project, by region or district and year.
pub async fn coverage(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
) -> Result<Vec<ByTerritory<i64>>, Error> {
    use districts::Column;
    let territory = match scope.grouping {
        Grouping::Region => Column::RegionKato,
        Grouping::DistrictOf(_) => Column::DistrictKato,
    };
    let mut query = Query::select();
    query
        .from(districts::Entity)
        .expr_as(Expr::col(territory), Alias::new("territory"))
        .column(Column::FiscalYear)
        .expr_as(
            Expr::cust("CAST(SUM(settlements) AS BIGINT)"),
            Alias::new("settlements"),
        )
        .and_where(Expr::col(Column::ProgramCode).eq(scope.program))
        .and_where(Expr::col(Column::FiscalYear).between(scope.from_year, scope.to_year))
        .group_by_col(territory)
        .group_by_col(Column::FiscalYear);
    if let Grouping::DistrictOf(region) = scope.grouping {
        query.and_where(Expr::col(Column::RegionKato).eq(region));
    }
    let statement = StatementBuilder::build(&query, &db.get_database_backend());
    let rows = Coverage::find_by_statement(statement).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|row| ByTerritory {
            territory: row.territory,
            fiscal_year: row.fiscal_year,
            value: row.settlements,
        })
        .collect())
}

/// What the projects of the report's range paid, by the region or district of
/// the allocation they draw on (as [`status_counts`] groups), year and month
/// of the payment date. Imported projects arrive with a total and no dated
/// payments: what a project's total holds beyond its dated payments counts
/// as paid in the last month of its fiscal year.
pub async fn payments(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
) -> Result<Vec<ByTerritory<MonthPaid>>, Error> {
    let key = format!("SUBSTR(p.allocation_kato, 1, {})", scope.grouping.digits());
    let project = |column: &str| Expr::col((Alias::new("p"), Alias::new(column)));
    let of_projects = |query: &mut sea_orm::sea_query::SelectStatement| {
        query
            .and_where(project("program_code").eq(scope.program))
            .and_where(project("fiscal_year").between(scope.from_year, scope.to_year));
        if let Grouping::DistrictOf(region) = scope.grouping {
            query.and_where(aimaq_storage::subtree::within(
                (Alias::new("p"), Alias::new("allocation_kato")),
                &region[..2],
            ));
        }
    };
    let mut dated = Query::select();
    dated
        .from_as(disbursements::Entity, Alias::new("d"))
        .join_as(
            sea_orm::JoinType::InnerJoin,
            projects::Entity,
            Alias::new("p"),
            Expr::cust("p.id = d.project_id"),
        )
        .expr_as(Expr::cust(key.clone()), Alias::new("territory"))
        .expr_as(Expr::cust("p.fiscal_year"), Alias::new("fiscal_year"))
        .expr_as(
            Expr::cust("SUBSTR(d.payment_date, 1, 7)"),
            Alias::new("month"),
        )
        .expr_as(
            Expr::cust("CAST(SUM(d.amount_tiyn) AS BIGINT)"),
            Alias::new("amount"),
        )
        .add_group_by([
            Expr::cust(key.clone()),
            Expr::cust("p.fiscal_year"),
            Expr::cust("SUBSTR(d.payment_date, 1, 7)"),
        ]);
    of_projects(&mut dated);
    let mut recorded = Query::select();
    recorded
        .from_as(projects::Entity, Alias::new("p"))
        .expr_as(Expr::cust(key.clone()), Alias::new("territory"))
        .expr_as(Expr::cust("p.fiscal_year"), Alias::new("fiscal_year"))
        .expr_as(
            Expr::cust("CAST(SUM(p.disbursed_tiyn) AS BIGINT)"),
            Alias::new("amount"),
        )
        .add_group_by([Expr::cust(key), Expr::cust("p.fiscal_year")]);
    of_projects(&mut recorded);
    let backend = db.get_database_backend();
    let dated = Paid::find_by_statement(StatementBuilder::build(&dated, &backend))
        .all(db)
        .await?;
    let recorded = Recorded::find_by_statement(StatementBuilder::build(&recorded, &backend))
        .all(db)
        .await?;
    Ok(with_undated(dated, recorded))
}

/// The dated payments, and for each territory and year the part of its
/// recorded total that no dated payment explains, in the year's last month.
fn with_undated(dated: Vec<Paid>, recorded: Vec<Recorded>) -> Vec<ByTerritory<MonthPaid>> {
    let mut explained: std::collections::HashMap<(String, i32), i64> = Default::default();
    for paid in &dated {
        *explained
            .entry((paid.territory.clone(), paid.fiscal_year))
            .or_default() += paid.amount;
    }
    let undated = recorded.into_iter().filter_map(|total| {
        let known = explained
            .get(&(total.territory.clone(), total.fiscal_year))
            .copied()
            .unwrap_or(0);
        (total.amount > known).then(|| Paid {
            month: format!("{:04}-12", total.fiscal_year),
            amount: total.amount - known,
            territory: total.territory,
            fiscal_year: total.fiscal_year,
        })
    });
    dated
        .into_iter()
        .chain(undated)
        .map(|paid| ByTerritory {
            territory: territory_code(&paid.territory),
            fiscal_year: paid.fiscal_year,
            value: MonthPaid {
                month: paid.month,
                amount: Money::from_tiyn(paid.amount),
            },
        })
        .collect()
}
