//! MCI values and programme terms, each by the date it takes effect.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, Mutation, Records, next_version, within};
use chrono::NaiveDate;
use sea_orm::ConnectionTrait;

use crate::domain::terms::{MciRate, PolicyRecord};
use crate::store::terms::{self as store, mci_name, policy_name};

/// Sets the MCI value from its date on (its version set here).
pub async fn set_mci_rate<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    (rate, expected_version): (&MciRate, i64),
    answer: impl Fn(&MciRate) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let name = mci_name(rate.effective_from);
                let current = store::mci_for_update(tx, rate.effective_from).await?;
                let version = next_version(
                    "mci_rate",
                    &name,
                    current.as_ref().map(|c| c.version),
                    expected_version,
                )?;
                let rate = MciRate {
                    version,
                    ..rate.clone()
                };
                store::save_mci(tx, &rate, current.is_none()).await?;
                let changed = Change::versioned("mci_rate", name, version);
                Ok((answer(&rate), vec![changed]))
            })
        })
        .await
}

/// Sets the programme's terms from their date on (their version set here).
pub async fn set_policy<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    (policy, expected_version): (&PolicyRecord, i64),
    answer: impl Fn(&PolicyRecord) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let name = policy_name(policy.effective_from);
                let current = store::policy_for_update(tx, policy.effective_from).await?;
                let version = next_version(
                    "policy",
                    &name,
                    current.as_ref().map(|c| c.version),
                    expected_version,
                )?;
                let policy = PolicyRecord {
                    version,
                    ..policy.clone()
                };
                store::save_policy(tx, &policy, current.is_none()).await?;
                let changed = Change::versioned("policy", name, version);
                Ok((answer(&policy), vec![changed]))
            })
        })
        .await
}

/// The MCI value in force on `date`, or FAILED_PRECONDITION.
pub async fn mci_on(db: &impl ConnectionTrait, date: NaiveDate) -> Result<MciRate, Error> {
    store::mci_on(db, date).await?.ok_or_else(|| {
        Error::precondition(
            "MCI_RATE",
            mci_name(date),
            format!("no MCI value is in force on {date}"),
        )
    })
}

/// The programme's terms in force on `date`, or FAILED_PRECONDITION.
pub async fn policy_on(db: &impl ConnectionTrait, date: NaiveDate) -> Result<PolicyRecord, Error> {
    store::policy_on(db, date).await?.ok_or_else(|| {
        Error::precondition(
            "POLICY",
            policy_name(date),
            format!("no programme terms are in force on {date}"),
        )
    })
}

/// The terms and the MCI value in force on `date`, in one query; when either
/// is missing, read one by one to name which.
pub async fn terms_on(
    db: &impl ConnectionTrait,
    date: NaiveDate,
) -> Result<(PolicyRecord, MciRate), Error> {
    match store::terms_on(db, date).await? {
        Some(both) => Ok(both),
        None => terms_one_by_one(db, date).await,
    }
}

/// The terms and the MCI value in force on `date`, read one by one.
pub async fn terms_one_by_one(
    db: &impl ConnectionTrait,
    date: NaiveDate,
) -> Result<(PolicyRecord, MciRate), Error> {
    Ok((policy_on(db, date).await?, mci_on(db, date).await?))
}

/// The MCI value in force on `date`, or NOT_FOUND.
pub async fn get_mci_rate(records: &Records, date: NaiveDate) -> Result<MciRate, Error> {
    mci_on(records.database().connection(), date)
        .await
        .map_err(|_| Error::not_found("mci_rate", mci_name(date)))
}

pub async fn list_mci_rates(records: &Records) -> Result<Vec<MciRate>, Error> {
    store::mci_rates(records.database().connection()).await
}

/// The terms in force on `date` (or NOT_FOUND) and the MCI value then.
pub async fn get_policy(
    records: &Records,
    date: NaiveDate,
) -> Result<(PolicyRecord, MciRate), Error> {
    let db = records.database().connection();
    let policy = policy_on(db, date)
        .await
        .map_err(|_| Error::not_found("policy", policy_name(date)))?;
    Ok((policy, mci_on(db, date).await?))
}

/// The terms and the MCI value in force on `date`.
pub async fn in_force(
    records: &Records,
    date: NaiveDate,
) -> Result<(PolicyRecord, MciRate), Error> {
    terms_on(records.database().connection(), date).await
}
