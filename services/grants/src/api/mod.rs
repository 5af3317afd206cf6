//! The gRPC face of the service: checks the caller, maps proto ↔ domain, runs the
//! rules and the store in one recorded transaction, maps errors to status. RPCs
//! not written here yet answer UNIMPLEMENTED.

mod terms;

use aimaq_auth::{Caller, Scope};
use aimaq_proto::grants::v1::grants_service_server::GrantsService;
use aimaq_proto::grants::v1::*;
use aimaq_records::Records;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct GrantsApi {
    records: Records,
}

impl GrantsApi {
    pub fn new(records: Records) -> GrantsApi {
        GrantsApi { records }
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

    aimaq_records::platform_rpcs!(Scope::GrantsRead);
}
