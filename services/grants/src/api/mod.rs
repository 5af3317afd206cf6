//! The gRPC face of the service: checks the caller, maps proto ↔ domain, runs the
//! rules and the store in one recorded transaction, maps errors to status. RPCs
//! not written here yet answer UNIMPLEMENTED.

use aimaq_auth::Scope;
use aimaq_proto::grants::v1::grants_service_server::GrantsService;
use aimaq_proto::grants::v1::*;
use aimaq_records::Records;

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
    aimaq_records::platform_rpcs!(Scope::GrantsRead);
}
