//! Allocations of the tree.

use std::ops::RangeInclusive;

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub program_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub fiscal_year: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub territory_kato: String,
    /// The territory whose allocation this one draws on; none for a region's (the
    /// envelope).
    pub parent_kato: Option<String>,
    pub amount_tiyn: i64,
    /// What allocations and projects below draw from it.
    pub committed_tiyn: i64,
    pub disbursed_tiyn: i64,
    pub version: i64,
    pub updated_at_micros: i64,
    /// Projects committed directly against it, by status: kept with every
    /// project change, so that reports need not count projects.
    pub projects_planned: i64,
    pub projects_approved: i64,
    pub projects_in_progress: i64,
    pub projects_completed: i64,
    pub projects_cancelled: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub fn name(program: &str, year: i32, kato: &str) -> String {
    format!("allocations/{program}/{year}/{kato}")
}

/// The allocation, locked for the rest of the transaction when `lock` (on PostgreSQL).
pub async fn find(
    db: &impl ConnectionTrait,
    key: (&str, i32, &str),
    lock: bool,
) -> Result<Option<Model>, Error> {
    let mut query = Entity::find_by_id((key.0.to_owned(), key.1, key.2.to_owned()));
    if lock {
        query = query.lock_exclusive();
    }
    Ok(query.one(db).await?)
}

/// Changes in the number of projects an allocation counts, by status, in the
/// order of its columns: planned, approved, in progress, completed, cancelled.
pub type ProjectCounts = [i64; 5];

const COUNT_COLUMNS: [Column; 5] = [
    Column::ProjectsPlanned,
    Column::ProjectsApproved,
    Column::ProjectsInProgress,
    Column::ProjectsCompleted,
    Column::ProjectsCancelled,
];

/// A change of what an allocation has committed and of its project counts.
pub struct Draw {
    pub committed: i64,
    pub counts: ProjectCounts,
    pub now: i64,
}

/// Applies `draw` to the allocation `key` in one statement, which locks the row,
/// if what is committed stays within the amount; a version is spent when the
/// committed amount moves. The new version, or `None` when the allocation does
/// not exist or the draw does not fit.
pub async fn apply_draw(
    db: &impl ConnectionTrait,
    key: (&str, i32, &str),
    draw: &Draw,
) -> Result<Option<i64>, Error> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let mut update = Query::update();
    update
        .table(Entity)
        .value(
            Column::CommittedTiyn,
            Expr::col(Column::CommittedTiyn).add(draw.committed),
        )
        .value(
            Column::Version,
            Expr::col(Column::Version).add(i64::from(draw.committed != 0)),
        )
        .value(Column::UpdatedAtMicros, draw.now)
        .and_where(Expr::col(Column::ProgramCode).eq(key.0))
        .and_where(Expr::col(Column::FiscalYear).eq(key.1))
        .and_where(Expr::col(Column::TerritoryKato).eq(key.2))
        .returning_col(Column::Version);
    for (column, change) in COUNT_COLUMNS.into_iter().zip(draw.counts) {
        if change != 0 {
            update.value(column, Expr::col(column).add(change));
        }
    }
    if draw.committed > 0 {
        update.and_where(
            Expr::col(Column::AmountTiyn)
                .sub(Expr::col(Column::CommittedTiyn))
                .gte(draw.committed),
        );
    }
    let statement = sea_orm::StatementBuilder::build(&update, &db.get_database_backend());
    match db.query_one_raw(statement).await? {
        Some(row) => Ok(Some(row.try_get::<i64>("", "version")?)),
        None => Ok(None),
    }
}

/// Writes every column of the allocation (insert when `created`).
pub async fn save(
    db: &impl ConnectionTrait,
    allocation: Model,
    created: bool,
) -> Result<(), Error> {
    aimaq_storage::save(db, ActiveModel::from(allocation), created).await
}

/// Where a page of `list` ends: after this allocation.
pub fn page_key(row: &Model) -> String {
    format!("{}/{}", row.fiscal_year, row.territory_kato)
}

/// Allocations of a programme in a range of years, optionally under a KATO
/// prefix, ordered by year and territory.
pub async fn list(
    db: &impl ConnectionTrait,
    program: &str,
    years: RangeInclusive<i32>,
    kato_prefix: Option<String>,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<Model>, String), Error> {
    let mut query = Entity::find()
        .filter(Column::ProgramCode.eq(program))
        .filter(Column::FiscalYear.between(*years.start(), *years.end()));
    if let Some(prefix) = kato_prefix {
        query = query.filter(Column::TerritoryKato.starts_with(prefix));
    }
    if let Some(after) = &page.after {
        let (year, kato) = after
            .split_once('/')
            .and_then(|(y, k)| Some((y.parse::<i32>().ok()?, k.to_owned())))
            .ok_or_else(|| Error::invalid("page_token", "malformed"))?;
        query = query.filter(
            sea_orm::Condition::any()
                .add(Column::FiscalYear.gt(year))
                .add(
                    sea_orm::Condition::all()
                        .add(Column::FiscalYear.eq(year))
                        .add(Column::TerritoryKato.gt(kato)),
                ),
        );
    }
    let rows = query
        .order_by_asc(Column::FiscalYear)
        .order_by_asc(Column::TerritoryKato)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(page.finish(rows, page_key))
}
