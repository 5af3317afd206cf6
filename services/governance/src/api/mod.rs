//! The gRPC face of the service: checks the caller, maps proto ↔ domain, runs the
//! domain rules and the store in one recorded transaction, maps errors to status.

mod akims;
pub(crate) mod convert;
mod elections;
mod import;
mod local_budget;
mod messages;
mod protocols;
mod rural_report;
mod summary;
mod territories;

use aimaq_auth::{Caller, Scope};
use aimaq_proto::governance::v1::governance_service_server::GovernanceService;
use aimaq_proto::governance::v1::*;
use std::sync::Arc;

use aimaq_records::Records;
use tonic::{Request, Response, Status};

use crate::store::territory_cache::TerritoryCache;

#[derive(Clone)]
pub struct GovernanceApi {
    records: Records,
    territories: Arc<TerritoryCache>,
}

impl GovernanceApi {
    pub fn new(records: Records) -> GovernanceApi {
        GovernanceApi {
            records: records.with_messages(messages::messages()),
            territories: Arc::default(),
        }
    }
}

/// The classifier is public reference data: any verified caller may read it,
/// whatever its scopes (budget and grants ask on their callers' behalf).
fn public_read<T>(request: &Request<T>) -> Result<(), Status> {
    Caller::of(request)?;
    Ok(())
}

#[tonic::async_trait]
impl GovernanceService for GovernanceApi {
    async fn get_territory(
        &self,
        request: Request<GetTerritoryRequest>,
    ) -> Result<Response<GetTerritoryResponse>, Status> {
        public_read(&request)?;
        Ok(Response::new(
            territories::get(&self.records, &self.territories, request.get_ref()).await?,
        ))
    }

    async fn list_territories(
        &self,
        request: Request<ListTerritoriesRequest>,
    ) -> Result<Response<ListTerritoriesResponse>, Status> {
        public_read(&request)?;
        Ok(Response::new(
            territories::list(&self.records, request.get_ref()).await?,
        ))
    }

    async fn import_territories(
        &self,
        request: Request<tonic::Streaming<ImportTerritoriesRequest>>,
    ) -> Result<Response<ImportTerritoriesResponse>, Status> {
        Ok(Response::new(
            import::import(&self.records, &self.territories, request).await?,
        ))
    }

    async fn upsert_territory(
        &self,
        request: Request<UpsertTerritoryRequest>,
    ) -> Result<Response<UpsertTerritoryResponse>, Status> {
        Ok(Response::new(
            territories::upsert(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn appoint_akim(
        &self,
        request: Request<AppointAkimRequest>,
    ) -> Result<Response<AppointAkimResponse>, Status> {
        Ok(Response::new(
            akims::appoint(&self.records, &request).await?,
        ))
    }

    async fn get_akim(
        &self,
        request: Request<GetAkimRequest>,
    ) -> Result<Response<GetAkimResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            akims::get(&self.records, request.get_ref()).await?,
        ))
    }

    async fn schedule_election(
        &self,
        request: Request<ScheduleElectionRequest>,
    ) -> Result<Response<ScheduleElectionResponse>, Status> {
        Ok(Response::new(
            elections::schedule(&self.records, &request).await?,
        ))
    }

    async fn get_election(
        &self,
        request: Request<GetElectionRequest>,
    ) -> Result<Response<GetElectionResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            elections::get(&self.records, request.get_ref()).await?,
        ))
    }

    async fn list_elections(
        &self,
        request: Request<ListElectionsRequest>,
    ) -> Result<Response<ListElectionsResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            elections::list(&self.records, request.get_ref()).await?,
        ))
    }

    async fn add_polling_station(
        &self,
        request: Request<AddPollingStationRequest>,
    ) -> Result<Response<AddPollingStationResponse>, Status> {
        Ok(Response::new(
            elections::add_station(&self.records, &request).await?,
        ))
    }

    async fn close_polling_station(
        &self,
        request: Request<ClosePollingStationRequest>,
    ) -> Result<Response<ClosePollingStationResponse>, Status> {
        Ok(Response::new(
            elections::close_station(&self.records, &request).await?,
        ))
    }

    async fn register_candidate(
        &self,
        request: Request<RegisterCandidateRequest>,
    ) -> Result<Response<RegisterCandidateResponse>, Status> {
        Ok(Response::new(
            elections::register_candidate(&self.records, &request).await?,
        ))
    }

    async fn submit_protocol(
        &self,
        request: Request<SubmitProtocolRequest>,
    ) -> Result<Response<SubmitProtocolResponse>, Status> {
        Ok(Response::new(
            protocols::submit(&self.records, &request).await?,
        ))
    }

    async fn list_protocols(
        &self,
        request: Request<ListProtocolsRequest>,
    ) -> Result<Response<ListProtocolsResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            protocols::list(&self.records, request.get_ref()).await?,
        ))
    }

    async fn get_election_results_bundle(
        &self,
        request: Request<GetElectionResultsBundleRequest>,
    ) -> Result<Response<GetElectionResultsBundleResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            protocols::results_bundle(&self.records, request.get_ref()).await?,
        ))
    }

    async fn get_election_results(
        &self,
        request: Request<GetElectionResultsRequest>,
    ) -> Result<Response<GetElectionResultsResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            protocols::results(&self.records, request.get_ref()).await?,
        ))
    }

    async fn certify_election(
        &self,
        request: Request<CertifyElectionRequest>,
    ) -> Result<Response<CertifyElectionResponse>, Status> {
        Ok(Response::new(
            protocols::certify(&self.records, &request).await?,
        ))
    }

    async fn record_revenue(
        &self,
        request: Request<RecordRevenueRequest>,
    ) -> Result<Response<RecordRevenueResponse>, Status> {
        Ok(Response::new(
            local_budget::record_revenue(&self.records, &request).await?,
        ))
    }

    async fn get_revenue_summary(
        &self,
        request: Request<GetRevenueSummaryRequest>,
    ) -> Result<Response<GetRevenueSummaryResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            local_budget::revenue_summary(&self.records, request.get_ref()).await?,
        ))
    }

    async fn get_rural_budget_report(
        &self,
        request: Request<GetRuralBudgetReportRequest>,
    ) -> Result<Response<GetRuralBudgetReportResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            rural_report::rural_budget_report(&self.records, request.get_ref()).await?,
        ))
    }

    async fn get_settlement_summary(
        &self,
        request: Request<GetSettlementSummaryRequest>,
    ) -> Result<Response<GetSettlementSummaryResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            summary::summary(&self.records, &self.territories, request.get_ref()).await?,
        ))
    }

    async fn record_indicator(
        &self,
        request: Request<RecordIndicatorRequest>,
    ) -> Result<Response<RecordIndicatorResponse>, Status> {
        Ok(Response::new(
            local_budget::record_indicator(&self.records, &request).await?,
        ))
    }

    async fn list_indicators(
        &self,
        request: Request<ListIndicatorsRequest>,
    ) -> Result<Response<ListIndicatorsResponse>, Status> {
        Caller::of(&request)?.require(Scope::GovernanceRead)?;
        Ok(Response::new(
            local_budget::list_indicators(&self.records, request.get_ref()).await?,
        ))
    }

    aimaq_records::platform_rpcs!(Scope::GovernanceRead);
}
