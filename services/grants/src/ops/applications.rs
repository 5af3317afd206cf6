//! Applications. A person's row (by IIN) is locked by every change to their
//! applications, and a region's quota row by every approval in it: one open
//! application per person, one allowance per life, and quotas never exceeded,
//! under any concurrency.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::Kato;
use chrono::NaiveDate;
use sea_orm::ConnectionTrait;

use crate::domain::application::{Application, Person};
use crate::domain::decision::{self, Payment, check_submission, loan_schedule};
use crate::domain::loan::Line;
use crate::store::application::{self as store, Filter, name};

/// Whether the caller may write at a settlement.
pub trait MayWrite: Fn(Kato) -> Result<(), Error> + Sync {}

impl<F: Fn(Kato) -> Result<(), Error> + Sync> MayWrite for F {}

pub fn change(application: &Application) -> Change {
    Change::versioned("application", name(application.id), application.version)
}

/// The application, if the caller may write where it is and it is at the
/// version expected.
pub fn writable(
    application: Application,
    may_write: &impl MayWrite,
    expected_version: i64,
) -> Result<Application, Error> {
    may_write(application.settlement)?;
    if application.version != expected_version {
        let this = name(application.id);
        return Err(Error::stale_version(
            &this,
            expected_version,
            application.version,
        ));
    }
    Ok(application)
}

/// The application, locked, with the applicant's row, locked too (the `bool`
/// says it is new), once the caller may write it at the version expected.
pub async fn with_person_for_update(
    tx: &impl ConnectionTrait,
    id: i64,
    may_write: &impl MayWrite,
    expected_version: i64,
) -> Result<(Application, Person, bool), Error> {
    let (application, person, new_person) = store::find_with_person(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("application", name(id)))?;
    let application = writable(application, may_write, expected_version)?;
    Ok((application, person, new_person))
}

/// Stores a new application (checked by the caller) once its applicant may
/// make it.
pub async fn submit<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    application: &Application,
    answer: impl Fn(&Application) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let (mut person, new_person) =
                    store::person_for_update(tx, application.iin).await?;
                check_submission(&person, application, name)?;
                let stored = store::insert(tx, application.clone()).await?;
                person.open_application = Some(stored.id);
                store::save_person(tx, &person, new_person).await?;
                let created = Change {
                    resource_type: "application",
                    resource_name: name(stored.id),
                    action: ChangeAction::Created,
                    version: 1,
                    resource: None,
                };
                Ok((answer(&stored), vec![created]))
            })
        })
        .await
}

/// A payment at the version expected.
pub struct Pay {
    pub id: i64,
    pub payment: Payment,
    pub expected_version: i64,
}

pub async fn pay<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Pay,
    may_write: impl MayWrite,
    answer: impl Fn(&Application) -> R,
) -> Result<R, Error> {
    let (may_write, answer) = (&may_write, &answer);
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let current = store::find(tx, asked.id, true)
                    .await?
                    .ok_or_else(|| Error::not_found("application", name(asked.id)))?;
                let current = writable(current, may_write, asked.expected_version)?;
                let now = super::now_micros();
                let paid = decision::pay(current, asked.payment, now, name)?;
                store::save(tx, &paid).await?;
                Ok((answer(&paid), vec![change(&paid)]))
            })
        })
        .await
}

/// A departure on a date, at the version expected.
pub struct Depart {
    pub id: i64,
    pub date: NaiveDate,
    pub expected_version: i64,
}

pub async fn depart<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Depart,
    may_write: impl MayWrite,
    answer: impl Fn(&Application) -> R,
) -> Result<R, Error> {
    let (may_write, answer) = (&may_write, &answer);
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let (current, mut person, new_person) =
                    with_person_for_update(tx, asked.id, may_write, asked.expected_version).await?;
                let now = super::now_micros();
                let ended = decision::depart(current, &mut person, (asked.date, now), name)?;
                store::save(tx, &ended).await?;
                store::save_person(tx, &person, new_person).await?;
                Ok((answer(&ended), vec![change(&ended)]))
            })
        })
        .await
}

pub async fn get(records: &Records, id: i64) -> Result<Application, Error> {
    store::find(records.database().connection(), id, false)
        .await?
        .ok_or_else(|| Error::not_found("application", name(id)))
}

pub async fn list(
    records: &Records,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<Application>, String), Error> {
    store::list(records.database().connection(), filter, page).await
}

/// The application and the schedule of its granted loan.
pub async fn loan_schedule_of(
    records: &Records,
    id: i64,
) -> Result<(Application, Vec<Line>), Error> {
    let application = get(records, id).await?;
    if application.granted.loan.amount.tiyn() == 0 {
        return Err(Error::precondition(
            "LOAN",
            name(id),
            format!("{} has no granted loan", name(id)),
        ));
    }
    let lines = loan_schedule(&application)?;
    Ok((application, lines))
}
