//! Rules of the grants domain: pure functions and types, no I/O.

pub mod terms;
