//! The governance service: the territory registry (KATO), akims, direct akim
//! elections, rural-district budgets and development indicators.
//!
//! `api` maps proto ↔ domain and checks the caller; `ops` runs each operation as
//! one recorded transaction; `domain` holds the rules with no I/O; `store` holds
//! the tables, queries and migrations. Imports run api → ops → store/domain.

mod api;
pub mod classifier;
mod domain;
mod ops;
mod store;

use std::future::Future;

use aimaq_config::ServerConfig;
use aimaq_proto::governance::v1::governance_service_server::GovernanceServiceServer;
use aimaq_runtime::StartError;
use tokio::net::TcpListener;

pub use api::GovernanceApi;
pub use store::Migrator;

/// Runs the service on `listener` until `shutdown` completes.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let Some(backend) = aimaq_runtime::prepare::<Migrator>(
        "governance",
        &config,
        listener,
        store::states::states(),
    )
    .await?
    else {
        return Ok(());
    };
    let limit = backend.max_message_bytes();
    let service = GovernanceServiceServer::new(GovernanceApi::new(backend.records.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    backend.serve(service, shutdown).await
}
