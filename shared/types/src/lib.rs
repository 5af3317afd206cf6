//! Value types every Aimaq service speaks in: [`Money`] (exact tiyn), [`Kato`]
//! (territory codes) and [`Iin`] / [`Bin`] (person and legal-entity numbers).
//! Pure: no I/O, no async, no gRPC.

pub mod bounds;
mod iin;
mod kato;
mod money;

pub use iin::{Bin, Iin, IinError, Sex};
pub use kato::{Kato, KatoError};
pub use money::{Language, Money, MoneyError, basis_points};
