//! Rules of the governance domain: pure functions and types, no I/O.

pub mod classifier;
pub mod election;
pub mod import;
pub mod local_budget;
pub mod results;
pub mod territory;
