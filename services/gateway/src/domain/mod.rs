//! The gateway's rules, without I/O.

pub mod rate;
