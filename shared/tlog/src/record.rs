//! The canonical encoding of an Aimaq audit record, whose RFC 9162 leaf hash
//! is the record's leaf in its service's log.
//!
//! The leaf data is the line `aimaq/audit-record/v1\n`, then each field as
//! its length in bytes (u64, big-endian) and its UTF-8 bytes, in this order:
//! sequence, occurred-at microseconds (both decimal), actor, agency, method,
//! resource type, resource name, request id, request digest, certificate
//! subject, first change sequence, change count (both decimal), and the
//! events digest. The events digest is the hex SHA-256 of the change events
//! the request emitted, each encoded the same way: sequence, resource type,
//! resource name, action, resource version (numbers in decimal). An event
//! that carries the digest of its resource's state after the change is
//! encoded with the field `state` before those five and the digest after
//! them; a sequence is decimal, so the two forms cannot be taken for each
//! other, and events recorded before state digests keep their encoding.
//! An event that carries its resource is encoded with the field `resource`
//! first, then the five, the state digest (possibly empty) and the resource
//! digest: the hex SHA-256 of the resource's type URL and encoded message,
//! each length-prefixed (`resource_digest`).

use sha2::{Digest, Sha256};

use crate::hash::{Hash, leaf_hash};

const LEAF_HEADER: &[u8] = b"aimaq/audit-record/v1\n";

/// The fields of an audit record that its leaf commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLeaf<'a> {
    pub sequence: u64,
    pub occurred_at_micros: i64,
    pub actor: &'a str,
    pub agency: &'a str,
    pub method: &'a str,
    pub resource_type: &'a str,
    pub resource_name: &'a str,
    pub request_id: &'a str,
    pub request_digest: &'a str,
    pub certificate: &'a str,
    pub first_change_sequence: u64,
    pub change_count: u32,
    pub events_digest: &'a str,
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u64).to_be_bytes());
    out.extend_from_slice(field);
}

impl AuditLeaf<'_> {
    /// The leaf data.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = LEAF_HEADER.to_vec();
        put(&mut out, self.sequence.to_string().as_bytes());
        put(&mut out, self.occurred_at_micros.to_string().as_bytes());
        for text in [
            self.actor,
            self.agency,
            self.method,
            self.resource_type,
            self.resource_name,
            self.request_id,
            self.request_digest,
            self.certificate,
        ] {
            put(&mut out, text.as_bytes());
        }
        put(&mut out, self.first_change_sequence.to_string().as_bytes());
        put(&mut out, self.change_count.to_string().as_bytes());
        put(&mut out, self.events_digest.as_bytes());
        out
    }

    /// The leaf hash.
    pub fn hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

/// A change event as the events digest covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFields<'a> {
    pub sequence: u64,
    pub resource_type: &'a str,
    pub resource_name: &'a str,
    pub action: i32,
    pub resource_version: i64,
    /// Hex SHA-256 of the resource's stored state after the change; empty
    /// when the event carries none (a deletion, a record from before).
    pub state_digest: &'a str,
    /// [`resource_digest`] of the resource the event carries; empty when it
    /// carries none.
    pub resource_digest: &'a str,
}

/// The digest of a resource an event carries: its type URL and its encoded
/// message, as the `google.protobuf.Any` holds them.
pub fn resource_digest(type_url: &str, value: &[u8]) -> String {
    let mut encoded = Vec::new();
    put(&mut encoded, type_url.as_bytes());
    put(&mut encoded, value);
    hex::encode(Sha256::digest(&encoded))
}

/// The hex SHA-256 of `events`, in order.
pub fn events_digest<'a>(events: impl IntoIterator<Item = EventFields<'a>>) -> String {
    let mut encoded = Vec::new();
    for event in events {
        let (stated, carried) = (
            !event.state_digest.is_empty(),
            !event.resource_digest.is_empty(),
        );
        if carried {
            put(&mut encoded, b"resource");
        } else if stated {
            put(&mut encoded, b"state");
        }
        put(&mut encoded, event.sequence.to_string().as_bytes());
        put(&mut encoded, event.resource_type.as_bytes());
        put(&mut encoded, event.resource_name.as_bytes());
        put(&mut encoded, event.action.to_string().as_bytes());
        put(&mut encoded, event.resource_version.to_string().as_bytes());
        if stated || carried {
            put(&mut encoded, event.state_digest.as_bytes());
        }
        if carried {
            put(&mut encoded, event.resource_digest.as_bytes());
        }
    }
    hex::encode(Sha256::digest(&encoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> AuditLeaf<'static> {
        AuditLeaf {
            sequence: 7,
            occurred_at_micros: 1_700_000_000_000_000,
            actor: "akimat-61",
            agency: "Turkestan region akimat",
            method: "/aimaq.budget.v1.BudgetService/CreateAllocation",
            resource_type: "allocation",
            resource_name: "allocations/AE-2026/61/613633100",
            request_id: "r-1",
            request_digest: "ab",
            certificate: "",
            first_change_sequence: 9,
            change_count: 1,
            events_digest: "cd",
        }
    }

    #[test]
    fn every_field_is_committed_and_fields_cannot_trade_bytes() {
        let base = leaf().hash();
        let mut moved = leaf();
        moved.actor = "akimat-6";
        moved.agency = "1Turkestan region akimat";
        assert_ne!(moved.hash(), base);
        let mut other = leaf();
        other.change_count = 2;
        assert_ne!(other.hash(), base);
        assert!(leaf().encode().starts_with(b"aimaq/audit-record/v1\n"));
    }

    #[test]
    fn the_events_digest_covers_each_event() {
        let event = |name| EventFields {
            sequence: 1,
            resource_type: "allocation",
            resource_name: name,
            action: 1,
            resource_version: 1,
            state_digest: "",
            resource_digest: "",
        };
        let one = events_digest([event("a")]);
        assert_ne!(one, events_digest([event("b")]));
        assert_ne!(one, events_digest([event("a"), event("a")]));
        assert_eq!(events_digest([]).len(), 64);
        let with_state = |digest| EventFields {
            state_digest: digest,
            ..event("a")
        };
        assert_ne!(one, events_digest([with_state("00")]));
        assert_ne!(
            events_digest([with_state("00")]),
            events_digest([with_state("01")])
        );
        let digests = [
            resource_digest("t/a", b"1"),
            resource_digest("t/a", b"2"),
            resource_digest("t/b", b"1"),
        ];
        let [a1, a2, b1] = digests.each_ref().map(|digest| {
            events_digest([EventFields {
                resource_digest: digest,
                ..with_state("00")
            }])
        });
        assert_ne!(a1, events_digest([with_state("00")]));
        assert_ne!(a1, a2);
        assert_ne!(a1, b1);
        // Type URL and message cannot trade bytes.
        assert_ne!(resource_digest("t/a", b"1"), resource_digest("t/a1", b""));
    }
}
