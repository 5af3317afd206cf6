//! Settlements' statuses against the regional standards, and the standards a
//! completed project meets.

use std::collections::HashMap;

use aimaq_error::Error;
use aimaq_records::{Answer, Change, Mutation, Records, within};
use aimaq_types::Kato;
use sea_orm::ConnectionTrait;

use crate::domain::project::Project;
use crate::domain::standard::{StandardStatus, next_status};
use crate::store::standard::{self as store, Counts, status_name};

fn change_of(status: &StandardStatus) -> Change {
    Change::versioned(
        "standard_status",
        status_name(status.settlement, &status.standard_code),
        status.version,
    )
}

/// Marks the standards a completed project satisfies as met for its settlement.
/// A standard recorded as not applicable there stays so; one with no record
/// becomes applicable and met.
pub async fn meet(
    tx: &impl ConnectionTrait,
    project: &Project,
    now: i64,
) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    for code in &project.standard_codes {
        let current = store::find_for_update(tx, project.settlement, code).await?;
        if current.as_ref().is_some_and(|c| c.met) {
            continue;
        }
        let applicable = current.as_ref().is_none_or(|c| c.applicable);
        let flags = (applicable, true);
        let status = next_status(
            current.as_ref(),
            project.settlement,
            code,
            flags,
            Some(project.id),
            now,
        );
        store::save(tx, status.clone(), current.is_none()).await?;
        changes.push(change_of(&status));
    }
    Ok(changes)
}

/// One status as asked, checked.
#[derive(Debug, Clone)]
pub struct Asked {
    pub settlement: Kato,
    pub standard_code: String,
    pub applicable: bool,
    pub met: bool,
}

pub async fn record<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Asked,
    answer: impl Fn(&StandardStatus) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let now = super::now_micros();
                let current =
                    store::find_for_update(tx, asked.settlement, &asked.standard_code).await?;
                let status = next_status(
                    current.as_ref(),
                    asked.settlement,
                    &asked.standard_code,
                    (asked.applicable, asked.met),
                    None,
                    now,
                );
                store::save(tx, status.clone(), current.is_none()).await?;
                let change = change_of(&status);
                Ok((answer(&status), vec![change]))
            })
        })
        .await
}

/// The statuses `asked` make, in order, from what `existing` holds: a later
/// status of the same settlement and standard builds on the earlier one. Each
/// written status is returned once (its last form), with whether it is new,
/// and every status with its change event.
fn next_statuses(
    existing: &HashMap<(Kato, String), StandardStatus>,
    asked: &[Asked],
    now: i64,
) -> (Vec<(StandardStatus, bool)>, Vec<Change>) {
    let mut written: Vec<StandardStatus> = Vec::new();
    let mut position: HashMap<(Kato, String), usize> = HashMap::new();
    let mut changes = Vec::with_capacity(asked.len());
    for one in asked {
        let key = (one.settlement, one.standard_code.clone());
        let current = match position.get(&key) {
            Some(at) => written.get(*at),
            None => existing.get(&key),
        };
        let flags = (one.applicable, one.met);
        let status = next_status(
            current,
            one.settlement,
            &one.standard_code,
            flags,
            None,
            now,
        );
        changes.push(change_of(&status));
        match position.get(&key) {
            Some(at) => written[*at] = status,
            None => {
                position.insert(key, written.len());
                written.push(status);
            }
        }
    }
    let written = written
        .into_iter()
        .map(|s| {
            let created = !existing.contains_key(&(s.settlement, s.standard_code.clone()));
            (s, created)
        })
        .collect();
    (written, changes)
}

/// Records many statuses in one transaction; answers how many were recorded.
pub async fn import<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &[Asked],
    answer: impl Fn(i64) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    let settlements: Vec<Kato> = asked.iter().map(|a| a.settlement).collect();
    let settlements = &settlements;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                // Read what exists once and write the new statuses in bulk: an
                // import may carry a thousand.
                let now = super::now_micros();
                let existing: HashMap<(Kato, String), StandardStatus> =
                    store::of_settlements(tx, settlements)
                        .await?
                        .into_iter()
                        .map(|s| ((s.settlement, s.standard_code.clone()), s))
                        .collect();
                let (written, changes) = next_statuses(&existing, asked, now);
                let (created, updated): (Vec<_>, Vec<_>) =
                    written.into_iter().partition(|(_, created)| *created);
                store::insert_many(tx, created.into_iter().map(|(s, _)| s).collect()).await?;
                for (status, _) in updated {
                    store::save(tx, status, false).await?;
                }
                let recorded = i64::try_from(changes.len()).map_err(Error::internal)?;
                Ok((answer(recorded), changes))
            })
        })
        .await
}

/// Met and applicable counts per standard under `prefix`, and how many
/// settlements have a status.
pub async fn counts(records: &Records, prefix: Option<&str>) -> Result<(Vec<Counts>, i64), Error> {
    store::counts(records.database().connection(), prefix).await
}
