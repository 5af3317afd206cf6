//! Programme targets.

use aimaq_error::Error;
use aimaq_storage::paging::Page;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::domain::target::{ProgramTarget, TargetMetric};

aimaq_storage::text_enum!(MetricColumn for TargetMetric {
    Money = "money",
    Projects = "projects",
    Settlements = "settlements",
    Allowances = "allowances",
    HousingLoans = "housing_loans",
});

pub mod program_targets {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "program_targets")]
    pub struct Model {
        /// The resource name: one target per programme, metric and period, and
        /// the order targets are listed (and paged) in.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub program_code: String,
        pub metric: super::MetricColumn,
        pub from_year: i32,
        pub to_year: i32,
        pub value: i64,
        pub source: String,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `programs/{code}/targets/{metric}/{from}-{to}`.
pub fn name(code: &str, metric: TargetMetric, from_year: i32, to_year: i32) -> String {
    format!(
        "programs/{code}/targets/{}/{from_year}-{to_year}",
        metric.key()
    )
}

impl From<program_targets::Model> for ProgramTarget {
    fn from(row: program_targets::Model) -> ProgramTarget {
        ProgramTarget {
            program_code: row.program_code,
            metric: row.metric.into(),
            from_year: row.from_year,
            to_year: row.to_year,
            value: row.value,
            source: row.source,
            version: row.version,
        }
    }
}

impl From<ProgramTarget> for program_targets::Model {
    fn from(target: ProgramTarget) -> program_targets::Model {
        program_targets::Model {
            name: name(
                &target.program_code,
                target.metric,
                target.from_year,
                target.to_year,
            ),
            program_code: target.program_code,
            metric: target.metric.into(),
            from_year: target.from_year,
            to_year: target.to_year,
            value: target.value,
            source: target.source,
            version: target.version,
        }
    }
}

/// The target named so, locked for the rest of the transaction on PostgreSQL.
pub async fn find_for_update(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<ProgramTarget>, Error> {
    Ok(program_targets::Entity::find_by_id(name.to_owned())
        .lock_exclusive()
        .one(db)
        .await?
        .map(ProgramTarget::from))
}

pub async fn save(
    db: &impl ConnectionTrait,
    target: ProgramTarget,
    created: bool,
) -> Result<(), Error> {
    let row = program_targets::Model::from(target);
    aimaq_storage::save(db, program_targets::ActiveModel::from(row), created).await
}

/// Targets by name, optionally of one programme and covering a year.
pub async fn list(
    db: &impl ConnectionTrait,
    program_code: Option<&str>,
    year: Option<i32>,
    page: &Page,
) -> Result<(Vec<ProgramTarget>, String), Error> {
    let mut query = program_targets::Entity::find();
    if let Some(code) = program_code {
        query = query.filter(program_targets::Column::ProgramCode.eq(code));
    }
    if let Some(year) = year {
        query = query
            .filter(program_targets::Column::FromYear.lte(year))
            .filter(program_targets::Column::ToYear.gte(year));
    }
    if let Some(after) = &page.after {
        query = query.filter(program_targets::Column::Name.gt(after.clone()));
    }
    let rows = query
        .order_by_asc(program_targets::Column::Name)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    let (rows, next) = page.finish(rows, |row| row.name.clone());
    Ok((rows.into_iter().map(ProgramTarget::from).collect(), next))
}
