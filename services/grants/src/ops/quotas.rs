//! The regions' yearly quotas, and approvals drawing on them.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, Mutation, Records, next_version, within};
use aimaq_types::{Kato, Money};
use sea_orm::ConnectionTrait;

use crate::domain::application::{Quota, reset_quota};
use crate::store::quota::{self as store, name};

pub fn change(region: Kato, year: i32, version: i64) -> Change {
    Change::versioned("quota", name(region, year), version)
}

/// Why the quota refused an approval: not set, or the figures that would be
/// exceeded.
pub async fn refusal(
    tx: &impl ConnectionTrait,
    (region, year): (Kato, i32),
    allowance: bool,
    loan: Money,
) -> Error {
    let quota_name = name(region, year);
    let quota = match store::find(tx, region, year, false).await {
        Ok(Some(quota)) => quota,
        Ok(None) => {
            return Error::precondition("QUOTA", &quota_name, format!("{quota_name} is not set"));
        }
        Err(error) => return error,
    };
    Error::precondition(
        "QUOTA",
        &quota_name,
        format!(
            "{quota_name} is exhausted: {} of {} allowances and {} of {} for loans approved; this approval asks {} allowance(s) and {loan}",
            quota.allowances_approved,
            quota.allowance_count,
            quota.loans_approved,
            quota.loan_amount,
            i32::from(allowance),
        ),
    )
}

/// Draws an approval on the region's quota for the year. Called last in the
/// transaction: the quota row, shared by every approval in the region, stays
/// locked only from here to commit.
pub async fn take(
    tx: &impl ConnectionTrait,
    (region, year): (Kato, i32),
    allowance: bool,
    loan: Money,
) -> Result<Change, Error> {
    let asked = i32::from(allowance);
    match store::draw_on(tx, (region, year), asked, loan).await? {
        Some(version) => Ok(change(region, year, version)),
        None => Err(refusal(tx, (region, year), allowance, loan).await),
    }
}

/// What SetQuota asks, checked.
pub struct SetQuota {
    pub region: Kato,
    pub year: i32,
    pub allowance_count: i32,
    pub loan_amount: Money,
    pub expected_version: i64,
}

pub async fn set<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &SetQuota,
    answer: impl Fn(&Quota) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let quota_name = name(asked.region, asked.year);
                let current = store::find(tx, asked.region, asked.year, true).await?;
                let version = next_version(
                    "quota",
                    &quota_name,
                    current.as_ref().map(|c| c.version),
                    asked.expected_version,
                )?;
                let quota = reset_quota(
                    &quota_name,
                    current.as_ref(),
                    (asked.region, asked.year),
                    (asked.allowance_count, asked.loan_amount),
                    version,
                )?;
                store::save(tx, &quota, current.is_none()).await?;
                let changed = Change::versioned("quota", quota_name, version);
                Ok((answer(&quota), vec![changed]))
            })
        })
        .await
}

pub async fn get(records: &Records, region: Kato, year: i32) -> Result<Quota, Error> {
    store::find(records.database().connection(), region, year, false)
        .await?
        .ok_or_else(|| Error::not_found("quota", name(region, year)))
}
