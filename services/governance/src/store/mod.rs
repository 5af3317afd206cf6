//! Tables, queries and migrations of the governance service.

pub mod akim;
pub mod election;
pub mod local_budget;
mod migration;
pub mod results;
pub mod states;
pub mod territory;
pub mod territory_cache;

#[cfg(test)]
mod plans;

pub use migration::Migrator;
