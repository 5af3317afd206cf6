//! The gRPC face of the service: checks the caller, maps proto ↔ domain, runs the
//! rules and the store in one recorded transaction, maps errors to status. RPCs
//! not written here yet answer UNIMPLEMENTED.

use aimaq_auth::Scope;
use aimaq_proto::budget::v1::budget_service_server::BudgetService;
use aimaq_proto::budget::v1::*;
use aimaq_records::Records;

#[derive(Clone)]
pub struct BudgetApi {
    records: Records,
}

impl BudgetApi {
    pub fn new(records: Records) -> BudgetApi {
        BudgetApi { records }
    }
}

#[tonic::async_trait]
impl BudgetService for BudgetApi {
    aimaq_records::platform_rpcs!(Scope::BudgetRead);
}
