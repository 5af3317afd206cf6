//! Tables, queries and migrations of the budget service: rows in, domain types
//! out, and the names of its resources.

pub mod allocation;
pub mod coverage;
mod migration;
pub mod program;
pub mod project;
pub mod report;
pub mod standard;
pub mod states;
pub mod sufficiency;
pub mod target;

#[cfg(test)]
mod plans;

use aimaq_error::Error;
use aimaq_types::Kato;

pub use migration::Migrator;

/// A KATO code as stored; one that does not parse is a fault of the store.
fn stored_kato(text: &str) -> Result<Kato, Error> {
    Kato::parse(text).map_err(Error::internal)
}
