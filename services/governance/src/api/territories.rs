//! GetTerritory, UpsertTerritory.

use aimaq_auth::{Caller, Scope};
use aimaq_error::Error;
use aimaq_error::Violations;
use aimaq_proto::governance::v1::{
    self as pb, GetTerritoryRequest, GetTerritoryResponse, ListTerritoriesRequest,
    ListTerritoriesResponse, TerritoryScope, UpsertTerritoryRequest, UpsertTerritoryResponse,
};
use aimaq_records::{Mutation, Records};
use aimaq_storage::paging::Page;
use aimaq_types::Kato;
use tonic::Request;

use super::convert::{draft_from_proto, kato, kind_from_proto, territory_to_proto};
use crate::domain::territory;
use crate::ops;
use crate::store::territory::TerritoryFilter;
use crate::store::territory_cache::TerritoryCache;

pub async fn get(
    records: &Records,
    cache: &TerritoryCache,
    request: &GetTerritoryRequest,
) -> Result<GetTerritoryResponse, Error> {
    let code = kato("kato", &request.kato)?;
    let (territory, ancestors) =
        ops::territories::get(records, cache, code, request.include_ancestors).await?;
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
    let filter = TerritoryFilter {
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
        ops::territories::list(records, &filter, &page).await?;
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
    let asked = (&draft, body.expected_version);
    ops::territories::upsert(records, cache, &mutation, asked, |territory, created| {
        UpsertTerritoryResponse {
            territory: Some(territory_to_proto(territory)),
            created,
        }
    })
    .await
}
