//! GetTerritory, UpsertTerritory.

use aimaq_auth::{Caller, Scope};
use aimaq_error::Error;
use aimaq_error::Violations;
use aimaq_proto::governance::v1::{
    self as pb, GetTerritoryRequest, GetTerritoryResponse, ListTerritoriesRequest,
    ListTerritoriesResponse, TerritoryScope, UpsertTerritoryRequest, UpsertTerritoryResponse,
};
use aimaq_records::{Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::Kato;
use tonic::Request;

use super::convert::{draft_from_proto, kato, kind_from_proto, territory_to_proto};
use crate::domain::territory::{self, Territory, TerritoryDraft};
use crate::store;
use crate::store::territory_cache::TerritoryCache;

const RESOURCE: &str = "territory";

fn resource_name(kato: Kato) -> String {
    format!("territories/{kato}")
}

pub async fn get(
    records: &Records,
    cache: &TerritoryCache,
    request: &GetTerritoryRequest,
) -> Result<GetTerritoryResponse, Error> {
    let code = kato("kato", &request.kato)?;
    let db = records.database().connection();
    let territory = match cache.get(code) {
        Some(territory) => territory,
        None => {
            let territory = store::territory::find(db, code)
                .await?
                .ok_or_else(|| Error::not_found(RESOURCE, resource_name(code)))?;
            cache.put(&territory);
            territory
        }
    };
    let ancestors = if request.include_ancestors {
        store::territory::ancestors(db, &territory).await?
    } else {
        Vec::new()
    };
    Ok(GetTerritoryResponse {
        territory: Some(territory_to_proto(&territory)),
        ancestors: ancestors.iter().map(territory_to_proto).collect(),
    })
}

pub async fn list(
    records: &Records,
    request: &ListTerritoriesRequest,
) -> Result<ListTerritoriesResponse, Error> {
    let mut violations = Violations::new();
    let parent = if request.parent_kato.is_empty() {
        None
    } else {
        violations.take("parent_kato", Kato::parse(&request.parent_kato))
    };
    let subtree = match TerritoryScope::try_from(request.scope) {
        Ok(TerritoryScope::Unspecified | TerritoryScope::Children) => false,
        Ok(TerritoryScope::Subtree) => true,
        Err(_) => {
            violations.add("scope", "not a TerritoryScope value");
            false
        }
    };
    let mut kinds = Vec::new();
    for (index, kind) in request.kinds.iter().enumerate() {
        match pb::TerritoryKind::try_from(*kind)
            .ok()
            .and_then(kind_from_proto)
        {
            Some(kind) => kinds.push(kind),
            None => violations.add(format!("kinds[{index}]"), "not a TerritoryKind value"),
        }
    }
    violations.into_result()?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let filter = store::territory::TerritoryFilter {
        parent,
        subtree,
        kinds,
        rural: request.rural,
        support_village: request.support_village,
        single_industry_town: request.single_industry_town,
        special_economic_zone: request.special_economic_zone,
        agglomeration: (!request.agglomeration.is_empty()).then(|| request.agglomeration.clone()),
    };
    let (territories, next_page_token, total) =
        store::territory::list(records.database().connection(), &filter, &page).await?;
    Ok(ListTerritoriesResponse {
        territories: territories.iter().map(territory_to_proto).collect(),
        next_page_token,
        total_size: i64::try_from(total).unwrap_or(i64::MAX),
    })
}

pub async fn upsert(
    records: &Records,
    cache: &TerritoryCache,
    request: &Request<UpsertTerritoryRequest>,
) -> Result<UpsertTerritoryResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::GovernanceWrite)?;
    let body = request.get_ref();
    let draft = draft_from_proto(body.territory.as_ref())?;
    territory::check_draft(&draft, "territory")?;
    if body.expected_version < 0 {
        return Err(Error::invalid("expected_version", "must not be negative"));
    }
    caller.require_write_at(draft.kato)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let (draft, expected_version) = (&draft, body.expected_version);
    let answer = records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| write(tx, draft, expected_version).await)
        })
        .await;
    // The code and any it adopted have changed: forget them all under it.
    cache.clear();
    answer
}

/// Creates or updates the territory and re-parents the codes it now stands above.
async fn write(
    tx: &sea_orm::DatabaseTransaction,
    draft: &TerritoryDraft,
    expected_version: i64,
) -> Result<(UpsertTerritoryResponse, Vec<Change>), Error> {
    let now = chrono::Utc::now().timestamp_micros();
    let name = resource_name(draft.kato);
    let current = store::territory::find_for_update(tx, draft.kato).await?;
    let (territory, action) = match (current, expected_version) {
        (Some(current), 0) => {
            return Err(Error::already_exists(
                RESOURCE,
                &name,
                format!(
                    "{name} exists at version {}; send that version to update it",
                    current.version
                ),
            ));
        }
        (Some(current), expected) if expected != current.version => {
            return Err(Error::stale_version(&name, expected, current.version));
        }
        (Some(current), _) => (
            Territory {
                draft: draft.clone(),
                parent: current.parent,
                version: current.version + 1,
                updated_at_micros: now,
            },
            ChangeAction::Updated,
        ),
        (None, 0) => {
            let candidates: Vec<Kato> = draft.kato.parent_candidates().collect();
            let registered = store::territory::existing(tx, &candidates).await?;
            let parent = territory::resolve_parent(draft.kato, |k| registered.contains(&k))?;
            (
                Territory {
                    draft: draft.clone(),
                    parent,
                    version: 1,
                    updated_at_micros: now,
                },
                ChangeAction::Created,
            )
        }
        (None, _) => return Err(Error::not_found(RESOURCE, name)),
    };

    let mut changes = vec![Change {
        resource_type: RESOURCE,
        resource_name: name,
        action,
        version: territory.version,
    }];
    if action == ChangeAction::Created {
        store::territory::insert(tx, &territory).await?;
        let adopted =
            store::territory::adopt_children(tx, draft.kato, territory.parent, now).await?;
        changes.extend(adopted.into_iter().map(|(child, version)| Change {
            resource_type: RESOURCE,
            resource_name: resource_name(child),
            action: ChangeAction::Updated,
            version,
        }));
    } else {
        store::territory::update(tx, &territory).await?;
    }
    let response = UpsertTerritoryResponse {
        territory: Some(territory_to_proto(&territory)),
        created: action == ChangeAction::Created,
    };
    Ok((response, changes))
}
