//! Tables, queries and migrations of the budget service.

pub mod allocation;
mod migration;
pub mod program;
pub mod project;
pub mod report;
pub mod standard;

pub use migration::Migrator;
