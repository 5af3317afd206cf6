//! Demo data, loaded through the services' own APIs from the facts of the design
//! brief and the real territory classifier. Every request carries a fixed id, so
//! loading again on the same data directory changes nothing.

mod budget;
mod budget_plan;
mod governance;
mod grants;
mod names;

pub use budget::budget;
pub use governance::governance;
pub use grants::grants;
pub use names::{date_formed_territories, name_in_other_languages};

use tonic::{Request, Status};

/// The request with the demo's bearer token.
fn authorized<T>(message: T, token: &str) -> Result<Request<T>, Status> {
    let mut request = Request::new(message);
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| Status::invalid_argument("the token is not ASCII"))?;
    request.metadata_mut().insert("authorization", bearer);
    Ok(request)
}

/// A fixed, well-mixed hash of `value` (SplitMix64's finaliser): the demo's
/// deterministic randomness.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
