//! Settlements' statuses against the regional standards, and the standards a
//! completed project meets.

use std::collections::HashMap;

use aimaq_error::Error;
use aimaq_records::{Answer, Change, Mutation, Records, within};
use aimaq_types::Kato;
use sea_orm::ConnectionTrait;

use crate::domain::project::Project;
use crate::domain::standard::{StandardStatus, Tally, counted_scope, next_status};
use crate::store;
use crate::store::standard::{Counts, status_name};

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
    let mut tally = Tally::default();
    // Whether the settlement had no status before: asked once, and only when
    // a status is about to be made (a completed project without standards,
    // or one whose standards are already recorded, costs no read).
    let mut first = None;
    for code in &project.standard_codes {
        let current = store::standard::find_for_update(tx, project.settlement, code).await?;
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
        if current.is_none() && first.is_none() {
            let none = store::standard::of_settlements(tx, &[project.settlement])
                .await?
                .is_empty();
            first = Some(none);
        }
        store::standard::save(tx, status.clone(), current.is_none()).await?;
        tally.status(current.as_ref(), &status);
        changes.push(change_of(&status));
    }
    if first == Some(true) {
        tally.new_settlement(project.settlement);
    }
    store::sufficiency::add(tx, &tally).await?;
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
                    store::standard::find_for_update(tx, asked.settlement, &asked.standard_code)
                        .await?;
                let first = current.is_none()
                    && store::standard::of_settlements(tx, &[asked.settlement])
                        .await?
                        .is_empty();
                let status = next_status(
                    current.as_ref(),
                    asked.settlement,
                    &asked.standard_code,
                    (asked.applicable, asked.met),
                    None,
                    now,
                );
                store::standard::save(tx, status.clone(), current.is_none()).await?;
                let mut tally = Tally::default();
                tally.status(current.as_ref(), &status);
                if first {
                    tally.new_settlement(asked.settlement);
                }
                store::sufficiency::add(tx, &tally).await?;
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

/// What an import changes in the kept counts: each written status against
/// what existed, and each settlement that had no status.
fn tally_of(
    existing: &HashMap<(Kato, String), StandardStatus>,
    written: &[(StandardStatus, bool)],
) -> Tally {
    let mut tally = Tally::default();
    let known: std::collections::HashSet<Kato> = existing.keys().map(|(s, _)| *s).collect();
    let mut first: std::collections::BTreeSet<Kato> = std::collections::BTreeSet::new();
    for (status, _) in written {
        let before = existing.get(&(status.settlement, status.standard_code.clone()));
        tally.status(before, status);
        if !known.contains(&status.settlement) {
            first.insert(status.settlement);
        }
    }
    for settlement in first {
        tally.new_settlement(settlement);
    }
    tally
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
                    store::standard::of_settlements(tx, settlements)
                        .await?
                        .into_iter()
                        .map(|s| ((s.settlement, s.standard_code.clone()), s))
                        .collect();
                let (written, changes) = next_statuses(&existing, asked, now);
                store::sufficiency::add(tx, &tally_of(&existing, &written)).await?;
                let (created, updated): (Vec<_>, Vec<_>) =
                    written.into_iter().partition(|(_, created)| *created);
                store::standard::insert_many(tx, created.into_iter().map(|(s, _)| s).collect())
                    .await?;
                for (status, _) in updated {
                    store::standard::save(tx, status, false).await?;
                }
                let recorded = i64::try_from(changes.len()).map_err(Error::internal)?;
                Ok((answer(recorded), changes))
            })
        })
        .await
}

/// Met and applicable counts per standard under `prefix`, and how many
/// settlements have a status: the kept counts of the republic, a region or a
/// district; counted from the statuses for a smaller subtree.
pub async fn counts(records: &Records, prefix: Option<&str>) -> Result<(Vec<Counts>, i64), Error> {
    let db = records.database().connection();
    match counted_scope(prefix) {
        Some(scope) => store::sufficiency::of_scope(db, &scope).await,
        None => store::standard::counts(db, prefix).await,
    }
}
