//! Rules of the grants domain: pure functions and types, no I/O.

pub mod annual_report;
pub mod application;
pub mod decision;
pub mod loan;
pub mod statistics;
pub mod terms;
