//! The territory registry table.

use aimaq_error::Error;
use aimaq_types::Kato;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QuerySelect};

use crate::domain::territory::{GrowthPoints, Names, Territory, TerritoryDraft, TerritoryKind};

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
    }
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
    Entity::update(active_model(territory)).exec(db).await?;
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
