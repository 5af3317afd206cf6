//! The operations of the grants service: one function per operation, each a
//! recorded transaction (or a read) taking checked values and returning domain
//! values with their change events. The API turns the outcome into the answer
//! that is recorded with the request id.

pub mod applications;
pub mod decisions;
pub mod quotas;
pub mod statistics;
pub mod terms;

/// Microseconds since the epoch, the time every write stamps.
fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
