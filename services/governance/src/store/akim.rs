//! Holders of akim posts, current and past.

use aimaq_error::Error;
use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, NotSet, QueryOrder};

use crate::domain::election::Mandate;

aimaq_storage::text_enum!(MandateColumn for Mandate {
    Appointed = "appointed",
    Elected = "elected",
});

/// `akims/{id}`.
pub fn name(id: i64) -> String {
    format!("akims/{id}")
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "akims")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub territory_kato: String,
    pub iin: String,
    pub full_name: String,
    pub mandate: MandateColumn,
    pub term_start: Date,
    pub term_end: Option<Date>,
    pub left_office: Option<Date>,
    pub election_id: Option<i64>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Every holder's IIN, and whether they were elected, oldest first: what the
/// term limit is checked against.
pub async fn mandates(
    db: &impl ConnectionTrait,
    territory_kato: &str,
) -> Result<Vec<(String, bool)>, Error> {
    Ok(history(db, territory_kato)
        .await?
        .into_iter()
        .map(|a| (a.iin, a.mandate == MandateColumn::Elected))
        .collect())
}

/// Every holder of the post, oldest first.
pub async fn history(db: &impl ConnectionTrait, territory_kato: &str) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::TerritoryKato.eq(territory_kato))
        .order_by_asc(Column::TermStart)
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

pub struct NewAkim<'a> {
    pub territory_kato: &'a str,
    pub iin: &'a str,
    pub full_name: &'a str,
    pub elected: bool,
    pub term_start: NaiveDate,
    pub term_end: Option<NaiveDate>,
    pub election_id: Option<i64>,
}

/// Records a new holder; the current one (if any) leaves office on the new term's
/// first day. Returns the new holder and the predecessor as updated.
pub async fn appoint(
    db: &impl ConnectionTrait,
    new: NewAkim<'_>,
) -> Result<(Model, Option<Model>), Error> {
    let predecessor = match history(db, new.territory_kato)
        .await?
        .into_iter()
        .rev()
        .find(|holder| holder.left_office.is_none())
    {
        Some(current) => {
            let version = current.version + 1;
            let mut model: ActiveModel = current.into();
            model.left_office = Set(Some(new.term_start));
            model.version = Set(version);
            Some(model.update(db).await?)
        }
        None => None,
    };
    let akim = ActiveModel {
        id: NotSet,
        territory_kato: Set(new.territory_kato.to_owned()),
        iin: Set(new.iin.to_owned()),
        full_name: Set(new.full_name.to_owned()),
        mandate: Set(if new.elected {
            MandateColumn::Elected
        } else {
            MandateColumn::Appointed
        }),
        term_start: Set(new.term_start),
        term_end: Set(new.term_end),
        left_office: Set(None),
        election_id: Set(new.election_id),
        version: Set(1),
    }
    .insert(db)
    .await?;
    Ok((akim, predecessor))
}
