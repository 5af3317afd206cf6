//! Record keeping every Aimaq service shares, written in the same transaction as
//! the mutation it records:
//!
//! - **idempotency**: the `request_id` of every accepted mutation is stored with a
//!   digest of the request and the encoded response; a retry returns that response
//!   and changes nothing, a different request under the same id is refused;
//! - **audit log**: who, when, which RPC, which resource, the request digest, and a
//!   SHA-256 hash chained to the previous record ([`verify_audit_log`] recomputes it);
//! - **change feed**: events with a per-service sequence that grows by one and
//!   becomes visible in order, replayed and then tailed live by [`ChangeFeed`].
//!
//! Every writer takes the single `record_heads` row last (`FOR UPDATE` on
//! PostgreSQL; the IMMEDIATE transaction on SQLite), so sequences are assigned and
//! committed in one order, and the lock is held only for the append and commit.

mod audit;
mod entities;
mod feed;
mod migration;
mod mutation;

pub use audit::verify_audit_log;
pub use feed::ChangeFeed;
pub use migration::CreateRecordTables;
pub use mutation::{Change, Mutation, Records, within};

pub use aimaq_proto::common::v1::ChangeAction;
