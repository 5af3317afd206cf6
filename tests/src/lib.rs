//! End-to-end tests of the whole system live in `tests/`; this crate has no code
//! of its own.
