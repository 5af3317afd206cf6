//! Tables, queries and migrations of the governance service.

mod migration;
pub mod territory;

pub use migration::Migrator;
