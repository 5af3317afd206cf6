//! Rural districts' revenue and the development indicators of territories.

use aimaq_error::Error;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Func, SimpleExpr};
use sea_orm::{ActiveValue::Set, NotSet, QueryOrder, QuerySelect};

use crate::domain::local_budget::RevenueSource;

pub mod revenues {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "revenues")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub territory_kato: String,
        pub fiscal_year: i32,
        pub source: String,
        pub amount_tiyn: i64,
        pub note: String,
        pub recorded_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod indicators {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "indicators")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub territory_kato: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub figure: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub value_bp: i64,
        pub source: String,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn insert_revenue(
    db: &impl ConnectionTrait,
    revenue: revenues::Model,
) -> Result<revenues::Model, Error> {
    let mut model: revenues::ActiveModel = revenue.into();
    model.id = NotSet;
    Ok(model.insert(db).await?)
}

/// Revenue of the territories under `kato_prefix` summed by year and source.
pub async fn revenue_by_year_and_source(
    db: &impl ConnectionTrait,
    kato_prefix: &str,
    from_year: i32,
    to_year: i32,
) -> Result<Vec<(i32, RevenueSource, i64)>, Error> {
    // PostgreSQL sums BIGINT as NUMERIC: bring it back to BIGINT.
    let total: SimpleExpr = Func::cast_as(
        Func::sum(Expr::col(revenues::Column::AmountTiyn)),
        Alias::new("BIGINT"),
    )
    .into();
    let rows: Vec<(i32, String, i64)> = revenues::Entity::find()
        .select_only()
        .column(revenues::Column::FiscalYear)
        .column(revenues::Column::Source)
        .column_as(total, "total")
        .filter(aimaq_storage::subtree::within(
            revenues::Column::TerritoryKato,
            kato_prefix,
        ))
        .filter(revenues::Column::FiscalYear.between(from_year, to_year))
        .group_by(revenues::Column::FiscalYear)
        .group_by(revenues::Column::Source)
        .order_by_asc(revenues::Column::FiscalYear)
        .order_by_asc(revenues::Column::Source)
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(year, source, amount)| {
            RevenueSource::parse(&source)
                .map(|source| (year, source, amount))
                .ok_or_else(|| Error::internal(format!("stored revenue source {source:?}")))
        })
        .collect()
}

/// A page of the territories under `kato_prefix` with revenue in the years, by
/// code.
pub async fn revenue_territory_page(
    db: &impl ConnectionTrait,
    kato_prefix: &str,
    (from_year, to_year): (i32, i32),
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<String>, String), Error> {
    let mut query = revenues::Entity::find()
        .select_only()
        .column(revenues::Column::TerritoryKato)
        .distinct()
        .filter(aimaq_storage::subtree::within(
            revenues::Column::TerritoryKato,
            kato_prefix,
        ))
        .filter(revenues::Column::FiscalYear.between(from_year, to_year));
    if let Some(after) = &page.after {
        query = query.filter(revenues::Column::TerritoryKato.gt(after.clone()));
    }
    let codes: Vec<String> = query
        .order_by_asc(revenues::Column::TerritoryKato)
        .limit(page.fetch_limit())
        .into_tuple()
        .all(db)
        .await?;
    Ok(page.finish(codes, Clone::clone))
}

/// Revenue of each of `codes` summed by year and source, by code.
pub async fn revenue_of_territories(
    db: &impl ConnectionTrait,
    codes: &[String],
    (from_year, to_year): (i32, i32),
) -> Result<Vec<(String, i32, RevenueSource, i64)>, Error> {
    let total: SimpleExpr = Func::cast_as(
        Func::sum(Expr::col(revenues::Column::AmountTiyn)),
        Alias::new("BIGINT"),
    )
    .into();
    let rows: Vec<(String, i32, String, i64)> = revenues::Entity::find()
        .select_only()
        .column(revenues::Column::TerritoryKato)
        .column(revenues::Column::FiscalYear)
        .column(revenues::Column::Source)
        .column_as(total, "total")
        .filter(revenues::Column::TerritoryKato.is_in(codes.iter().cloned()))
        .filter(revenues::Column::FiscalYear.between(from_year, to_year))
        .group_by(revenues::Column::TerritoryKato)
        .group_by(revenues::Column::FiscalYear)
        .group_by(revenues::Column::Source)
        .order_by_asc(revenues::Column::TerritoryKato)
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(kato, year, source, amount)| {
            RevenueSource::parse(&source)
                .map(|source| (kato, year, source, amount))
                .ok_or_else(|| Error::internal(format!("stored revenue source {source:?}")))
        })
        .collect()
}

/// `revenues/{id}`.
pub fn revenue_name(id: i64) -> String {
    format!("revenues/{id}")
}

/// `indicators/{kato}/{kind}/{figure}/{year}`; `national` in place of the code
/// for the republic as a whole (stored with an empty code).
pub fn indicator_name(code: &str, kind: &str, figure: &str, year: i32) -> String {
    let code = if code.is_empty() { "national" } else { code };
    format!("indicators/{code}/{kind}/{figure}/{year}")
}

/// How many territories under `kato_prefix` have revenue in the range.
pub async fn revenue_territories(
    db: &impl ConnectionTrait,
    kato_prefix: &str,
    from_year: i32,
    to_year: i32,
) -> Result<u64, Error> {
    let codes: Vec<String> = revenues::Entity::find()
        .select_only()
        .column(revenues::Column::TerritoryKato)
        .distinct()
        .filter(aimaq_storage::subtree::within(
            revenues::Column::TerritoryKato,
            kato_prefix,
        ))
        .filter(revenues::Column::FiscalYear.between(from_year, to_year))
        .into_tuple()
        .all(db)
        .await?;
    Ok(codes.len() as u64)
}

pub async fn find_indicator(
    db: &impl ConnectionTrait,
    key: (&str, &str, &str, i32),
) -> Result<Option<indicators::Model>, Error> {
    Ok(indicators::Entity::find_by_id((
        key.0.to_owned(),
        key.1.to_owned(),
        key.2.to_owned(),
        key.3,
    ))
    .lock_exclusive()
    .one(db)
    .await?)
}

pub async fn save_indicator(
    db: &impl ConnectionTrait,
    indicator: indicators::Model,
    created: bool,
) -> Result<(), Error> {
    let model: indicators::ActiveModel = indicators::ActiveModel {
        territory_kato: Set(indicator.territory_kato),
        kind: Set(indicator.kind),
        figure: Set(indicator.figure),
        year: Set(indicator.year),
        value_bp: Set(indicator.value_bp),
        source: Set(indicator.source),
        version: Set(indicator.version),
    };
    if created {
        indicators::Entity::insert(model)
            .exec_without_returning(db)
            .await?;
    } else {
        model.update(db).await?;
    }
    Ok(())
}

/// Indicators of a territory, ordered by kind, year and figure.
pub async fn list_indicators(
    db: &impl ConnectionTrait,
    territory_kato: &str,
    kinds: &[&str],
    from_year: Option<i32>,
    to_year: Option<i32>,
) -> Result<Vec<indicators::Model>, Error> {
    let mut query =
        indicators::Entity::find().filter(indicators::Column::TerritoryKato.eq(territory_kato));
    if !kinds.is_empty() {
        query = query.filter(indicators::Column::Kind.is_in(kinds.iter().copied()));
    }
    if let Some(from) = from_year {
        query = query.filter(indicators::Column::Year.gte(from));
    }
    if let Some(to) = to_year {
        query = query.filter(indicators::Column::Year.lte(to));
    }
    Ok(query
        .order_by_asc(indicators::Column::Kind)
        .order_by_asc(indicators::Column::Year)
        .order_by_asc(indicators::Column::Figure)
        .all(db)
        .await?)
}
