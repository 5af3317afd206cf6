//! Tables, queries and migrations of the grants service.

mod migration;
pub mod terms;

pub use migration::Migrator;
