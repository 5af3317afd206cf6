//! What the gateway keeps outside itself: rate limits shared by its replicas.

pub mod rate;
