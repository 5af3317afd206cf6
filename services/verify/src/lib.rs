//! The verifier of Aimaq's audit logs, for anyone holding a service's public
//! log key: auditors, observers of an election, another agency.
//!
//! Given a checkpoint saved before, it fetches the current one, checks its
//! signature (and witnesses' cosignatures), proves that the log only grew
//! since (RFC 9162 consistency proof), and proves that given records — their
//! content recomputed into leaves — are in it, their change events as the
//! feed serves them; or it does the same offline over an export. It checks
//! and recounts a certified election's results bundle. It shares nothing
//! with the services but `aimaq_tlog`'s definitions.

pub mod checks;
pub mod results;
pub mod source;
pub mod verify;
pub mod witnessed;

pub use checks::{Finding, Verified, open_checkpoint};
pub use results::{Recount, verify_bundle};
pub use source::{GrpcLog, ServedCheckpoints, Service, SourceError};
pub use verify::{Export, Options, Report, export, verify, verify_export};

/// A range of record sequences as written on a command line: `FIRST..LAST`.
pub fn parse_range(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    let (first, last) = text
        .split_once("..")
        .ok_or("FIRST..LAST, for example 1..500")?;
    let first: u64 = first.parse().map_err(|_| "FIRST is a record sequence")?;
    let last: u64 = last.parse().map_err(|_| "LAST is a record sequence")?;
    if first == 0 || last < first {
        return Err("1 ≤ FIRST ≤ LAST".into());
    }
    Ok(first..=last)
}
