//! The operations of the budget service: one function per operation, each a
//! recorded transaction (or a read) taking checked values and returning domain
//! values with their change events. The API turns the outcome into the answer
//! that is recorded with the request id.

pub mod allocations;
pub mod programs;
pub mod projects;
pub mod reports;
pub mod standards;
pub mod targets;

/// Microseconds since the epoch, the time every write stamps.
fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
