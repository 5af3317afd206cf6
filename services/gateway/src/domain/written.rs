//! Which territories a write names, read from the request as it passes the
//! gateway undecoded: every field of the protobuf wire format that holds
//! exactly nine ASCII digits is a KATO code, at any depth of nesting. A write
//! whose territories cannot be read (compressed, cut short, too deep) names
//! none of them with certainty: `None`, and the caller treats every view as
//! touched.

/// The most a request is looked into: the territory fields come first in
/// every write, and a larger import is treated as touching everything.
pub const LOOKED_AT: usize = 64 * 1024;
/// Nesting looked into: the writes' territories are at most two deep.
const DEPTH: usize = 8;

/// The KATO codes in the gRPC frames `body` (length-prefixed messages), or
/// `None` when they cannot all be read.
pub fn katos_in(body: &[u8]) -> Option<Vec<String>> {
    let mut codes = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (&compressed, header) = rest.split_first()?;
        let length = u32::from_be_bytes(header.get(..4)?.try_into().ok()?);
        let message = header.get(4..4 + usize::try_from(length).ok()?)?;
        if compressed != 0 {
            return None;
        }
        scan(message, DEPTH, &mut codes)?;
        rest = &header[4 + message.len()..];
    }
    codes.sort();
    codes.dedup();
    Some(codes)
}

/// A varint at the start of `bytes`, and what follows it.
fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[index + 1..]));
        }
    }
    None
}

/// Adds the codes of one message to `codes`; `None` when it is not a
/// well-formed message.
fn scan(mut message: &[u8], depth: usize, codes: &mut Vec<String>) -> Option<()> {
    while !message.is_empty() {
        let (key, rest) = varint(message)?;
        message = match key & 7 {
            0 => varint(rest)?.1,
            1 => rest.get(8..)?,
            5 => rest.get(4..)?,
            2 => {
                let (length, rest) = varint(rest)?;
                let length = usize::try_from(length).ok()?;
                let field = rest.get(..length)?;
                if field.len() == 9 && field.iter().all(u8::is_ascii_digit) {
                    codes.push(String::from_utf8_lossy(field).into_owned());
                } else if depth > 0 {
                    // A nested message, or text and bytes that do not parse
                    // as one: either way nothing more to find in it.
                    let mut nested = Vec::new();
                    if scan(field, depth - 1, &mut nested).is_some() {
                        codes.extend(nested);
                    }
                }
                &rest[length..]
            }
            _ => return None,
        };
    }
    Some(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aimaq_proto::budget::v1::{ImportStandardStatusesRequest, StandardStatusInput};
    use prost::Message;

    use super::*;

    fn framed(message: &impl Message) -> Vec<u8> {
        let body = message.encode_to_vec();
        let mut framed = vec![0];
        framed.extend(u32::try_from(body.len()).unwrap().to_be_bytes());
        framed.extend(body);
        framed
    }

    #[test]
    fn the_codes_of_a_write_are_read_at_any_depth() {
        let status = |kato: &str| StandardStatusInput {
            settlement_kato: kato.into(),
            standard_code: "SCHOOL".into(),
            applicable: true,
            met: true,
        };
        let request = ImportStandardStatusesRequest {
            request_id: "123456789-not-a-code".into(),
            statuses: vec![
                status("613633100"),
                status("613633200"),
                status("613633100"),
            ],
            validate_only: false,
        };
        let body = framed(&request);
        assert_eq!(
            katos_in(&body).unwrap(),
            ["613633100", "613633200"].map(String::from)
        );
        // Two messages on one stream.
        let mut two = body.clone();
        two.extend(framed(&ImportStandardStatusesRequest {
            request_id: "x".into(),
            statuses: vec![status("110000000")],
            validate_only: false,
        }));
        assert_eq!(katos_in(&two).unwrap().len(), 3);
    }

    #[test]
    fn what_cannot_be_read_names_nothing_for_certain() {
        let body = framed(&ImportStandardStatusesRequest::default());
        assert_eq!(katos_in(&body), Some(Vec::new()));
        assert_eq!(katos_in(&body[..3]), None);
        let mut compressed = body.clone();
        compressed[0] = 1;
        assert_eq!(katos_in(&compressed), None);
        assert_eq!(katos_in(&[0, 0, 0, 0, 2, 0xff, 0xff]), None);
    }
}
