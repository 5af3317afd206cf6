//! Tables, queries and migrations of the grants service.

pub mod application;
mod migration;
pub mod terms;

pub use migration::Migrator;
