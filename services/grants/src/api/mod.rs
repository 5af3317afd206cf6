//! The gRPC face of the service: checks the caller and its territory, turns
//! requests into checked values for `ops`, and domain values into proto.

mod annual_report;
mod applications;
mod decisions;
mod messages;
mod quotas;
mod statistics;
mod terms;

use aimaq_auth::{Caller, Scope};
use aimaq_error::Violations;
use aimaq_proto::common::v1::Date;
use aimaq_proto::grants::v1::grants_service_server::GrantsService;
use aimaq_proto::grants::v1::*;
use aimaq_records::Records;
use aimaq_territories::TerritoryDirectory;
use chrono::NaiveDate;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// A date the request must carry, named `field`: a violation when it is missing
/// or not a calendar date.
fn required_date(
    violations: &mut Violations,
    field: &str,
    date: Option<&Date>,
) -> Option<NaiveDate> {
    let date = date.and_then(aimaq_proto::date_from_proto);
    violations.check(date.is_some(), field, "required: a valid date");
    date
}

#[derive(Clone)]
pub struct GrantsApi {
    records: Records,
    territories: Arc<TerritoryDirectory>,
}

impl GrantsApi {
    pub fn new(records: Records, territories: TerritoryDirectory) -> GrantsApi {
        GrantsApi {
            records: records.with_messages(messages::messages()),
            territories: Arc::new(territories),
        }
    }
}

#[tonic::async_trait]
impl GrantsService for GrantsApi {
    async fn set_mci_rate(
        &self,
        request: Request<SetMciRateRequest>,
    ) -> Result<Response<SetMciRateResponse>, Status> {
        Ok(Response::new(
            terms::set_mci_rate(&self.records, &request).await?,
        ))
    }

    async fn get_mci_rate(
        &self,
        request: Request<GetMciRateRequest>,
    ) -> Result<Response<GetMciRateResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(
            terms::get_mci_rate(&self.records, request.get_ref()).await?,
        ))
    }

    async fn list_mci_rates(
        &self,
        request: Request<ListMciRatesRequest>,
    ) -> Result<Response<ListMciRatesResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(terms::list_mci_rates(&self.records).await?))
    }

    async fn set_policy(
        &self,
        request: Request<SetPolicyRequest>,
    ) -> Result<Response<SetPolicyResponse>, Status> {
        Ok(Response::new(
            terms::set_policy(&self.records, &request).await?,
        ))
    }

    async fn get_policy(
        &self,
        request: Request<GetPolicyRequest>,
    ) -> Result<Response<GetPolicyResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(
            terms::get_policy(&self.records, request.get_ref()).await?,
        ))
    }

    async fn set_quota(
        &self,
        request: Request<SetQuotaRequest>,
    ) -> Result<Response<SetQuotaResponse>, Status> {
        Ok(Response::new(quotas::set(&self.records, &request).await?))
    }

    async fn get_quota(
        &self,
        request: Request<GetQuotaRequest>,
    ) -> Result<Response<GetQuotaResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(
            quotas::get(&self.records, request.get_ref()).await?,
        ))
    }

    async fn submit_application(
        &self,
        request: Request<SubmitApplicationRequest>,
    ) -> Result<Response<SubmitApplicationResponse>, Status> {
        Ok(Response::new(
            applications::submit(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn get_application(
        &self,
        request: Request<GetApplicationRequest>,
    ) -> Result<Response<GetApplicationResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(
            applications::get(&self.records, request.get_ref()).await?,
        ))
    }

    async fn list_applications(
        &self,
        request: Request<ListApplicationsRequest>,
    ) -> Result<Response<ListApplicationsResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(
            applications::list(&self.records, request.get_ref()).await?,
        ))
    }

    async fn decide_application(
        &self,
        request: Request<DecideApplicationRequest>,
    ) -> Result<Response<DecideApplicationResponse>, Status> {
        Ok(Response::new(
            decisions::decide(&self.records, &request).await?,
        ))
    }

    async fn record_payment(
        &self,
        request: Request<RecordPaymentRequest>,
    ) -> Result<Response<RecordPaymentResponse>, Status> {
        Ok(Response::new(
            applications::pay(&self.records, &request).await?,
        ))
    }

    async fn get_loan_schedule(
        &self,
        request: Request<GetLoanScheduleRequest>,
    ) -> Result<Response<GetLoanScheduleResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(
            applications::loan_schedule_of(&self.records, request.get_ref()).await?,
        ))
    }

    async fn record_departure(
        &self,
        request: Request<RecordDepartureRequest>,
    ) -> Result<Response<RecordDepartureResponse>, Status> {
        Ok(Response::new(
            applications::depart(&self.records, &request).await?,
        ))
    }

    async fn get_statistics(
        &self,
        request: Request<GetStatisticsRequest>,
    ) -> Result<Response<GetStatisticsResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(
            statistics::statistics(&self.records, request.get_ref()).await?,
        ))
    }

    async fn get_annual_report(
        &self,
        request: Request<GetAnnualReportRequest>,
    ) -> Result<Response<GetAnnualReportResponse>, Status> {
        Caller::of(&request)?.require(Scope::GrantsRead)?;
        Ok(Response::new(
            annual_report::annual_report(&self.records, &self.territories, &request).await?,
        ))
    }

    async fn load_historical_aggregate(
        &self,
        request: Request<LoadHistoricalAggregateRequest>,
    ) -> Result<Response<LoadHistoricalAggregateResponse>, Status> {
        Ok(Response::new(
            statistics::load_historical(&self.records, &request).await?,
        ))
    }

    aimaq_records::platform_rpcs!(Scope::GrantsRead);
}
