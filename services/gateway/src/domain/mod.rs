//! The gateway's rules, without I/O.

pub mod dashboard;
pub mod rate;
pub mod written;
