//! Allocations of the tree.

use std::ops::RangeInclusive;

use aimaq_error::Error;
use aimaq_types::{Kato, Money};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use super::stored_kato;
use crate::domain::allocation::{Allocation, ProjectCounts};

/// An allocation's key: programme, year and territory.
pub type Key<'a> = (&'a str, i32, Kato);

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
    /// The amount as first allocated.
    pub approved_tiyn: i64,
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

/// `allocations/{program}/{year}/{kato}`.
pub fn name((program, year, kato): Key<'_>) -> String {
    format!("allocations/{program}/{year}/{kato}")
}

/// The programme, year and territory in `allocations/{program}/{year}/{kato}`.
pub fn parse_name(text: &str) -> Result<(String, i32, Kato), Error> {
    let invalid = || {
        Error::invalid(
            "allocation",
            "must be allocations/{program_code}/{fiscal_year}/{kato}",
        )
    };
    let mut parts = text
        .strip_prefix("allocations/")
        .ok_or_else(invalid)?
        .split('/');
    let (Some(program), Some(year), Some(kato), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let year = year.parse().map_err(|_| invalid())?;
    let kato = Kato::parse(kato).map_err(|_| invalid())?;
    Ok((program.to_owned(), year, kato))
}

impl TryFrom<Model> for Allocation {
    type Error = Error;

    fn try_from(row: Model) -> Result<Allocation, Error> {
        Ok(Allocation {
            territory: stored_kato(&row.territory_kato)?,
            parent: row.parent_kato.as_deref().map(stored_kato).transpose()?,
            program_code: row.program_code,
            fiscal_year: row.fiscal_year,
            amount: Money::from_tiyn(row.amount_tiyn),
            approved: Money::from_tiyn(row.approved_tiyn),
            committed: Money::from_tiyn(row.committed_tiyn),
            disbursed: Money::from_tiyn(row.disbursed_tiyn),
            version: row.version,
            updated_at_micros: row.updated_at_micros,
            projects: [
                row.projects_planned,
                row.projects_approved,
                row.projects_in_progress,
                row.projects_completed,
                row.projects_cancelled,
            ],
        })
    }
}

impl From<Allocation> for Model {
    fn from(allocation: Allocation) -> Model {
        let [planned, approved, in_progress, completed, cancelled] = allocation.projects;
        Model {
            program_code: allocation.program_code,
            fiscal_year: allocation.fiscal_year,
            territory_kato: allocation.territory.to_string(),
            parent_kato: allocation.parent.map(|p| p.to_string()),
            amount_tiyn: allocation.amount.tiyn(),
            approved_tiyn: allocation.approved.tiyn(),
            committed_tiyn: allocation.committed.tiyn(),
            disbursed_tiyn: allocation.disbursed.tiyn(),
            version: allocation.version,
            updated_at_micros: allocation.updated_at_micros,
            projects_planned: planned,
            projects_approved: approved,
            projects_in_progress: in_progress,
            projects_completed: completed,
            projects_cancelled: cancelled,
        }
    }
}

/// Rows as domain allocations.
pub(super) fn allocations(rows: Vec<Model>) -> Result<Vec<Allocation>, Error> {
    rows.into_iter().map(Allocation::try_from).collect()
}

/// The allocation, locked for the rest of the transaction when `lock` (on PostgreSQL).
pub async fn find(
    db: &impl ConnectionTrait,
    (program, year, kato): Key<'_>,
    lock: bool,
) -> Result<Option<Allocation>, Error> {
    let mut query = Entity::find_by_id((program.to_owned(), year, kato.to_string()));
    if lock {
        query = query.lock_exclusive();
    }
    query.one(db).await?.map(Allocation::try_from).transpose()
}

const COUNT_COLUMNS: [Column; 5] = [
    Column::ProjectsPlanned,
    Column::ProjectsApproved,
    Column::ProjectsInProgress,
    Column::ProjectsCompleted,
    Column::ProjectsCancelled,
];

/// A change of what an allocation has committed and of its project counts.
pub struct Draw {
    pub committed: Money,
    pub counts: ProjectCounts,
    pub now: i64,
}

/// Applies `draw` to the allocation `key` in one statement, which locks the row,
/// if what is committed stays within the amount; a version is spent when the
/// committed amount moves. The new version, or `None` when the allocation does
/// not exist or the draw does not fit.
pub async fn apply_draw(
    db: &impl ConnectionTrait,
    (program, year, kato): Key<'_>,
    draw: &Draw,
) -> Result<Option<i64>, Error> {
    let committed = draw.committed.tiyn();
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let mut update = Query::update();
    update
        .table(Entity)
        .value(
            Column::CommittedTiyn,
            Expr::col(Column::CommittedTiyn).add(committed),
        )
        .value(
            Column::Version,
            Expr::col(Column::Version).add(i64::from(committed != 0)),
        )
        .value(Column::UpdatedAtMicros, draw.now)
        .and_where(Expr::col(Column::ProgramCode).eq(program))
        .and_where(Expr::col(Column::FiscalYear).eq(year))
        .and_where(Expr::col(Column::TerritoryKato).eq(kato.to_string()))
        .returning_col(Column::Version);
    for (column, change) in COUNT_COLUMNS.into_iter().zip(draw.counts) {
        if change != 0 {
            update.value(column, Expr::col(column).add(change));
        }
    }
    if committed > 0 {
        update.and_where(
            Expr::col(Column::AmountTiyn)
                .sub(Expr::col(Column::CommittedTiyn))
                .gte(committed),
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
    allocation: Allocation,
    created: bool,
) -> Result<(), Error> {
    aimaq_storage::save(db, ActiveModel::from(Model::from(allocation)), created).await
}

/// Where a page of `list` ends: after this allocation.
pub fn page_key(allocation: &Allocation) -> String {
    format!("{}/{}", allocation.fiscal_year, allocation.territory)
}

/// Allocations of a programme in a range of years, optionally under a KATO
/// prefix, ordered by year and territory.
pub async fn list(
    db: &impl ConnectionTrait,
    program: &str,
    years: RangeInclusive<i32>,
    kato_prefix: Option<String>,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<Allocation>, String), Error> {
    let mut query = Entity::find()
        .filter(Column::ProgramCode.eq(program))
        .filter(Column::FiscalYear.between(*years.start(), *years.end()));
    if let Some(prefix) = kato_prefix {
        query = query.filter(aimaq_storage::subtree::within(
            Column::TerritoryKato,
            prefix,
        ));
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
    let (rows, next) = page.finish(allocations(rows)?, page_key);
    Ok((rows, next))
}

/// Every allocation of a subtree, whatever its programme or year, by
/// territory, programme and year: the order of `allocations_by_place`. Only a
/// settlement's or a rural district's subtree is asked for, whose allocations
/// are a few per programme and year.
pub async fn of_place(db: &impl ConnectionTrait, prefix: &str) -> Result<Vec<Allocation>, Error> {
    let rows = Entity::find()
        .filter(aimaq_storage::subtree::within(
            Column::TerritoryKato,
            prefix,
        ))
        .order_by_asc(Column::TerritoryKato)
        .order_by_asc(Column::ProgramCode)
        .order_by_asc(Column::FiscalYear)
        .all(db)
        .await?;
    allocations(rows)
}
