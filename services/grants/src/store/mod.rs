//! Tables, queries and migrations of the grants service.

pub mod application;
mod migration;
pub mod statistics;
pub mod terms;

pub use migration::Migrator;
