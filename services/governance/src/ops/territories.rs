//! The territory registry: codes, their parents, and what each is.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::Kato;
use sea_orm::ConnectionTrait;

use crate::domain::import::{ImportPlan, plan_import};
use crate::domain::territory::{self, Territory, TerritoryDraft};
use crate::store;
use crate::store::territory::{TerritoryFilter, name};
use crate::store::territory_cache::TerritoryCache;

const RESOURCE: &str = "territory";

/// The territory and, when asked, its ancestors: from the cache when it holds
/// them.
pub async fn get(
    records: &Records,
    cache: &TerritoryCache,
    code: Kato,
    with_ancestors: bool,
) -> Result<(Territory, Vec<Territory>), Error> {
    let cached = cache.get(code);
    if let Some(territory) = &cached {
        if !with_ancestors {
            return Ok((territory.clone(), Vec::new()));
        }
        if let Some(ancestors) = cache.ancestors(code) {
            return Ok((territory.clone(), ancestors));
        }
    }
    let db = records.database().connection();
    let territory = match cached {
        Some(territory) => territory,
        None => store::territory::find(db, code)
            .await?
            .ok_or_else(|| Error::not_found(RESOURCE, name(code)))?,
    };
    if !with_ancestors {
        cache.put(&territory);
        return Ok((territory, Vec::new()));
    }
    let ancestors = store::territory::ancestors(db, &territory).await?;
    cache.put_with_ancestors(&territory, &ancestors);
    Ok((territory, ancestors))
}

/// A page of territories, the next page's token and how many match in all.
pub async fn list(
    records: &Records,
    filter: &TerritoryFilter,
    page: &Page,
) -> Result<(Vec<Territory>, String, u64), Error> {
    store::territory::list(records.database().connection(), filter, page).await
}

/// Creates or updates the territory; answers whether it was created. The
/// cache forgets every code, since the code and any it adopted have changed.
pub async fn upsert<R: Answer>(
    records: &Records,
    cache: &TerritoryCache,
    mutation: &Mutation,
    (draft, expected_version): (&TerritoryDraft, i64),
    answer: impl Fn(&Territory, bool) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    let answered = records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let (territory, changes) = write(tx, draft, expected_version).await?;
                let created = changes
                    .first()
                    .is_some_and(|c| c.action == ChangeAction::Created);
                Ok((answer(&territory, created), changes))
            })
        })
        .await;
    cache.clear();
    answered
}

/// The territory as it becomes: a new one under the nearest registered
/// parent, or the current one at its next version.
async fn next(
    tx: &impl ConnectionTrait,
    draft: &TerritoryDraft,
    expected_version: i64,
    now: i64,
) -> Result<(Territory, ChangeAction), Error> {
    let this = name(draft.kato);
    let current = store::territory::find_for_update(tx, draft.kato).await?;
    match (current, expected_version) {
        (Some(current), 0) => Err(Error::already_exists(
            RESOURCE,
            &this,
            format!(
                "{this} exists at version {}; send that version to update it",
                current.version
            ),
        )),
        (Some(current), expected) if expected != current.version => {
            Err(Error::stale_version(&this, expected, current.version))
        }
        (Some(current), _) => Ok((
            Territory {
                draft: draft.clone(),
                parent: current.parent,
                version: current.version + 1,
                updated_at_micros: now,
            },
            ChangeAction::Updated,
        )),
        (None, 0) => {
            let candidates: Vec<Kato> = draft.kato.parent_candidates().collect();
            let registered = store::territory::existing(tx, &candidates).await?;
            let parent = territory::resolve_parent(draft.kato, |k| registered.contains(&k))?;
            let created = Territory {
                draft: draft.clone(),
                parent,
                version: 1,
                updated_at_micros: now,
            };
            Ok((created, ChangeAction::Created))
        }
        (None, _) => Err(Error::not_found(RESOURCE, this)),
    }
}

/// Creates or updates the territory and re-parents the codes it now stands above.
async fn write(
    tx: &impl ConnectionTrait,
    draft: &TerritoryDraft,
    expected_version: i64,
) -> Result<(Territory, Vec<Change>), Error> {
    let now = chrono::Utc::now().timestamp_micros();
    let (territory, action) = next(tx, draft, expected_version, now).await?;
    let mut changes = vec![Change {
        resource_type: RESOURCE,
        resource_name: name(draft.kato),
        action,
        version: territory.version,
        resource: None,
    }];
    if action == ChangeAction::Created {
        store::territory::insert(tx, &territory).await?;
        let adopted =
            store::territory::adopt_children(tx, draft.kato, territory.parent, now).await?;
        changes.extend(adopted.into_iter().map(|(child, version)| Change {
            resource_type: RESOURCE,
            resource_name: name(child),
            action: ChangeAction::Updated,
            version,
            resource: None,
        }));
    } else {
        store::territory::update(tx, &territory).await?;
    }
    Ok((territory, changes))
}

/// Applies many territories in one transaction (the plan says which are
/// created, updated, unchanged or refused); the cache forgets every code.
pub async fn import<R: Answer>(
    records: &Records,
    cache: &TerritoryCache,
    mutation: &Mutation,
    drafts: &[TerritoryDraft],
    answer: impl Fn(&ImportPlan) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    let answered = records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let now = chrono::Utc::now().timestamp_micros();
                let existing = store::territory::all(tx).await?;
                let plan = plan_import(&existing, drafts.to_vec(), now);
                store::territory::apply_plan(tx, &plan).await?;
                let changes: Vec<Change> = plan
                    .create
                    .iter()
                    .map(|t| (t, ChangeAction::Created))
                    .chain(plan.update.iter().map(|t| (t, ChangeAction::Updated)))
                    .map(|(territory, action)| Change {
                        resource_type: RESOURCE,
                        resource_name: name(territory.draft.kato),
                        action,
                        version: territory.version,
                        resource: None,
                    })
                    .collect();
                Ok((answer(&plan), changes))
            })
        })
        .await;
    cache.clear();
    answered
}
