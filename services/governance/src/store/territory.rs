//! The territory registry table.

use aimaq_error::Error;
use aimaq_types::Kato;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use crate::domain::territory::{
    GrowthPoints, Names, Territory, TerritoryDraft, TerritoryKind, Validity,
};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "territories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kato: String,
    pub parent_kato: Option<String>,
    pub level: i32,
    pub kind: String,
    pub name_kk: String,
    pub name_ru: String,
    pub name_en: String,
    pub rural: bool,
    pub population: i64,
    pub agglomeration: String,
    pub single_industry_town: bool,
    pub support_village: bool,
    pub special_economic_zone: bool,
    pub version: i64,
    pub updated_at_micros: i64,
    pub valid_from: Option<Date>,
    pub valid_to: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for Territory {
    type Error = Error;

    fn try_from(row: Model) -> Result<Territory, Error> {
        let corrupt = |what: &str| {
            Error::internal(format!("territory {}: stored {what} is invalid", row.kato))
        };
        Ok(Territory {
            draft: TerritoryDraft {
                kato: Kato::parse(&row.kato).map_err(|_| corrupt("code"))?,
                kind: TerritoryKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
                names: Names {
                    kk: row.name_kk,
                    ru: row.name_ru,
                    en: row.name_en,
                },
                rural: row.rural,
                population: row.population,
                growth_points: GrowthPoints {
                    agglomeration: row.agglomeration,
                    single_industry_town: row.single_industry_town,
                    support_village: row.support_village,
                    special_economic_zone: row.special_economic_zone,
                },
                validity: Validity {
                    from: row.valid_from,
                    to: row.valid_to,
                },
            },
            parent: row
                .parent_kato
                .as_deref()
                .map(Kato::parse)
                .transpose()
                .map_err(|_| corrupt("parent"))?,
            version: row.version,
            updated_at_micros: row.updated_at_micros,
        })
    }
}

fn active_model(territory: &Territory) -> ActiveModel {
    let draft = &territory.draft;
    ActiveModel {
        kato: Set(draft.kato.to_string()),
        parent_kato: Set(territory.parent.map(|k| k.to_string())),
        level: Set(i32::from(draft.kato.level())),
        kind: Set(draft.kind.as_str().to_owned()),
        name_kk: Set(draft.names.kk.clone()),
        name_ru: Set(draft.names.ru.clone()),
        name_en: Set(draft.names.en.clone()),
        rural: Set(draft.rural),
        population: Set(draft.population),
        agglomeration: Set(draft.growth_points.agglomeration.clone()),
        single_industry_town: Set(draft.growth_points.single_industry_town),
        support_village: Set(draft.growth_points.support_village),
        special_economic_zone: Set(draft.growth_points.special_economic_zone),
        version: Set(territory.version),
        updated_at_micros: Set(territory.updated_at_micros),
        valid_from: Set(draft.validity.from),
        valid_to: Set(draft.validity.to),
    }
}

/// `territories/{kato}`.
pub fn name(kato: Kato) -> String {
    format!("territories/{kato}")
}

pub async fn find(db: &impl ConnectionTrait, kato: Kato) -> Result<Option<Territory>, Error> {
    Entity::find_by_id(kato.to_string())
        .one(db)
        .await?
        .map(Territory::try_from)
        .transpose()
}

/// The row, locked for the rest of the transaction (on PostgreSQL).
pub async fn find_for_update(
    db: &impl ConnectionTrait,
    kato: Kato,
) -> Result<Option<Territory>, Error> {
    Entity::find_by_id(kato.to_string())
        .lock_exclusive()
        .one(db)
        .await?
        .map(Territory::try_from)
        .transpose()
}

/// Which of `codes` are registered.
pub async fn existing(db: &impl ConnectionTrait, codes: &[Kato]) -> Result<Vec<Kato>, Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let rows = Entity::find()
        .select_only()
        .column(Column::Kato)
        .filter(Column::Kato.is_in(codes.iter().map(|k| k.to_string())))
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|code| Kato::parse(code).ok())
        .collect())
}

/// The chain of ancestors, nearest first.
pub async fn ancestors(
    db: &impl ConnectionTrait,
    territory: &Territory,
) -> Result<Vec<Territory>, Error> {
    let candidates: Vec<Kato> = territory.draft.kato.parent_candidates().collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<Territory> = Entity::find()
        .filter(Column::Kato.is_in(candidates.iter().map(|k| k.to_string())))
        .all(db)
        .await?
        .into_iter()
        .map(Territory::try_from)
        .collect::<Result<_, _>>()?;
    // Every registered candidate lies on the parent chain; nearest = longest code prefix.
    rows.sort_by_key(|territory| std::cmp::Reverse(territory.draft.kato));
    Ok(rows)
}

pub async fn insert(db: &impl ConnectionTrait, territory: &Territory) -> Result<(), Error> {
    Entity::insert(active_model(territory))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn update(db: &impl ConnectionTrait, territory: &Territory) -> Result<(), Error> {
    Entity::update(active_model(territory))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Points at `new_parent` the children of `old_parent` that it now stands
/// between (a code registered after its descendants becomes their parent), and
/// returns them with their new versions.
pub async fn adopt_children(
    db: &impl ConnectionTrait,
    new_parent: Kato,
    old_parent: Option<Kato>,
    now_micros: i64,
) -> Result<Vec<(Kato, i64)>, Error> {
    let Some(old_parent) = old_parent else {
        return Ok(Vec::new());
    };
    let children = Entity::find()
        .filter(Column::ParentKato.eq(old_parent.to_string()))
        .lock_exclusive()
        .all(db)
        .await?;
    let mut adopted = Vec::new();
    for child in children {
        let Ok(code) = Kato::parse(&child.kato) else {
            continue;
        };
        if !new_parent.is_ancestor_of(code) {
            continue;
        }
        let version = child.version + 1;
        ActiveModel {
            kato: Set(child.kato),
            parent_kato: Set(Some(new_parent.to_string())),
            version: Set(version),
            updated_at_micros: Set(now_micros),
            ..<ActiveModel as ActiveModelTrait>::default()
        }
        .update(db)
        .await?;
        adopted.push((code, version));
    }
    Ok(adopted)
}

/// Which territories a list covers.
#[derive(Debug, Clone, Default)]
pub struct TerritoryFilter {
    /// `None`: the top-level units.
    pub parent: Option<Kato>,
    pub subtree: bool,
    pub kinds: Vec<TerritoryKind>,
    pub rural: Option<bool>,
    pub support_village: Option<bool>,
    pub single_industry_town: Option<bool>,
    pub special_economic_zone: Option<bool>,
    /// `Some("*")`: any agglomeration; `Some(name)`: that one.
    pub agglomeration: Option<String>,
}

impl TerritoryFilter {
    fn condition(&self) -> sea_orm::Condition {
        use sea_orm::Condition;
        let mut condition = Condition::all();
        condition = match (self.parent, self.subtree) {
            (None, false) => condition.add(Column::ParentKato.is_null()),
            (None, true) => condition,
            (Some(parent), false) => condition.add(Column::ParentKato.eq(parent.to_string())),
            (Some(parent), true) => match parent.descendant_prefix() {
                Some(prefix) => condition
                    .add(aimaq_storage::subtree::within(Column::Kato, &prefix))
                    .add(Column::Kato.ne(parent.to_string())),
                // No code can descend from it.
                None => condition.add(Column::Kato.is_null()),
            },
        };
        if !self.kinds.is_empty() {
            condition = condition.add(Column::Kind.is_in(self.kinds.iter().map(|k| k.as_str())));
        }
        for (column, wanted) in [
            (Column::Rural, self.rural),
            (Column::SupportVillage, self.support_village),
            (Column::SingleIndustryTown, self.single_industry_town),
            (Column::SpecialEconomicZone, self.special_economic_zone),
        ] {
            if let Some(wanted) = wanted {
                condition = condition.add(column.eq(wanted));
            }
        }
        match self.agglomeration.as_deref() {
            None => condition,
            Some("*") => condition.add(Column::Agglomeration.ne("")),
            Some(name) => condition.add(Column::Agglomeration.eq(name)),
        }
    }
}

/// One page of the territories matching `filter`, in code order, and how many
/// match in all.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &TerritoryFilter,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<Territory>, String, u64), Error> {
    use sea_orm::{PaginatorTrait, QueryOrder};
    let condition = filter.condition();
    let total = Entity::find().filter(condition.clone()).count(db).await?;
    let mut query = Entity::find().filter(condition);
    if let Some(after) = &page.after {
        query = query.filter(Column::Kato.gt(after.clone()));
    }
    let rows = query
        .order_by_asc(Column::Kato)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    let (rows, next) = page.finish(rows, |row| row.kato.clone());
    let territories = rows
        .into_iter()
        .map(Territory::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((territories, next, total))
}

/// The registered territories of `codes`, by code.
pub async fn find_many(
    db: &impl ConnectionTrait,
    codes: &[String],
) -> Result<Vec<Territory>, Error> {
    Entity::find()
        .filter(Column::Kato.is_in(codes.iter().cloned()))
        .order_by_asc(Column::Kato)
        .all(db)
        .await?
        .into_iter()
        .map(Territory::try_from)
        .collect()
}

/// Every registered territory, by code.
pub async fn all(
    db: &impl ConnectionTrait,
) -> Result<std::collections::HashMap<Kato, Territory>, Error> {
    Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| Territory::try_from(row).map(|t| (t.draft.kato, t)))
        .collect()
}

/// Rows per insert at most; fewer go in chunks of powers of two, so that the
/// statements take few shapes (`aimaq_storage::chunks`).
const ROWS_PER_INSERT: usize = 512;

/// Writes an import plan: new rows in bounded multi-row inserts, then updates.
pub async fn apply_plan(
    db: &impl ConnectionTrait,
    plan: &crate::domain::import::ImportPlan,
) -> Result<(), Error> {
    for chunk in aimaq_storage::chunks::in_powers_of_two(&plan.create, ROWS_PER_INSERT) {
        Entity::insert_many(chunk.iter().map(active_model).collect::<Vec<_>>())
            .exec_without_returning(db)
            .await?;
    }
    for territory in &plan.update {
        update(db, territory).await?;
    }
    Ok(())
}

/// The registered territory, or NOT_FOUND naming it.
pub async fn require(db: &impl ConnectionTrait, kato: Kato) -> Result<Territory, Error> {
    find(db, kato)
        .await?
        .ok_or_else(|| Error::not_found("territory", name(kato)))
}
