//! Arbitrary requests to every RPC of the gateway service (see aimaq-fuzz).
#![no_main]

aimaq_fuzz::fuzz_service!(Gateway);
