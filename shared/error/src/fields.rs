//! Request fields every service reads the same way, refused by name.

use aimaq_types::Kato;

use crate::Error;

/// The KATO code in `field`.
pub fn kato(field: &str, text: &str) -> Result<Kato, Error> {
    Kato::parse(text).map_err(|e| Error::invalid(field, e.to_string()))
}

/// The KATO code in `field`, of a settlement or a rural district: what lies
/// below a district is small enough to be read whole on every view.
pub fn settlement(field: &str, text: &str) -> Result<Kato, Error> {
    let code = kato(field, text)?;
    if code.level() < 3 {
        return Err(Error::invalid(
            field,
            format!("{code} is a region or a district, not a settlement or a rural district"),
        ));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settlements_and_rural_districts_pass() {
        for text in ["613633100", "613633000"] {
            assert_eq!(settlement("kato", text).unwrap().to_string(), text);
        }
        for text in ["613600000", "610000000", "", "61x"] {
            let refused = settlement("territory_kato", text)
                .unwrap_err()
                .into_status();
            assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{text}");
            assert!(refused.message().contains("territory_kato"), "{text}");
        }
    }
}
