//! Rules of the governance domain: pure functions and types, no I/O.

pub mod territory;
