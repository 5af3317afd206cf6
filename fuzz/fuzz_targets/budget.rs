//! Arbitrary requests to every RPC of the budget service (see aimaq-fuzz).
#![no_main]

aimaq_fuzz::fuzz_service!(Budget);
