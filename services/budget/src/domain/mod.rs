//! Rules of the budget domain: pure functions and types, no I/O.

pub mod allocation;
pub mod program;
pub mod project;
pub mod report;
pub mod standard;
pub mod target;
