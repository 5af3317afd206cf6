//! The check of `VerifyAuditLog` that the stored resources are in the state
//! their last recorded change committed to (see `states.rs`).

use std::collections::HashMap;

use aimaq_error::Error;
use aimaq_storage::Database;
use futures::TryStreamExt;
use prost::Message;
use sea_orm::{EntityTrait, QueryOrder, QuerySelect};

use crate::entities::{change_event, pending_record};
use crate::keys::LogKeys;
use crate::sequencer::PendingChanges;
use crate::states::{ResourceKey, ResourceStates};

/// What the comparison of stored state with committed digests found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct StateCheck {
    /// Resources compared with the digest their last change committed to.
    pub checked: u64,
    /// Resources whose last change carries no digest (recorded before).
    pub without_digest: u64,
    /// The first resource (by type, then name) whose rows differ, and why.
    pub altered: Option<(String, String)>,
}

/// Compares every described resource's rows with the digest of its last
/// change, in one snapshot. Changes committed but not yet sequenced count as
/// the last, when their pending row's MAC shows the service wrote them.
pub(crate) async fn check_states(
    database: &Database,
    keys: &LogKeys,
    states: &ResourceStates,
) -> Result<StateCheck, Error> {
    let transaction = database.begin_snapshot().await?;
    let mut committed: HashMap<ResourceKey, String> = HashMap::new();
    let mut events = change_event::Entity::find()
        .select_only()
        .columns([
            change_event::Column::ResourceType,
            change_event::Column::ResourceName,
            change_event::Column::StateDigest,
        ])
        .order_by_asc(change_event::Column::Sequence)
        .into_tuple::<(String, String, String)>()
        .stream(&transaction)
        .await?;
    while let Some((resource_type, name, digest)) = events.try_next().await? {
        if states.covers(&resource_type) {
            committed.insert((resource_type, name), digest);
        }
    }
    drop(events);
    let pending = pending_record::Entity::find()
        .order_by_asc(pending_record::Column::Id)
        .all(&transaction)
        .await?;
    for row in pending {
        if !crate::refusal::row_verifies(keys, &row) {
            continue;
        }
        let Ok(changes) = PendingChanges::decode(row.changes.as_slice()) else {
            continue;
        };
        for event in changes.events {
            if states.covers(&event.resource_type) {
                committed.insert(
                    (event.resource_type, event.resource_name),
                    event.state_digest,
                );
            }
        }
    }
    let current = states.current(&transaction).await?;
    transaction.commit().await?;
    Ok(compare(&committed, &current))
}

/// Compares the committed digests with the current ones.
fn compare(
    committed: &HashMap<ResourceKey, String>,
    current: &HashMap<ResourceKey, String>,
) -> StateCheck {
    let mut check = StateCheck::default();
    let mut findings: Vec<(&ResourceKey, &str)> = Vec::new();
    for (key, digest) in committed {
        if digest.is_empty() {
            check.without_digest += 1;
            continue;
        }
        check.checked += 1;
        let now = current
            .get(key)
            .cloned()
            .unwrap_or_else(|| ResourceStates::absent(&key.0));
        if &now != digest {
            let why = if current.contains_key(key) {
                "its stored rows differ from the state its last recorded change committed to"
            } else {
                "its rows are gone, but no recorded change deleted them"
            };
            findings.push((key, why));
        }
    }
    for key in current.keys().filter(|key| !committed.contains_key(*key)) {
        findings.push((key, "it is stored, but no recorded change wrote it"));
    }
    check.altered = findings
        .into_iter()
        .min()
        .map(|((resource_type, name), why)| {
            (name.clone(), format!("{resource_type} {name}: {why}"))
        });
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ResourceKey {
        ("allocation".into(), name.into())
    }

    #[test]
    fn each_kind_of_difference_is_named() {
        let committed = HashMap::from([
            (key("a"), "1".to_owned()),
            (key("b"), "2".to_owned()),
            (key("c"), String::new()),
            (key("d"), ResourceStates::absent("allocation")),
        ]);
        let same = HashMap::from([(key("a"), "1".to_owned()), (key("b"), "2".to_owned())]);
        let check = compare(&committed, &same);
        assert_eq!((check.checked, check.without_digest), (3, 1));
        assert_eq!(check.altered, None);

        let edited = HashMap::from([(key("a"), "1".to_owned()), (key("b"), "9".to_owned())]);
        let found = compare(&committed, &edited).altered.map(|(name, _)| name);
        assert_eq!(found.as_deref(), Some("b"));

        let deleted = HashMap::from([(key("b"), "2".to_owned())]);
        let (name, why) = compare(&committed, &deleted).altered.unwrap_or_default();
        assert_eq!(name, "a");
        assert!(why.contains("gone"), "{why}");

        let mut inserted = same.clone();
        inserted.insert(key("e"), "5".to_owned());
        let (name, why) = compare(&committed, &inserted).altered.unwrap_or_default();
        assert_eq!(name, "e");
        assert!(why.contains("no recorded change wrote it"), "{why}");
    }
}
