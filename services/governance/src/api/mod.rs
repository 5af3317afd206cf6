//! The gRPC face of the service: checks the caller, maps proto ↔ domain, runs the
//! domain rules and the store in one recorded transaction, maps errors to status.

mod convert;
mod territories;

use aimaq_auth::{Caller, Scope};
use aimaq_proto::governance::v1::governance_service_server::GovernanceService;
use aimaq_proto::governance::v1::*;
use aimaq_records::Records;
use tonic::codegen::BoxStream;
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

    async fn upsert_territory(
        &self,
        request: Request<UpsertTerritoryRequest>,
    ) -> Result<Response<UpsertTerritoryResponse>, Status> {
        Ok(Response::new(
            territories::upsert(&self.records, &request).await?,
        ))
    }

    async fn watch_changes(
        &self,
        request: Request<WatchChangesRequest>,
    ) -> Result<Response<BoxStream<WatchChangesResponse>>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        let request = request.into_inner();
        Ok(Response::new(Box::pin(self.records.feed().watch(
            request.after_sequence,
            request.resource_types,
            |event| WatchChangesResponse { event: Some(event) },
        ))))
    }

    async fn verify_audit_log(
        &self,
        request: Request<VerifyAuditLogRequest>,
    ) -> Result<Response<VerifyAuditLogResponse>, Status> {
        Caller::of(&request)?.require(Scope::Audit)?;
        let verification = aimaq_records::verify_audit_log(self.records.database()).await?;
        Ok(Response::new(VerifyAuditLogResponse {
            verification: Some(verification),
        }))
    }
}
