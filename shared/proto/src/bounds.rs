//! Every request is checked against the conventions of `common.proto` as it is
//! decoded, before any service sees it, so that no RPC can forget one:
//! - text holds no control characters (line breaks and tabs only in notes and
//!   reasons) and at most [`bounds::MAX_TEXT_CHARS`] characters;
//! - repeated fields hold at most [`bounds::MAX_LIST_VALUES`] scalars or
//!   [`bounds::MAX_LIST_MESSAGES`] messages;
//! - money (`int64 …_tiyn`) is within ±[`bounds::MAX_AMOUNT_TIYN`];
//! - a year (`int32 year`, `int32 …_year`) is 0 (not given) or within the window,
//!   and so is every `aimaq.common.v1.Date` that is set.
//!
//! The check reads the wire format with the descriptors and allocates nothing
//! unless it finds a fault; bytes that are not protobuf are left to the decoder,
//! which refuses them.

use aimaq_error::FieldViolation;
use aimaq_types::bounds;
use bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};

/// Violations reported at most, so that a batch of bad rows makes a short error.
const MAX_REPORTED: usize = 20;
/// Nesting followed at most; Aimaq's requests are a few levels deep.
const MAX_DEPTH: usize = 16;

fn pool() -> Option<&'static DescriptorPool> {
    crate::descriptor_pool()
}

/// The violations of the request message `full_name` encoded in `bytes`; empty
/// when it keeps every convention (or is not an Aimaq message).
pub fn check_request(full_name: &str, bytes: &[u8]) -> Vec<FieldViolation> {
    let mut found = Vec::new();
    if let Some(message) = pool().and_then(|pool| pool.get_message_by_name(full_name)) {
        check_message(&message, bytes, "", 0, &mut found);
    }
    found
}

fn report(found: &mut Vec<FieldViolation>, field: String, description: String) {
    if found.len() < MAX_REPORTED {
        found.push(FieldViolation { field, description });
    }
}

/// Checks one encoded message; stops quietly at bytes that do not parse.
fn check_message(
    message: &MessageDescriptor,
    mut bytes: &[u8],
    path: &str,
    depth: usize,
    found: &mut Vec<FieldViolation>,
) {
    // Occurrences of each repeated field so far: few fields, so a short list.
    let mut counts: Vec<(u32, usize)> = Vec::new();
    while bytes.has_remaining() && found.len() < MAX_REPORTED {
        let Ok((number, wire_type)) = decode_key(&mut bytes) else {
            return;
        };
        let field = message.get_field(number);
        let value = match wire_type {
            WireType::Varint => match decode_varint(&mut bytes) {
                Ok(value) => Wire::Varint(value),
                Err(_) => return,
            },
            WireType::LengthDelimited => {
                let Some(length) = decode_varint(&mut bytes)
                    .ok()
                    .and_then(|length| usize::try_from(length).ok())
                    .filter(|length| *length <= bytes.len())
                else {
                    return;
                };
                let (value, rest) = bytes.split_at(length);
                bytes = rest;
                Wire::Delimited(value)
            }
            WireType::SixtyFourBit if bytes.len() >= 8 => {
                bytes.advance(8);
                Wire::Fixed
            }
            WireType::ThirtyTwoBit if bytes.len() >= 4 => {
                bytes.advance(4);
                Wire::Fixed
            }
            _ => return,
        };
        let Some(field) = field else {
            continue;
        };
        let index = if field.is_list() {
            let occurrences = count(&mut counts, number, occurrences_in(&field, &value));
            let limit = if matches!(field.kind(), Kind::Message(_)) {
                bounds::MAX_LIST_MESSAGES
            } else {
                bounds::MAX_LIST_VALUES
            };
            if occurrences > limit {
                report(
                    found,
                    join(path, field.name()),
                    format!("at most {limit} values"),
                );
                return;
            }
            Some(occurrences - 1)
        } else {
            None
        };
        let name = match index {
            Some(index) => format!("{}[{index}]", join(path, field.name())),
            None => join(path, field.name()),
        };
        check_field(&field, value, &name, depth, found);
    }
}

enum Wire<'a> {
    Varint(u64),
    Delimited(&'a [u8]),
    Fixed,
}

/// Values one record of a repeated field carries: a packed record many.
fn occurrences_in(field: &FieldDescriptor, value: &Wire<'_>) -> usize {
    match value {
        Wire::Delimited(packed)
            if !matches!(field.kind(), Kind::String | Kind::Bytes | Kind::Message(_)) =>
        {
            let mut packed: &[u8] = packed;
            let mut values = 0;
            while packed.has_remaining() && decode_varint(&mut packed).is_ok() {
                values += 1;
            }
            values
        }
        _ => 1,
    }
}

fn count(counts: &mut Vec<(u32, usize)>, number: u32, more: usize) -> usize {
    match counts.iter_mut().find(|(n, _)| *n == number) {
        Some((_, seen)) => {
            *seen += more;
            *seen
        }
        None => {
            counts.push((number, more));
            more
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn check_field(
    field: &FieldDescriptor,
    value: Wire<'_>,
    path: &str,
    depth: usize,
    found: &mut Vec<FieldViolation>,
) {
    let name = field.name();
    match (field.kind(), value) {
        (Kind::String, Wire::Delimited(raw)) => {
            // Invalid UTF-8 is the decoder's to refuse.
            if let Ok(text) = std::str::from_utf8(raw)
                && let Err(why) = bounds::text(text, bounds::MAX_TEXT_CHARS, is_prose(name))
            {
                report(found, path.to_owned(), why);
            }
        }
        (Kind::Message(inner), Wire::Delimited(raw)) if depth < MAX_DEPTH => {
            if inner.full_name() == "aimaq.common.v1.Date" {
                check_date(&inner, raw, path, found);
            } else {
                check_message(&inner, raw, path, depth + 1, found);
            }
        }
        (Kind::Int64, Wire::Varint(raw)) if name.ends_with("_tiyn") => {
            // int64 travels as its two's complement.
            if let Err(why) = bounds::amount(raw as i64) {
                report(found, path.to_owned(), why);
            }
        }
        (Kind::Int32, Wire::Varint(raw)) if name == "year" || name.ends_with("_year") => {
            // int32 travels sign-extended to 64 bits.
            let year = raw as i64;
            let in_window = i32::try_from(year).is_ok_and(|year| bounds::year(year).is_ok());
            if year != 0 && !in_window {
                report(
                    found,
                    path.to_owned(),
                    format!(
                        "must be a year from {} to {}",
                        bounds::FIRST_YEAR,
                        bounds::LAST_YEAR
                    ),
                );
            }
        }
        _ => {}
    }
}

/// Free text that may run over several lines.
fn is_prose(name: &str) -> bool {
    matches!(name, "note" | "reason" | "description") || name.ends_with("_reason")
}

/// A date that is set (not all zero) must be a real one within the window.
fn check_date(
    date: &MessageDescriptor,
    mut raw: &[u8],
    path: &str,
    found: &mut Vec<FieldViolation>,
) {
    let (mut year, mut month, mut day) = (0i64, 0i64, 0i64);
    while raw.has_remaining() {
        let Ok((number, WireType::Varint)) = decode_key(&mut raw) else {
            return;
        };
        let Ok(value) = decode_varint(&mut raw) else {
            return;
        };
        match date.get_field(number).as_ref().map(FieldDescriptor::name) {
            Some("year") => year = value as i64,
            Some("month") => month = value as i64,
            Some("day") => day = value as i64,
            _ => {}
        }
    }
    if (year, month, day) == (0, 0, 0) {
        return;
    }
    let checked = match (
        i32::try_from(year),
        i32::try_from(month),
        i32::try_from(day),
    ) {
        (Ok(year), Ok(month), Ok(day)) => bounds::date(year, month, day).map(|_| ()),
        _ => Err("not a calendar date".to_owned()),
    };
    if let Err(why) = checked {
        report(found, path.to_owned(), why);
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::common::v1::{Date, LocalizedText};
    use crate::governance::v1::{
        ListTerritoriesRequest, RecordRevenueRequest, ScheduleElectionRequest, TerritoryInput,
        UpsertTerritoryRequest,
    };

    fn fields<M: Message + prost::Name>(message: &M) -> Vec<String> {
        check_request(&M::full_name(), &message.encode_to_vec())
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn plain_requests_pass() {
        let request = UpsertTerritoryRequest {
            request_id: "r-1".into(),
            territory: Some(TerritoryInput {
                kato: "613633100".into(),
                name: Some(LocalizedText {
                    ru: "Агыбет".into(),
                    ..LocalizedText::default()
                }),
                ..TerritoryInput::default()
            }),
            expected_version: 0,
        };
        assert!(fields(&request).is_empty());
    }

    #[test]
    fn control_characters_and_long_text_are_named() {
        let request = UpsertTerritoryRequest {
            request_id: "r\0".into(),
            territory: Some(TerritoryInput {
                kato: "x".repeat(bounds::MAX_TEXT_CHARS + 1),
                name: Some(LocalizedText {
                    kk: "a\u{1b}[2J".into(),
                    ..LocalizedText::default()
                }),
                ..TerritoryInput::default()
            }),
            expected_version: 0,
        };
        assert_eq!(
            fields(&request),
            ["request_id", "territory.kato", "territory.name.kk"]
        );
        let note = RecordRevenueRequest {
            note: "first line\r\nsecond\tline".into(),
            ..RecordRevenueRequest::default()
        };
        assert!(fields(&note).is_empty());
    }

    #[test]
    fn money_years_and_dates_are_bounded() {
        let revenue = RecordRevenueRequest {
            amount_tiyn: i64::MIN,
            fiscal_year: -1,
            ..RecordRevenueRequest::default()
        };
        assert_eq!(fields(&revenue), ["fiscal_year", "amount_tiyn"]);
        let election = ScheduleElectionRequest {
            voting_date: Some(Date {
                year: 262_142,
                month: 1,
                day: 1,
            }),
            ..ScheduleElectionRequest::default()
        };
        assert_eq!(fields(&election), ["voting_date"]);
        let unset = ScheduleElectionRequest {
            voting_date: Some(Date::default()),
            ..ScheduleElectionRequest::default()
        };
        assert!(fields(&unset).is_empty());
    }

    #[test]
    fn long_lists_are_refused_packed_or_not() {
        let filter = ListTerritoriesRequest {
            kinds: vec![1; bounds::MAX_LIST_VALUES + 1],
            ..ListTerritoriesRequest::default()
        };
        assert_eq!(fields(&filter), ["kinds"]);
        let fine = ListTerritoriesRequest {
            kinds: vec![1; bounds::MAX_LIST_VALUES],
            ..ListTerritoriesRequest::default()
        };
        assert!(fields(&fine).is_empty());
    }

    #[test]
    fn garbage_is_left_to_the_decoder() {
        for bytes in [&[0xffu8; 16][..], &[0x0a, 0x05, b'a'], &[0x08, 0x80, 0x80]] {
            assert!(check_request("aimaq.governance.v1.UpsertTerritoryRequest", bytes).is_empty());
        }
    }
}
