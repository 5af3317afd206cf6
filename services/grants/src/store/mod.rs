//! Tables, queries and migrations of the grants service: rows in, domain types
//! out, and the names of its resources.

pub mod annual_report;
pub mod application;
pub mod granted_counts;
mod migration;
pub mod quota;
pub mod states;
pub mod statistics;
pub mod terms;

#[cfg(test)]
mod plans;

use aimaq_error::Error;
use aimaq_types::Kato;

pub use migration::Migrator;

/// A row found, as its domain value.
fn found<M, T: TryFrom<M, Error = Error>>(row: Option<M>) -> Result<Option<T>, Error> {
    row.map(T::try_from).transpose()
}

/// A KATO code as stored; one that does not parse is a fault of the store.
fn stored_kato(text: &str) -> Result<Kato, Error> {
    Kato::parse(text).map_err(Error::internal)
}
