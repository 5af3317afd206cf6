//! The gRPC face of the service: checks the caller, maps proto ↔ domain, runs the
//! rules and the store in one recorded transaction, maps errors to status. RPCs
//! not written here yet answer UNIMPLEMENTED.

mod allocations;
mod programs;

use aimaq_auth::{Caller, Scope};
use aimaq_proto::budget::v1::budget_service_server::BudgetService;
use aimaq_proto::budget::v1::*;
use std::sync::Arc;

use aimaq_records::Records;
use tonic::{Request, Response, Status};

use crate::territories::TerritoryDirectory;

#[derive(Clone)]
pub struct BudgetApi {
    records: Records,
    territories: Arc<TerritoryDirectory>,
}

impl BudgetApi {
    pub fn new(records: Records, territories: TerritoryDirectory) -> BudgetApi {
        BudgetApi {
            records,
            territories: Arc::new(territories),
        }
    }
}

#[tonic::async_trait]
impl BudgetService for BudgetApi {
    async fn create_program(
        &self,
        request: Request<CreateProgramRequest>,
    ) -> Result<Response<CreateProgramResponse>, Status> {
        Ok(Response::new(
            programs::create(&self.records, &request).await?,
        ))
    }

    async fn get_program(
        &self,
        request: Request<GetProgramRequest>,
    ) -> Result<Response<GetProgramResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            programs::get(&self.records, request.get_ref()).await?,
        ))
    }

    async fn list_programs(
        &self,
        request: Request<ListProgramsRequest>,
    ) -> Result<Response<ListProgramsResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            programs::list(&self.records, request.get_ref()).await?,
        ))
    }

    async fn set_envelope(
        &self,
        request: Request<SetEnvelopeRequest>,
    ) -> Result<Response<SetEnvelopeResponse>, Status> {
        Ok(Response::new(
            programs::set_envelope(&self.records, &request).await?,
        ))
    }

    async fn get_envelope(
        &self,
        request: Request<GetEnvelopeRequest>,
    ) -> Result<Response<GetEnvelopeResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            programs::get_envelope(&self.records, request.get_ref()).await?,
        ))
    }

    async fn allocate(
        &self,
        request: Request<AllocateRequest>,
    ) -> Result<Response<AllocateResponse>, Status> {
        Ok(Response::new(
            allocations::allocate(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn adjust_allocation(
        &self,
        request: Request<AdjustAllocationRequest>,
    ) -> Result<Response<AdjustAllocationResponse>, Status> {
        Ok(Response::new(
            allocations::adjust(&self.records, &request).await?,
        ))
    }

    async fn get_allocation(
        &self,
        request: Request<GetAllocationRequest>,
    ) -> Result<Response<GetAllocationResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            allocations::get(&self.records, request.get_ref()).await?,
        ))
    }

    async fn list_allocations(
        &self,
        request: Request<ListAllocationsRequest>,
    ) -> Result<Response<ListAllocationsResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            allocations::list(&self.records, request.get_ref()).await?,
        ))
    }

    aimaq_records::platform_rpcs!(Scope::BudgetRead);
}
