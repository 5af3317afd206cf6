//! The grants service: 'With a diploma – to the village!' — dated programme terms
//! and MCI values, applications, decisions, payments, loan schedules.
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
use aimaq_proto::grants::v1::grants_service_server::GrantsServiceServer;
use aimaq_runtime::StartError;
use tokio::net::TcpListener;

use aimaq_territories::TerritoryDirectory;
pub use api::GrantsApi;
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
        aimaq_runtime::prepare::<Migrator>("grants", &config, listener, store::states::states())
            .await?
    else {
        return Ok(());
    };
    let territories = TerritoryDirectory::connect(&governance_url, &backend.outbound)
        .await
        .map_err(|error| StartError::Config(error.to_string()))?;
    let limit = backend.max_message_bytes();
    let service = GrantsServiceServer::new(GrantsApi::new(backend.records.clone(), territories))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    backend.serve(service, shutdown).await
}
