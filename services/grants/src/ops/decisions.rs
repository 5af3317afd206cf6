//! DecideApplication: approval or rejection, with the amounts fixed by the
//! terms in force on the decision date and the region's quota drawn on.
//!
//! The application and its applicant are read before they are locked, with
//! the terms in one query; the decision is then written back only if those
//! rows are still as read (one round trip with the quota's draw). When they
//! changed, the decision runs again reading them locked.

use std::sync::atomic::{AtomicBool, Ordering};

use aimaq_error::Error;
use aimaq_records::{Answer, Mutation, Records, within};
use aimaq_types::Money;
use chrono::{Datelike, NaiveDate};
use sea_orm::ConnectionTrait;

use super::applications::{MayWrite, change, with_person_for_update, writable};
use super::{quotas, terms};
use crate::domain::application::{Application, ApplicationStatus, Person};
use crate::domain::decision::{Approval, InForce, approve, check_decidable, reject};
use crate::domain::terms::{MciRate, PolicyRecord};
use crate::store::application::{self as store, DecisionInputs, SeenWrite, name};
use crate::store::granted_counts;

/// What a decision decides.
#[derive(Debug, Clone, Copy)]
pub enum Verdict<'a> {
    /// Rejected, for this reason.
    Reject(&'a str),
    Approve(Approval),
}

/// DecideApplication, checked.
pub struct Decide<'a> {
    pub id: i64,
    pub date: NaiveDate,
    pub expected_version: i64,
    pub verdict: Verdict<'a>,
}

/// What a decision works on: the application and applicant as read, when the
/// decision may write them back if unchanged, and the terms in force (an error
/// here is reported where an approval needs them).
type Inputs = (
    Option<(Application, Person)>,
    Result<(PolicyRecord, MciRate), Error>,
);

async fn inputs(
    db: &impl ConnectionTrait,
    read: Result<DecisionInputs, Error>,
    asked: &Decide<'_>,
    may_write: &impl MayWrite,
) -> Inputs {
    let (seen, in_force) = match read {
        Ok(read) => match read.terms {
            Some(terms) => (read.seen, Ok(terms)),
            // Read again, to name what is missing.
            None => (read.seen, terms::terms_one_by_one(db, asked.date).await),
        },
        Err(error) => (None, Err(error)),
    };
    let seen = seen
        .filter(|(application, _)| application.status == ApplicationStatus::Submitted)
        .and_then(|(application, person)| {
            let application = writable(application, may_write, asked.expected_version).ok()?;
            Some((application, person))
        });
    (seen, in_force)
}

/// The application as decided, with what the region's quota must give.
fn decided(
    current: Application,
    person: &mut Person,
    asked: &Decide<'_>,
    in_force: &Result<(PolicyRecord, MciRate), Error>,
    now: i64,
) -> Result<(Application, Option<(bool, Money)>), Error> {
    check_decidable(&current, name)?;
    match asked.verdict {
        Verdict::Reject(reason) => Ok((reject(current, person, reason, asked.date, now), None)),
        Verdict::Approve(approval) => {
            let (policy, mci) = in_force.as_ref().map_err(Clone::clone)?;
            let terms = InForce {
                policy: &policy.terms,
                policy_from: policy.effective_from,
                mci: mci.value,
            };
            let (approved, draw) =
                approve(current, person, approval, (asked.date, now), terms, name)?;
            Ok((approved, Some(draw)))
        }
    }
}

pub async fn decide<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Decide<'_>,
    may_write: impl MayWrite,
    answer: impl Fn(&Application) -> R,
) -> Result<R, Error> {
    let (may_write, answer) = (&may_write, &answer);
    let database = records.database();
    let read_ahead = match store::decision_inputs_ahead(database, asked.id, asked.date).await {
        Some(read) => Some(inputs(database.connection(), read, asked, may_write).await),
        None => None,
    };
    let seen_changed = &AtomicBool::new(false);
    records
        .apply(mutation, |tx| {
            let read_ahead = read_ahead.clone();
            within(tx, async move |tx| {
                let (seen, in_force) = match read_ahead {
                    Some(read) => read,
                    None => {
                        let read = store::decision_inputs(tx, asked.id, asked.date).await;
                        inputs(tx, read, asked, may_write).await
                    }
                };
                let seen = seen.filter(|_| !seen_changed.load(Ordering::Relaxed));
                let unlocked = seen.is_some();
                let (current, mut person, new_person) = match seen {
                    Some((application, person)) => (application, person, false),
                    None => {
                        with_person_for_update(tx, asked.id, may_write, asked.expected_version)
                            .await?
                    }
                };
                let (read, person_read) = (current.clone(), person.clone());
                let now = super::now_micros();
                let (decided, quota_draw) = decided(current, &mut person, asked, &in_force, now)?;
                let mut changes = vec![change(&decided)];
                let quota = (decided.settlement.region(), asked.date.year());
                if unlocked {
                    let rows = ((&read, &decided), (&person_read, &person));
                    match store::write_seen_decision(tx, rows.0, rows.1, (quota.1, quota_draw))
                        .await?
                    {
                        SeenWrite::Changed => {
                            // Run again, reading the rows locked this time.
                            seen_changed.store(true, Ordering::Relaxed);
                            return Err(Error::Conflict(format!(
                                "{} changed while being decided",
                                name(asked.id)
                            )));
                        }
                        SeenWrite::Written(version) => {
                            changes.extend(version.map(|v| quotas::change(quota.0, quota.1, v)));
                            granted_counts::add(tx, &decided).await?;
                        }
                        SeenWrite::QuotaRefused => {
                            let (allowance, loan) = quota_draw.unwrap_or_default();
                            return Err(quotas::refusal(tx, quota, allowance, loan).await);
                        }
                    }
                } else {
                    let people = (&person_read, &person, new_person);
                    store::save_decided(tx, (&read, &decided), people).await?;
                    if let Some((allowance, loan)) = quota_draw {
                        changes.push(quotas::take(tx, quota, allowance, loan).await?);
                    }
                    granted_counts::add(tx, &decided).await?;
                }
                Ok((answer(&decided), changes))
            })
        })
        .await
}
