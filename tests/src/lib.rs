//! End-to-end tests of the whole system live in `tests/`; this crate holds what
//! several of them start: the backends and gateways, and the scenarios run
//! through them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod scenario;
pub mod system;
