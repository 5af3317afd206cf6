//! Arbitrary requests to every RPC of the grants service (see aimaq-fuzz).
#![no_main]

aimaq_fuzz::fuzz_service!(Grants);
