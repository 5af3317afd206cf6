//! The budget service: programmes and their yearly envelopes, the allocation tree
//! over KATO, projects, regional standards and execution reports.
//!
//! `api` maps proto ↔ domain and checks the caller; `ops` runs each operation as
//! one recorded transaction; `domain` holds the rules with no I/O; `store` holds
//! the tables, queries and migrations and returns domain types. Imports run
//! api → ops → store/domain.

mod api;
mod domain;
mod ops;
mod store;

use std::future::Future;

use aimaq_config::ServerConfig;
use aimaq_proto::budget::v1::budget_service_server::BudgetServiceServer;
use aimaq_runtime::StartError;
use tokio::net::TcpListener;

use aimaq_territories::TerritoryDirectory;
pub use api::BudgetApi;
pub use store::Migrator;

/// Runs the service on `listener` until `shutdown` completes; territories are
/// checked with the governance service at `governance_url`.
pub async fn run(
    config: ServerConfig,
    governance_url: String,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let Some(backend) =
        aimaq_runtime::prepare::<Migrator>("budget", &config, listener, store::states::states())
            .await?
    else {
        return Ok(());
    };
    let territories = TerritoryDirectory::connect(&governance_url, &backend.outbound)
        .await
        .map_err(|error| StartError::Config(error.to_string()))?;
    let limit = backend.max_message_bytes();
    let service = BudgetServiceServer::new(BudgetApi::new(backend.records.clone(), territories))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    backend.serve(service, shutdown).await
}
