//! Tables, queries and migrations of the governance service.

pub mod akim;
pub mod election;
pub mod local_budget;
mod migration;
pub mod territory;

pub use migration::Migrator;
