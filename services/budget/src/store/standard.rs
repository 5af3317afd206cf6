//! Each settlement's status against each regional standard, and the counts
//! sufficiency is computed from.

use aimaq_error::Error;
use aimaq_storage::chunks::in_powers_of_two;
use aimaq_types::Kato;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{FromQueryResult, QuerySelect, StatementBuilder};

use super::stored_kato;
use crate::domain::standard::StandardStatus;

/// Rows per multi-row statement at most: well within every backend's
/// parameter limit; fewer go in chunks of powers of two, so that the
/// statements take few shapes (`aimaq_storage::chunks`).
const ROWS_PER_STATEMENT: usize = 512;

pub mod statuses {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "standard_statuses")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub settlement_kato: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub standard_code: String,
        pub applicable: bool,
        pub met: bool,
        /// The project whose completion met it.
        pub project_id: Option<i64>,
        pub version: i64,
        pub updated_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `settlements/{kato}/standards/{code}`.
pub fn status_name(settlement: Kato, code: &str) -> String {
    format!("settlements/{settlement}/standards/{code}")
}

impl TryFrom<statuses::Model> for StandardStatus {
    type Error = Error;

    fn try_from(row: statuses::Model) -> Result<StandardStatus, Error> {
        Ok(StandardStatus {
            settlement: stored_kato(&row.settlement_kato)?,
            standard_code: row.standard_code,
            applicable: row.applicable,
            met: row.met,
            project_id: row.project_id,
            version: row.version,
            updated_at_micros: row.updated_at_micros,
        })
    }
}

impl From<StandardStatus> for statuses::Model {
    fn from(status: StandardStatus) -> statuses::Model {
        statuses::Model {
            settlement_kato: status.settlement.to_string(),
            standard_code: status.standard_code,
            applicable: status.applicable,
            met: status.met,
            project_id: status.project_id,
            version: status.version,
            updated_at_micros: status.updated_at_micros,
        }
    }
}

/// The status, locked for the rest of the transaction (on PostgreSQL).
pub async fn find_for_update(
    db: &impl ConnectionTrait,
    settlement: Kato,
    standard: &str,
) -> Result<Option<StandardStatus>, Error> {
    statuses::Entity::find_by_id((settlement.to_string(), standard.to_owned()))
        .lock_exclusive()
        .one(db)
        .await?
        .map(StandardStatus::try_from)
        .transpose()
}

pub async fn save(
    db: &impl ConnectionTrait,
    status: StandardStatus,
    created: bool,
) -> Result<(), Error> {
    let row = statuses::Model::from(status);
    aimaq_storage::save(db, statuses::ActiveModel::from(row), created).await
}

/// Every status of these settlements, locked for the rest of the transaction
/// (on PostgreSQL).
pub async fn of_settlements(
    db: &impl ConnectionTrait,
    settlements: &[Kato],
) -> Result<Vec<StandardStatus>, Error> {
    let mut found = Vec::new();
    for chunk in in_powers_of_two(settlements, ROWS_PER_STATEMENT) {
        found.extend(
            statuses::Entity::find()
                .filter(statuses::Column::SettlementKato.is_in(chunk.iter().map(Kato::to_string)))
                .lock_exclusive()
                .all(db)
                .await?,
        );
    }
    found.into_iter().map(StandardStatus::try_from).collect()
}

/// Inserts new statuses, many rows per statement.
pub async fn insert_many(
    db: &impl ConnectionTrait,
    rows: Vec<StandardStatus>,
) -> Result<(), Error> {
    for chunk in in_powers_of_two(&rows, ROWS_PER_STATEMENT) {
        statuses::Entity::insert_many(chunk.iter().map(|row| {
            statuses::ActiveModel::from(statuses::Model::from(row.clone())).reset_all()
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Counts of one standard in a subtree.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Counts {
    pub standard_code: String,
    pub applicable: i64,
    pub met: i64,
}

/// Met and applicable counts per standard over the settlements whose code starts
/// with `prefix`, in one grouped query; and how many settlements have a status.
pub async fn counts(
    db: &impl ConnectionTrait,
    prefix: Option<&str>,
) -> Result<(Vec<Counts>, i64), Error> {
    use statuses::Column;
    let scope = |query: &mut sea_orm::sea_query::SelectStatement| {
        query.from(statuses::Entity);
        if let Some(prefix) = prefix {
            query.and_where(aimaq_storage::subtree::within(
                Column::SettlementKato,
                prefix,
            ));
        }
    };
    let mut grouped = Query::select();
    scope(&mut grouped);
    grouped
        .column(Column::StandardCode)
        .expr_as(
            Expr::cust("SUM(CASE WHEN applicable THEN 1 ELSE 0 END)"),
            Alias::new("applicable"),
        )
        .expr_as(
            Expr::cust("SUM(CASE WHEN applicable AND met THEN 1 ELSE 0 END)"),
            Alias::new("met"),
        )
        .group_by_col(Column::StandardCode);
    let backend = db.get_database_backend();
    let rows = Counts::find_by_statement(StatementBuilder::build(&grouped, &backend))
        .all(db)
        .await?;
    let mut settlements = Query::select();
    scope(&mut settlements);
    settlements.expr_as(
        Expr::cust("COUNT(DISTINCT settlement_kato)"),
        Alias::new("settlements"),
    );
    let settlements = db
        .query_one_raw(StatementBuilder::build(&settlements, &backend))
        .await?
        .map(|row| row.try_get::<i64>("", "settlements"))
        .transpose()?
        .unwrap_or(0);
    Ok((rows, settlements))
}
