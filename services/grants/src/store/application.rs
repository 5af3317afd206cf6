//! Applications, the people who make them, and the regions' yearly quotas.

use aimaq_error::Error;
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query, UpdateStatement};

use super::terms::{self, mci_rates, policies};

pub mod applications {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "applications")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub iin: String,
        pub full_name: String,
        pub field: String,
        pub diploma_level: i32,
        pub diploma_speciality: String,
        pub diploma_year: i32,
        pub diploma_institution: String,
        pub settlement_kato: String,
        pub region_kato: String,
        pub employer: String,
        /// ISO dates.
        pub start_date: String,
        pub allowance_requested: bool,
        /// 0 when no loan is requested.
        pub loan_requested_tiyn: i64,
        pub loan_requested_months: i32,
        pub status: String,
        pub submitted_year: i32,
        /// Fixed on approval.
        pub decision_date: Option<String>,
        pub decision_year: Option<i32>,
        pub allowance_tiyn: i64,
        pub loan_amount_tiyn: i64,
        pub loan_term_months: i32,
        pub loan_rate_bp: i32,
        pub obligation_months: i32,
        pub mci_tiyn: i64,
        pub policy_effective_from: Option<String>,
        pub age_band: Option<String>,
        pub rejection_reason: String,
        pub allowance_paid: bool,
        pub loan_disbursed_on: Option<String>,
        pub departure_date: Option<String>,
        pub served_months: i32,
        pub unserved_months: i32,
        pub allowance_refund_tiyn: i64,
        pub loan_principal_due_tiyn: i64,
        pub version: i64,
        pub submitted_at_micros: i64,
        pub updated_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::persons::Entity",
            from = "Column::Iin",
            to = "super::persons::Column::Iin"
        )]
        Person,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod persons {
    use sea_orm::entity::prelude::*;

    /// One row per IIN that ever applied: the lock that keeps one open
    /// application per person and one allowance per life.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "persons")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub iin: String,
        pub open_application: Option<i64>,
        pub allowance_application: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod quotas {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "quotas")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub region_kato: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub allowance_count: i32,
        pub loan_amount_tiyn: i64,
        pub allowances_approved: i32,
        pub loans_approved_tiyn: i64,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub fn name(id: i64) -> String {
    format!("applications/{id}")
}

/// The id in `applications/{id}`.
pub fn parse_name(text: &str) -> Result<i64, Error> {
    aimaq_storage::id_from_name(text, "applications", "application")
}

pub async fn insert(
    db: &impl ConnectionTrait,
    application: applications::Model,
) -> Result<applications::Model, Error> {
    let mut model = applications::ActiveModel::from(application.clone()).reset_all();
    model.id = sea_orm::ActiveValue::NotSet;
    let id = applications::Entity::insert(model)
        .exec(db)
        .await?
        .last_insert_id;
    Ok(applications::Model { id, ..application })
}

/// The application, locked for the rest of the transaction when `lock` (on
/// PostgreSQL).
pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<Option<applications::Model>, Error> {
    aimaq_storage::find_by_id::<applications::Entity>(db, id, lock).await
}

/// The application and its applicant's row, by one query, locked for the rest of
/// the transaction (on PostgreSQL). None when either is missing.
async fn joined_for_update(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<(applications::Model, persons::Model)>, Error> {
    use sea_orm::{JoinType, RelationTrait};
    let query = applications::Entity::find_by_id(id)
        .join(JoinType::InnerJoin, applications::Relation::Person.def())
        .select_also(persons::Entity)
        .lock_exclusive();
    Ok(match query.one(db).await? {
        Some((application, Some(person))) => Some((application, person)),
        _ => None,
    })
}

/// What a decision reads before it writes: the application and its applicant's
/// row as they are now, unlocked (for a write that checks they are unchanged
/// when it updates them), and the terms and MCI value in force on the decision
/// date. Each is `None` when missing.
#[derive(Debug)]
pub struct DecisionInputs {
    pub seen: Option<(applications::Model, persons::Model)>,
    pub terms: Option<(policies::Model, mci_rates::Model)>,
}

/// [`DecisionInputs`] for application `id` on `date`, in one query: every
/// query is a round trip and a pool checkout.
pub async fn decision_inputs(
    db: &impl ConnectionTrait,
    id: i64,
    date: &str,
) -> Result<DecisionInputs, Error> {
    use sea_orm::Iterable;
    use sea_orm::sea_query::{Alias, JoinType};
    let mut query = Query::select();
    // One row whatever is missing: every part is joined to it.
    query.from_subquery(
        Query::select().expr(Expr::cust("1")).to_owned(),
        Alias::new("decision"),
    );
    query
        .join(
            JoinType::LeftJoin,
            applications::Entity,
            Expr::col((applications::Entity, applications::Column::Id)).eq(id),
        )
        .join(
            JoinType::LeftJoin,
            persons::Entity,
            Expr::col((persons::Entity, persons::Column::Iin))
                .equals((applications::Entity, applications::Column::Iin)),
        )
        .join(
            JoinType::LeftJoin,
            policies::Entity,
            Expr::col((policies::Entity, policies::Column::EffectiveFrom)).in_subquery(
                terms::latest(policies::Entity, policies::Column::EffectiveFrom, date),
            ),
        )
        .join(
            JoinType::LeftJoin,
            mci_rates::Entity,
            Expr::col((mci_rates::Entity, mci_rates::Column::EffectiveFrom)).in_subquery(
                terms::latest(mci_rates::Entity, mci_rates::Column::EffectiveFrom, date),
            ),
        );
    fn select_all<E: EntityTrait>(query: &mut sea_orm::sea_query::SelectStatement, entity: E) {
        for column in E::Column::iter() {
            let prefixed = format!("{}_{}", entity.table_name(), column.as_str());
            query.expr_as(
                column.select_as(Expr::col((entity, column))),
                Alias::new(prefixed),
            );
        }
    }
    select_all(&mut query, applications::Entity);
    select_all(&mut query, persons::Entity);
    select_all(&mut query, policies::Entity);
    select_all(&mut query, mci_rates::Entity);
    let statement = sea_orm::StatementBuilder::build(&query, &db.get_database_backend());
    let row = db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| Error::internal("the decision's inputs: no row"))?;
    fn part<E: EntityTrait>(
        row: &sea_orm::QueryResult,
        entity: E,
    ) -> Result<Option<E::Model>, Error> {
        use sea_orm::FromQueryResult;
        Ok(Option::<E::Model>::from_query_result(
            row,
            &format!("{}_", entity.table_name()),
        )?)
    }
    let seen = part(&row, applications::Entity)?.zip(part(&row, persons::Entity)?);
    let terms = part(&row, policies::Entity)?.zip(part(&row, mci_rates::Entity)?);
    Ok(DecisionInputs { seen, terms })
}

/// The application and its applicant's row, both locked (on PostgreSQL) by one
/// query; the `bool` says the applicant's row is new (not yet stored).
pub async fn find_with_person(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<(applications::Model, persons::Model, bool)>, Error> {
    if let Some((application, person)) = joined_for_update(db, id).await? {
        return Ok(Some((application, person, false)));
    }
    // Every application has its applicant's row; this is the careful path.
    let Some(application) = find(db, id, true).await? else {
        return Ok(None);
    };
    let (person, created) = person_for_update(db, &application.iin).await?;
    Ok(Some((application, person, created)))
}

/// The person, locked; a new row (not yet stored) when they never applied.
pub async fn person_for_update(
    db: &impl ConnectionTrait,
    iin: &str,
) -> Result<(persons::Model, bool), Error> {
    let found = persons::Entity::find_by_id(iin.to_owned())
        .lock_exclusive()
        .one(db)
        .await?;
    Ok(match found {
        Some(person) => (person, false),
        None => (
            persons::Model {
                iin: iin.to_owned(),
                open_application: None,
                allowance_application: None,
            },
            true,
        ),
    })
}

pub async fn quota_for_update(
    db: &impl ConnectionTrait,
    region: &str,
    year: i32,
) -> Result<Option<quotas::Model>, Error> {
    Ok(quotas::Entity::find_by_id((region.to_owned(), year))
        .lock_exclusive()
        .one(db)
        .await?)
}

/// Adds an approval to the region's quota for the year in one statement, which
/// locks the row, if the quota then still holds it. The new version, or `None`
/// when the quota is not set or would be exceeded.
pub async fn draw_on_quota(
    db: &impl ConnectionTrait,
    (region, year): (&str, i32),
    allowances: i32,
    loans_tiyn: i64,
) -> Result<Option<i64>, Error> {
    let update = quota_draw((region, year), allowances, loans_tiyn)
        .returning_col(quotas::Column::Version)
        .to_owned();
    let statement = sea_orm::StatementBuilder::build(&update, &db.get_database_backend());
    match db.query_one_raw(statement).await? {
        Some(row) => Ok(Some(row.try_get::<i64>("", "version")?)),
        None => Ok(None),
    }
}

/// The `UPDATE` of [`draw_on_quota`], to send with others; it changes no row
/// when the quota is not set or would be exceeded.
pub fn quota_draw(
    (region, year): (&str, i32),
    allowances: i32,
    loans_tiyn: i64,
) -> UpdateStatement {
    use quotas::Column;
    Query::update()
        .table(quotas::Entity)
        .value(
            Column::AllowancesApproved,
            Expr::col(Column::AllowancesApproved).add(allowances),
        )
        .value(
            Column::LoansApprovedTiyn,
            Expr::col(Column::LoansApprovedTiyn).add(loans_tiyn),
        )
        .value(Column::Version, Expr::col(Column::Version).add(1))
        .and_where(Expr::col(Column::RegionKato).eq(region))
        .and_where(Expr::col(Column::Year).eq(year))
        .and_where(
            Expr::col(Column::AllowanceCount)
                .sub(Expr::col(Column::AllowancesApproved))
                .gte(allowances),
        )
        .and_where(
            Expr::col(Column::LoanAmountTiyn)
                .sub(Expr::col(Column::LoansApprovedTiyn))
                .gte(loans_tiyn),
        )
        .to_owned()
}

pub async fn quota(
    db: &impl ConnectionTrait,
    region: &str,
    year: i32,
) -> Result<Option<quotas::Model>, Error> {
    Ok(quotas::Entity::find_by_id((region.to_owned(), year))
        .one(db)
        .await?)
}

/// What ListApplications filters by; `None` for any.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<&'static str>,
    pub kato_prefix: Option<String>,
    pub field: Option<&'static str>,
    pub year: Option<i32>,
    pub iin: Option<String>,
}

/// Applications matching `filter`, in the order they were submitted.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<applications::Model>, String), Error> {
    use applications::Column;
    let mut query = applications::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status));
    }
    if let Some(prefix) = filter.kato_prefix {
        query = query.filter(Column::SettlementKato.starts_with(prefix));
    }
    if let Some(field) = filter.field {
        query = query.filter(Column::Field.eq(field));
    }
    if let Some(year) = filter.year {
        query = query.filter(Column::SubmittedYear.eq(year));
    }
    if let Some(iin) = filter.iin {
        query = query.filter(Column::Iin.eq(iin));
    }
    aimaq_storage::paging::by_id(db, query, Column::Id, page, |row| row.id).await
}
