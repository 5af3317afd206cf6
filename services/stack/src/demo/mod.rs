//! Demo data, loaded through the services' own APIs from the facts of the design
//! brief and the real territory classifier. Every request carries a fixed id, so
//! loading again on the same data directory changes nothing.

mod budget;
mod governance;

pub use budget::budget;
pub use governance::governance;

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
