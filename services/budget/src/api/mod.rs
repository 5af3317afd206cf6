//! The gRPC face of the service: checks the caller and its territory, turns
//! requests into checked values for `ops`, and domain values into proto.

mod allocations;
mod messages;
mod programs;
mod projects;
mod reports;
mod standards;
mod summary;
mod targets;

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::Error;
use aimaq_proto::budget::v1::budget_service_server::BudgetService;
use aimaq_proto::budget::v1::*;
use aimaq_types::Kato;
use std::sync::Arc;

use aimaq_records::Records;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use aimaq_territories::TerritoryDirectory;

#[derive(Clone)]
pub struct BudgetApi {
    records: Records,
    territories: Arc<TerritoryDirectory>,
}

impl BudgetApi {
    pub fn new(records: Records, territories: TerritoryDirectory) -> BudgetApi {
        BudgetApi {
            records: records.with_messages(messages::messages()),
            territories: Arc::new(territories),
        }
    }
}

/// Checks with governance, on the caller's behalf, that `kato` is a settlement,
/// and one that existed under its code in `year` when the work is of a year.
async fn require_settlement(
    directory: &TerritoryDirectory,
    caller: &OnBehalf,
    kato: Kato,
    year: Option<i32>,
) -> Result<(), Error> {
    let facts = directory.facts(kato, caller).await?;
    if !facts.is_settlement() {
        return Err(Error::invalid(
            "settlement_kato",
            format!("{kato} is a {}, not a settlement", facts.kind.as_str_name()),
        ));
    }
    match year {
        Some(year) if !facts.existed_in(year) => Err(Error::invalid(
            "settlement_kato",
            format!("{kato} did not exist under this code in {year}"),
        )),
        _ => Ok(()),
    }
}

#[tonic::async_trait]
impl BudgetService for BudgetApi {
    type ExportAllocationsStream = BoxStream<ExportAllocationsResponse>;

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

    async fn set_program_target(
        &self,
        request: Request<SetProgramTargetRequest>,
    ) -> Result<Response<SetProgramTargetResponse>, Status> {
        Ok(Response::new(targets::set(&self.records, &request).await?))
    }

    async fn list_program_targets(
        &self,
        request: Request<ListProgramTargetsRequest>,
    ) -> Result<Response<ListProgramTargetsResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            targets::list(&self.records, request.get_ref()).await?,
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

    async fn export_allocations(
        &self,
        request: Request<ExportAllocationsRequest>,
    ) -> Result<Response<Self::ExportAllocationsStream>, Status> {
        let caller = Caller::of(&request)?;
        caller.require(Scope::BudgetRead)?;
        let permit = self.records.open_stream(caller)?;
        let stream = reports::export(&self.records, request.get_ref())?;
        Ok(Response::new(Box::pin(aimaq_server::Permitted::new(
            stream, permit,
        ))))
    }

    async fn get_execution_report(
        &self,
        request: Request<GetExecutionReportRequest>,
    ) -> Result<Response<GetExecutionReportResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            reports::execution(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn create_project(
        &self,
        request: Request<CreateProjectRequest>,
    ) -> Result<Response<CreateProjectResponse>, Status> {
        Ok(Response::new(
            projects::create(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn get_project(
        &self,
        request: Request<GetProjectRequest>,
    ) -> Result<Response<GetProjectResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            projects::get(&self.records, request.get_ref()).await?,
        ))
    }

    async fn transition_project(
        &self,
        request: Request<TransitionProjectRequest>,
    ) -> Result<Response<TransitionProjectResponse>, Status> {
        Ok(Response::new(
            projects::transition(&self.records, &request).await?,
        ))
    }

    async fn record_disbursement(
        &self,
        request: Request<RecordDisbursementRequest>,
    ) -> Result<Response<RecordDisbursementResponse>, Status> {
        Ok(Response::new(
            projects::disburse(&self.records, &request).await?,
        ))
    }

    async fn list_projects(
        &self,
        request: Request<ListProjectsRequest>,
    ) -> Result<Response<ListProjectsResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            projects::list(&self.records, request.get_ref()).await?,
        ))
    }

    async fn import_projects(
        &self,
        request: Request<ImportProjectsRequest>,
    ) -> Result<Response<ImportProjectsResponse>, Status> {
        Ok(Response::new(
            projects::import(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn import_standard_statuses(
        &self,
        request: Request<ImportStandardStatusesRequest>,
    ) -> Result<Response<ImportStandardStatusesResponse>, Status> {
        Ok(Response::new(
            standards::import(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn list_standards(
        &self,
        request: Request<ListStandardsRequest>,
    ) -> Result<Response<ListStandardsResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(standards::list()))
    }

    async fn record_standard_status(
        &self,
        request: Request<RecordStandardStatusRequest>,
    ) -> Result<Response<RecordStandardStatusResponse>, Status> {
        Ok(Response::new(
            standards::record(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn get_sufficiency(
        &self,
        request: Request<GetSufficiencyRequest>,
    ) -> Result<Response<GetSufficiencyResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            standards::sufficiency(&self.records, request.get_ref()).await?,
        ))
    }

    async fn get_settlement_summary(
        &self,
        request: Request<GetSettlementSummaryRequest>,
    ) -> Result<Response<GetSettlementSummaryResponse>, Status> {
        Caller::of(&request)?.require(Scope::BudgetRead)?;
        Ok(Response::new(
            summary::summary(&self.records, request.get_ref()).await?,
        ))
    }

    aimaq_records::platform_rpcs!(Scope::BudgetRead);
}
