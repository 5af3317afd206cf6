//! Rules of the governance domain: pure functions and types, no I/O.

pub mod classifier;
pub mod import;
pub mod territory;
