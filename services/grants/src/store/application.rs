//! Applications, the people who make them, and the regions' yearly quotas.

use aimaq_error::Error;
use aimaq_types::{Iin, Money};
use chrono::{Datelike, NaiveDate};
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use super::quota::quotas;
use super::terms::{self, mci_rates, policies, stored_date};
use super::{found, stored_kato};
use crate::domain::application::{
    Application, ApplicationStatus, Diploma, Granted, Loan, Person, Settlement,
};
use crate::domain::terms::{Field, MciRate, PolicyRecord};

aimaq_storage::text_enum!(StatusColumn for ApplicationStatus {
    Submitted = "submitted",
    Approved = "approved",
    Rejected = "rejected",
    Active = "active",
    Completed = "completed",
    Breached = "breached",
});

aimaq_storage::text_enum!(FieldColumn for Field {
    Healthcare = "healthcare",
    Education = "education",
    SocialSecurity = "social_security",
    Culture = "culture",
    Sport = "sport",
    AgroIndustrial = "agro_industrial",
    AkimOfficeCivilService = "akim_office_civil_service",
});

pub mod applications {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "applications")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub iin: String,
        pub full_name: String,
        pub field: super::FieldColumn,
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
        pub status: super::StatusColumn,
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

pub fn name(id: i64) -> String {
    format!("applications/{id}")
}

/// The id in `applications/{id}`.
pub fn parse_name(text: &str) -> Result<i64, Error> {
    aimaq_storage::id_from_name(text, "applications", "application")
}

fn stored_iin(text: &str) -> Result<Iin, Error> {
    Iin::parse(text).map_err(Error::internal)
}

fn stored_day(text: Option<&str>) -> Result<Option<NaiveDate>, Error> {
    text.map(stored_date).transpose()
}

impl TryFrom<applications::Model> for Application {
    type Error = Error;

    fn try_from(row: applications::Model) -> Result<Application, Error> {
        let settlement_due = (row.unserved_months > 0).then(|| Settlement {
            served_months: row.served_months,
            unserved_months: row.unserved_months,
            allowance_refund: Money::from_tiyn(row.allowance_refund_tiyn),
            loan_principal_due: Money::from_tiyn(row.loan_principal_due_tiyn),
        });
        Ok(Application {
            id: row.id,
            iin: stored_iin(&row.iin)?,
            full_name: row.full_name,
            field: row.field.into(),
            diploma: Diploma {
                level: row.diploma_level,
                speciality: row.diploma_speciality,
                year: row.diploma_year,
                institution: row.diploma_institution,
            },
            settlement: stored_kato(&row.settlement_kato)?,
            employer: row.employer,
            start_date: stored_date(&row.start_date)?,
            allowance_requested: row.allowance_requested,
            loan_requested: (row.loan_requested_tiyn > 0).then_some(Loan {
                amount: Money::from_tiyn(row.loan_requested_tiyn),
                months: row.loan_requested_months,
            }),
            status: row.status.into(),
            submitted_year: row.submitted_year,
            decision_date: stored_day(row.decision_date.as_deref())?,
            granted: Granted {
                allowance: Money::from_tiyn(row.allowance_tiyn),
                loan: Loan {
                    amount: Money::from_tiyn(row.loan_amount_tiyn),
                    months: row.loan_term_months,
                },
                loan_rate_bp: row.loan_rate_bp,
                obligation_months: row.obligation_months,
                mci: Money::from_tiyn(row.mci_tiyn),
                policy_effective_from: stored_day(row.policy_effective_from.as_deref())?,
                age_band: row.age_band,
            },
            rejection_reason: row.rejection_reason,
            allowance_paid: row.allowance_paid,
            loan_disbursed_on: stored_day(row.loan_disbursed_on.as_deref())?,
            departure_date: stored_day(row.departure_date.as_deref())?,
            served_months: row.served_months,
            settlement_due,
            version: row.version,
            submitted_at_micros: row.submitted_at_micros,
            updated_at_micros: row.updated_at_micros,
        })
    }
}

impl From<&Application> for applications::Model {
    fn from(application: &Application) -> applications::Model {
        let requested = application.loan_requested.unwrap_or_default();
        let granted = &application.granted;
        let due = application.settlement_due.as_ref();
        applications::Model {
            id: application.id,
            iin: application.iin.to_string(),
            full_name: application.full_name.clone(),
            field: application.field.into(),
            diploma_level: application.diploma.level,
            diploma_speciality: application.diploma.speciality.clone(),
            diploma_year: application.diploma.year,
            diploma_institution: application.diploma.institution.clone(),
            settlement_kato: application.settlement.to_string(),
            region_kato: application.settlement.region().to_string(),
            employer: application.employer.clone(),
            start_date: application.start_date.to_string(),
            allowance_requested: application.allowance_requested,
            loan_requested_tiyn: requested.amount.tiyn(),
            loan_requested_months: requested.months,
            status: application.status.into(),
            submitted_year: application.submitted_year,
            decision_date: application.decision_date.map(|d| d.to_string()),
            decision_year: application.decision_date.map(|d| d.year()),
            allowance_tiyn: granted.allowance.tiyn(),
            loan_amount_tiyn: granted.loan.amount.tiyn(),
            loan_term_months: granted.loan.months,
            loan_rate_bp: granted.loan_rate_bp,
            obligation_months: granted.obligation_months,
            mci_tiyn: granted.mci.tiyn(),
            policy_effective_from: granted.policy_effective_from.map(|d| d.to_string()),
            age_band: granted.age_band.clone(),
            rejection_reason: application.rejection_reason.clone(),
            allowance_paid: application.allowance_paid,
            loan_disbursed_on: application.loan_disbursed_on.map(|d| d.to_string()),
            departure_date: application.departure_date.map(|d| d.to_string()),
            served_months: application.served_months,
            unserved_months: due.map_or(0, |d| d.unserved_months),
            allowance_refund_tiyn: due.map_or(0, |d| d.allowance_refund.tiyn()),
            loan_principal_due_tiyn: due.map_or(0, |d| d.loan_principal_due.tiyn()),
            version: application.version,
            submitted_at_micros: application.submitted_at_micros,
            updated_at_micros: application.updated_at_micros,
        }
    }
}

impl TryFrom<persons::Model> for Person {
    type Error = Error;

    fn try_from(row: persons::Model) -> Result<Person, Error> {
        Ok(Person {
            iin: stored_iin(&row.iin)?,
            open_application: row.open_application,
            allowance_application: row.allowance_application,
        })
    }
}

impl From<&Person> for persons::Model {
    fn from(person: &Person) -> persons::Model {
        persons::Model {
            iin: person.iin.to_string(),
            open_application: person.open_application,
            allowance_application: person.allowance_application,
        }
    }
}

/// Stores a new application and returns it with its id.
pub async fn insert(
    db: &impl ConnectionTrait,
    application: Application,
) -> Result<Application, Error> {
    let row = applications::Model::from(&application);
    let mut model = applications::ActiveModel::from(row).reset_all();
    model.id = sea_orm::ActiveValue::NotSet;
    let id = applications::Entity::insert(model)
        .exec(db)
        .await?
        .last_insert_id;
    Ok(Application { id, ..application })
}

pub async fn save(db: &impl ConnectionTrait, application: &Application) -> Result<(), Error> {
    let row = applications::Model::from(application);
    aimaq_storage::save(db, applications::ActiveModel::from(row), false).await
}

pub async fn save_person(
    db: &impl ConnectionTrait,
    person: &Person,
    created: bool,
) -> Result<(), Error> {
    let row = persons::Model::from(person);
    aimaq_storage::save(db, persons::ActiveModel::from(row), created).await
}

/// The application, locked for the rest of the transaction when `lock` (on
/// PostgreSQL).
pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<Option<Application>, Error> {
    found(aimaq_storage::find_by_id::<applications::Entity>(db, id, lock).await?)
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
#[derive(Debug, Clone)]
pub struct DecisionInputs {
    pub seen: Option<(Application, Person)>,
    pub terms: Option<(PolicyRecord, MciRate)>,
}

/// A decision's inputs read before its transaction where that is the better
/// strategy for the backend, `None` where they are better read inside it. On
/// SQLite reading ahead keeps the read off the one write turn every writer
/// waits on (a change of terms committing meanwhile comes after this
/// decision); on PostgreSQL reading inside uses the connection the transaction
/// holds anyway: one pool checkout fewer.
pub async fn decision_inputs_ahead(
    database: &aimaq_storage::Database,
    id: i64,
    date: NaiveDate,
) -> Option<Result<DecisionInputs, Error>> {
    match database.backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            Some(decision_inputs(database.connection(), id, date).await)
        }
        _ => None,
    }
}

/// [`DecisionInputs`] for application `id` on `date`, in one query: every
/// query is a round trip and a pool checkout.
pub async fn decision_inputs(
    db: &impl ConnectionTrait,
    id: i64,
    date: NaiveDate,
) -> Result<DecisionInputs, Error> {
    let date = &date.to_string();
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
    Ok(DecisionInputs {
        seen: seen
            .map(|(application, person)| {
                Ok::<_, Error>((application.try_into()?, person.try_into()?))
            })
            .transpose()?,
        terms: terms.map(terms::terms_of).transpose()?,
    })
}

/// The application and its applicant's row, both locked (on PostgreSQL) by one
/// query; the `bool` says the applicant's row is new (not yet stored).
pub async fn find_with_person(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<(Application, Person, bool)>, Error> {
    if let Some((application, person)) = joined_for_update(db, id).await? {
        return Ok(Some((application.try_into()?, person.try_into()?, false)));
    }
    // Every application has its applicant's row; this is the careful path.
    let Some(application) = find(db, id, true).await? else {
        return Ok(None);
    };
    let (person, created) = person_for_update(db, application.iin).await?;
    Ok(Some((application, person, created)))
}

/// The person, locked; a new row (not yet stored) when they never applied.
pub async fn person_for_update(
    db: &impl ConnectionTrait,
    iin: Iin,
) -> Result<(Person, bool), Error> {
    let row = persons::Entity::find_by_id(iin.to_string())
        .lock_exclusive()
        .one(db)
        .await?;
    Ok(match found(row)? {
        Some(person) => (person, false),
        None => (
            Person {
                iin,
                open_application: None,
                allowance_application: None,
            },
            true,
        ),
    })
}

/// What writing a decision on rows read before its transaction came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenWrite {
    /// The application or its applicant changed since they were read: nothing
    /// stays written once the caller rolls back.
    Changed,
    /// Written; the quota's new version when it was drawn on.
    Written(Option<i64>),
    /// The quota is not set or would be exceeded.
    QuotaRefused,
}

/// Writes a decision on rows read outside the transaction, in one round trip:
/// the application and its applicant while they are as read, and the draw on
/// the region's quota (an allowance or not, and the loan) for the year.
pub async fn write_seen_decision(
    tx: &impl ConnectionTrait,
    (read, decided): (&Application, &Application),
    (person_read, person): (&Person, &Person),
    (year, quota_draw): (i32, Option<(bool, Money)>),
) -> Result<SeenWrite, Error> {
    let region = decided.settlement.region().to_string();
    let planned = [
        aimaq_storage::changes_if_unchanged::<applications::ActiveModel>(
            read.into(),
            decided.into(),
            &[applications::Column::Version],
        )?
        .map(|update| (update, Expr::val(1))),
        aimaq_storage::changes_if_unchanged::<persons::ActiveModel>(
            person_read.into(),
            person.into(),
            &[
                persons::Column::OpenApplication,
                persons::Column::AllowanceApplication,
            ],
        )?
        .map(|update| (update, Expr::val(1))),
        quota_draw.map(|(allowance, loan)| {
            let draw = super::quota::draw((&region, year), i32::from(allowance), loan.tiyn());
            (draw, Expr::col(quotas::Column::Version))
        }),
    ];
    let sent = planned.each_ref().map(Option::is_some);
    let mut returned = aimaq_storage::update_together(tx, planned.into_iter().flatten().collect())
        .await?
        .into_iter();
    // For each planned update: not sent, or what it returned (`None`: no row).
    let [application, person, quota] = sent.map(|sent| sent.then(|| returned.next().flatten()));
    if matches!(application, Some(None)) || matches!(person, Some(None)) {
        return Ok(SeenWrite::Changed);
    }
    Ok(match quota {
        Some(Some(version)) => SeenWrite::Written(Some(version)),
        Some(None) => SeenWrite::QuotaRefused,
        None => SeenWrite::Written(None),
    })
}

/// Writes a decision on rows read locked: only the columns that changed.
pub async fn save_decided(
    tx: &impl ConnectionTrait,
    (read, decided): (&Application, &Application),
    (person_read, person, new_person): (&Person, &Person, bool),
) -> Result<(), Error> {
    aimaq_storage::save_changes::<applications::ActiveModel>(tx, read.into(), decided.into())
        .await?;
    if new_person {
        save_person(tx, person, true).await
    } else {
        aimaq_storage::save_changes::<persons::ActiveModel>(tx, person_read.into(), person.into())
            .await
    }
}

/// What ListApplications filters by; `None` for any.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<ApplicationStatus>,
    pub kato_prefix: Option<String>,
    pub field: Option<Field>,
    pub year: Option<i32>,
    pub iin: Option<String>,
}

/// Applications matching `filter`, in the order they were submitted.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<Application>, String), Error> {
    use applications::Column;
    let mut query = applications::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(StatusColumn::from(status)));
    }
    if let Some(prefix) = filter.kato_prefix {
        query = query.filter(aimaq_storage::subtree::within(
            Column::SettlementKato,
            &prefix,
        ));
    }
    if let Some(field) = filter.field {
        query = query.filter(Column::Field.eq(FieldColumn::from(field)));
    }
    if let Some(year) = filter.year {
        query = query.filter(Column::SubmittedYear.eq(year));
    }
    if let Some(iin) = filter.iin {
        query = query.filter(Column::Iin.eq(iin));
    }
    let (rows, next) =
        aimaq_storage::paging::by_id(db, query, Column::Id, page, |row| row.id).await?;
    let applications = rows
        .into_iter()
        .map(Application::try_from)
        .collect::<Result<_, _>>()?;
    Ok((applications, next))
}
