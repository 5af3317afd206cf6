//! The gRPC face of the service: checks the caller, maps proto ↔ domain, runs the
//! domain rules and the store in one recorded transaction, maps errors to status.

pub(crate) mod convert;
mod import;
mod territories;

use aimaq_auth::{Caller, Scope};
use aimaq_proto::governance::v1::governance_service_server::GovernanceService;
use aimaq_proto::governance::v1::*;
use aimaq_records::Records;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct GovernanceApi {
    records: Records,
}

impl GovernanceApi {
    pub fn new(records: Records) -> GovernanceApi {
        GovernanceApi { records }
    }
}

#[tonic::async_trait]
impl GovernanceService for GovernanceApi {
    async fn get_territory(
        &self,
        request: Request<GetTerritoryRequest>,
    ) -> Result<Response<GetTerritoryResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            territories::get(&self.records, request.get_ref()).await?,
        ))
    }

    async fn list_territories(
        &self,
        request: Request<ListTerritoriesRequest>,
    ) -> Result<Response<ListTerritoriesResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            territories::list(&self.records, request.get_ref()).await?,
        ))
    }

    async fn import_territories(
        &self,
        request: Request<tonic::Streaming<ImportTerritoriesRequest>>,
    ) -> Result<Response<ImportTerritoriesResponse>, Status> {
        Ok(Response::new(import::import(&self.records, request).await?))
    }

    async fn upsert_territory(
        &self,
        request: Request<UpsertTerritoryRequest>,
    ) -> Result<Response<UpsertTerritoryResponse>, Status> {
        Ok(Response::new(
            territories::upsert(&self.records, &request).await?,
        ))
    }

    aimaq_records::platform_rpcs!(Scope::GovernanceRead);
}
