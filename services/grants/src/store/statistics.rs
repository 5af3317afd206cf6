//! Counts and sums of what was granted, from the applications in one grouped
//! query, and the published aggregates of the years before the system.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, UnionType};
use sea_orm::{FromQueryResult, QueryOrder, StatementBuilder};

use super::application::applications;
use crate::domain::statistics::{self as domain, Historical, Totals};

pub mod historical {
    use sea_orm::entity::prelude::*;

    /// Published yearly totals for a year before the system went live: national
    /// (an empty region) or a region's.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "historical_aggregates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub region_kato: String,
        pub allowances: i64,
        pub allowances_tiyn: i64,
        pub loans: i64,
        pub loans_tiyn: i64,
        pub source: String,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What was granted in one year, region, field and age band.
#[derive(Debug, Clone, FromQueryResult)]
struct Granted {
    pub year: i32,
    pub region_kato: String,
    pub field: String,
    pub age_band: String,
    pub allowances: i64,
    pub allowances_tiyn: i64,
    pub loans: i64,
    pub loans_tiyn: i64,
}

impl From<Granted> for domain::Granted {
    fn from(row: Granted) -> domain::Granted {
        domain::Granted {
            year: row.year,
            region_kato: row.region_kato,
            field: row.field,
            age_band: row.age_band,
            totals: Totals {
                allowances: row.allowances,
                allowances_tiyn: row.allowances_tiyn,
                loans: row.loans,
                loans_tiyn: row.loans_tiyn,
            },
        }
    }
}

impl From<historical::Model> for Historical {
    fn from(row: historical::Model) -> Historical {
        Historical {
            year: row.year,
            region_kato: row.region_kato,
            totals: Totals {
                allowances: row.allowances,
                allowances_tiyn: row.allowances_tiyn,
                loans: row.loans,
                loans_tiyn: row.loans_tiyn,
            },
            source: row.source,
            version: row.version,
        }
    }
}

/// `historical-aggregates/{year}/{region or "national"}`.
pub fn historical_name(year: i32, region: &str) -> String {
    let region = if region.is_empty() {
        "national"
    } else {
        region
    };
    format!("historical-aggregates/{year}/{region}")
}

/// Statuses of applications whose grants count.
pub const GRANTED: [&str; 4] = ["approved", "active", "completed", "breached"];

/// Granted applications decided in `years`, under a KATO prefix, by year,
/// region (the country's name none unless `by_region`), field and age band:
/// the kept counts of the country, a region or a district, or counted from
/// the applications of a smaller subtree.
pub async fn granted(
    db: &impl ConnectionTrait,
    years: (i32, i32),
    kato_prefix: Option<&str>,
    by_region: bool,
) -> Result<Vec<domain::Granted>, Error> {
    match super::granted_counts::kept(db, years, kato_prefix, by_region).await? {
        Some(kept) => Ok(kept),
        None => counted(db, years, kato_prefix).await,
    }
}

/// [`granted`] counted from the applications, one grouped query over the
/// subtree's index range.
pub async fn counted(
    db: &impl ConnectionTrait,
    years: (i32, i32),
    kato_prefix: Option<&str>,
) -> Result<Vec<domain::Granted>, Error> {
    use applications::Column;
    let mut query = Query::select();
    query
        .from(applications::Entity)
        .expr_as(Expr::col(Column::DecisionYear), Alias::new("year"))
        .column(Column::RegionKato)
        .column(Column::Field)
        .expr_as(Expr::cust("COALESCE(age_band, '')"), Alias::new("age_band"))
        .and_where(Expr::col(Column::Status).is_in(GRANTED))
        // Written so that no index on the year can serve it: a subtree's own
        // range of the settlement index is narrower than every granted
        // application of the years, which SQLite would otherwise range over.
        .and_where(
            Expr::expr(Func::coalesce([
                Expr::col(Column::DecisionYear),
                Expr::val(0),
            ]))
            .between(years.0, years.1),
        )
        .group_by_col(Column::DecisionYear)
        .group_by_col(Column::RegionKato)
        .group_by_col(Column::Field)
        .add_group_by([Expr::cust("COALESCE(age_band, '')")]);
    for (alias, sql) in [
        (
            "allowances",
            "CAST(SUM(CASE WHEN allowance_tiyn > 0 THEN 1 ELSE 0 END) AS BIGINT)",
        ),
        ("allowances_tiyn", "CAST(SUM(allowance_tiyn) AS BIGINT)"),
        (
            "loans",
            "CAST(SUM(CASE WHEN loan_amount_tiyn > 0 THEN 1 ELSE 0 END) AS BIGINT)",
        ),
        ("loans_tiyn", "CAST(SUM(loan_amount_tiyn) AS BIGINT)"),
    ] {
        query.expr_as(Expr::cust(sql), Alias::new(alias));
    }
    if let Some(prefix) = kato_prefix {
        query.and_where(aimaq_storage::subtree::within(
            Column::SettlementKato,
            prefix,
        ));
    }
    let statement = StatementBuilder::build(&query, &db.get_database_backend());
    let rows = Granted::find_by_statement(statement).all(db).await?;
    Ok(rows.into_iter().map(domain::Granted::from).collect())
}

/// Allowances, their money, loans and their money summed: `NULL` over no rows.
#[derive(Debug, Default, FromQueryResult)]
struct Sums {
    allowances: Option<i64>,
    allowances_tiyn: Option<i64>,
    loans: Option<i64>,
    loans_tiyn: Option<i64>,
}

/// What the whole country was granted in `years` with the national published
/// totals of those years: one statement over the country's kept rows and the
/// national aggregates, a few hundred rows.
pub async fn national(db: &impl ConnectionTrait, years: (i32, i32)) -> Result<Totals, Error> {
    use super::granted_counts::{COUNTRY, counts};
    let sums = ["allowances", "allowances_tiyn", "loans", "loans_tiyn"];
    let mut both = Query::select()
        .columns(sums.map(Alias::new))
        .from(counts::Entity)
        .and_where(Expr::col(counts::Column::Level).eq(COUNTRY))
        .and_where(Expr::col(counts::Column::ScopeKato).eq(""))
        .and_where(Expr::col(counts::Column::Year).between(years.0, years.1))
        .to_owned();
    let published = Query::select()
        .columns(sums.map(Alias::new))
        .from(historical::Entity)
        .and_where(Expr::col(historical::Column::RegionKato).eq(""))
        .and_where(Expr::col(historical::Column::Year).between(years.0, years.1))
        .to_owned();
    both.union(UnionType::All, published);
    let mut query = Query::select();
    for sum in sums {
        // PostgreSQL sums BIGINT as NUMERIC: bring it back to BIGINT.
        query.expr_as(
            Expr::cust(format!("CAST(SUM({sum}) AS BIGINT)")),
            Alias::new(sum),
        );
    }
    query.from_subquery(both, Alias::new("national"));
    let statement = StatementBuilder::build(&query, &db.get_database_backend());
    let sums = Sums::find_by_statement(statement)
        .one(db)
        .await?
        .unwrap_or_default();
    Ok(Totals {
        allowances: sums.allowances.unwrap_or(0),
        allowances_tiyn: sums.allowances_tiyn.unwrap_or(0),
        loans: sums.loans.unwrap_or(0),
        loans_tiyn: sums.loans_tiyn.unwrap_or(0),
    })
}

/// Historical aggregates in `years`: regional ones under a KATO prefix, or,
/// without one, the national ones.
pub async fn historical(
    db: &impl ConnectionTrait,
    years: (i32, i32),
    kato_prefix: Option<&str>,
) -> Result<Vec<Historical>, Error> {
    use historical::Column;
    let query = historical::Entity::find().filter(Column::Year.between(years.0, years.1));
    let query = match kato_prefix {
        Some(prefix) => query.filter(aimaq_storage::subtree::within(Column::RegionKato, prefix)),
        None => query.filter(Column::RegionKato.eq("")),
    };
    let rows = query
        .order_by_asc(Column::Year)
        .order_by_asc(Column::RegionKato)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(Historical::from).collect())
}

pub async fn historical_for_update(
    db: &impl ConnectionTrait,
    year: i32,
    region: &str,
) -> Result<Option<Historical>, Error> {
    use sea_orm::QuerySelect;
    let row = historical::Entity::find_by_id((year, region.to_owned()))
        .lock_exclusive()
        .one(db)
        .await?;
    Ok(row.map(Historical::from))
}

pub async fn save_historical(
    db: &impl ConnectionTrait,
    aggregate: &Historical,
    created: bool,
) -> Result<(), Error> {
    let row = historical::Model {
        year: aggregate.year,
        region_kato: aggregate.region_kato.clone(),
        allowances: aggregate.totals.allowances,
        allowances_tiyn: aggregate.totals.allowances_tiyn,
        loans: aggregate.totals.loans,
        loans_tiyn: aggregate.totals.loans_tiyn,
        source: aggregate.source.clone(),
        version: aggregate.version,
    };
    aimaq_storage::save(db, historical::ActiveModel::from(row), created).await
}

/// Whether any application in the region (any, when empty) was granted with a
/// decision in `year`.
pub async fn granted_in(db: &impl ConnectionTrait, year: i32, region: &str) -> Result<bool, Error> {
    use applications::Column;
    let mut query = applications::Entity::find()
        .filter(Column::Status.is_in(GRANTED))
        .filter(Column::DecisionYear.eq(year));
    if !region.is_empty() {
        query = query.filter(Column::RegionKato.eq(region));
    }
    Ok(query.one(db).await?.is_some())
}
