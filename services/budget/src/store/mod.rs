//! Tables, queries and migrations of the budget service.

pub mod allocation;
pub mod coverage;
mod migration;
pub mod program;
pub mod project;
pub mod report;
pub mod standard;

pub use migration::Migrator;
