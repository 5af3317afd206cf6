//! Arbitrary requests to every RPC of the governance service (see aimaq-fuzz).
#![no_main]

aimaq_fuzz::fuzz_service!(Governance);
