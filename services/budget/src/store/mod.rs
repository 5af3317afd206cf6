//! Tables, queries and migrations of the budget service.

pub mod allocation;
mod migration;
pub mod program;

pub use migration::Migrator;
