//! Rules of the grants domain: pure functions and types, no I/O.

pub mod application;
pub mod loan;
pub mod terms;
