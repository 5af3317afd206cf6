//! GetTerritory, UpsertTerritory.

use aimaq_auth::{Caller, Scope};
use aimaq_error::Error;
use aimaq_proto::governance::v1::{
    GetTerritoryRequest, GetTerritoryResponse, UpsertTerritoryRequest, UpsertTerritoryResponse,
};
use aimaq_records::{Change, ChangeAction, Mutation, Records, within};
use aimaq_types::Kato;
use tonic::Request;

use super::convert::{draft_from_proto, kato, territory_to_proto};
use crate::domain::territory::{self, Territory, TerritoryDraft};
use crate::store;

const RESOURCE: &str = "territory";

fn resource_name(kato: Kato) -> String {
    format!("territories/{kato}")
}

pub async fn get(
    records: &Records,
    request: &GetTerritoryRequest,
) -> Result<GetTerritoryResponse, Error> {
    let code = kato("kato", &request.kato)?;
    let db = records.database().connection();
    let territory = store::territory::find(db, code)
        .await?
        .ok_or_else(|| Error::not_found(RESOURCE, resource_name(code)))?;
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

pub async fn upsert(
    records: &Records,
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
    let mutation = Mutation::of(request, &body.request_id)?;
    let (draft, expected_version) = (&draft, body.expected_version);
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| write(tx, draft, expected_version).await)
        })
        .await
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
