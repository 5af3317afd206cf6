//! The operations of the governance service: one function per operation, each
//! a recorded transaction (or a read) taking checked values and returning what
//! the store holds, with its change events. The API turns the outcome into the
//! answer that is recorded with the request id.

pub mod akims;
pub mod elections;
pub mod local_budget;
pub mod protocols;
pub mod territories;
