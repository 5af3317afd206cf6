//! Tables, queries and migrations of the budget service.

mod migration;
pub mod program;

pub use migration::Migrator;
