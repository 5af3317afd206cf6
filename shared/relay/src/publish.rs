//! What one change event becomes on JetStream: its subject, headers and body.

use aimaq_proto::common::v1::{ChangeAction, ChangeEvent};
use async_nats::HeaderMap;
use async_nats::header::NATS_MESSAGE_ID;
use prost::Message;

/// Where a service's feed goes: its subjects' first two tokens and its
/// stream, as `aimaq.budget` in `AIMAQ_BUDGET`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    prefix: String,
    service: String,
}

impl Destination {
    /// A prefix is one subject token of letters, digits, `-` and `_`.
    pub fn new(prefix: &str, service: &str) -> Result<Destination, String> {
        let token = |text: &str| {
            !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !token(prefix) || !token(service) {
            return Err(format!(
                "NATS prefix {prefix:?} and service {service:?} must be letters, digits, '-' or '_'"
            ));
        }
        Ok(Destination {
            prefix: prefix.to_lowercase(),
            service: service.to_lowercase(),
        })
    }

    /// The service's stream: `AIMAQ_GOVERNANCE`, …
    pub fn stream_name(&self) -> String {
        format!("{}_{}", self.prefix, self.service).to_uppercase()
    }

    /// Every subject of the service's feed.
    pub fn subjects(&self) -> String {
        format!("{}.{}.>", self.prefix, self.service)
    }

    /// `aimaq.<service>.<resource_type>.<action>`, as `aimaq.budget.allocation.created`.
    pub fn subject(&self, event: &ChangeEvent) -> String {
        subject(&format!("{}.{}", self.prefix, self.service), event)
    }

    /// The id JetStream deduplicates by: the same for every publication of one event.
    pub fn message_id(&self, event: &ChangeEvent) -> String {
        format!("{}/{}", self.service, event.sequence)
    }
}

/// `<stem>.<resource_type>.<action>`.
fn subject(stem: &str, event: &ChangeEvent) -> String {
    let action = ChangeAction::try_from(event.action)
        .map(|action| action.as_str_name())
        .unwrap_or("CHANGE_ACTION_UNSPECIFIED");
    let action = action
        .strip_prefix("CHANGE_ACTION_")
        .unwrap_or(action)
        .to_lowercase();
    format!("{stem}.{}.{action}", token(&event.resource_type))
}

/// A subject token: what a token may not hold (`.`, `*`, `>`, spaces) as `_`.
fn token(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() => '_',
            c => c,
        })
        .collect()
}

/// A header value: printable ASCII only (request ids are bounded to it).
fn header_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The subject, headers and body of one event.
pub(crate) fn message(
    destination: &Destination,
    event: &ChangeEvent,
) -> (String, HeaderMap, bytes::Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(NATS_MESSAGE_ID, destination.message_id(event).as_str());
    headers.insert("Aimaq-Sequence", event.sequence.to_string().as_str());
    headers.insert("Aimaq-Request-Id", header_value(&event.request_id).as_str());
    headers.insert(
        "Aimaq-Resource",
        header_value(&event.resource_name).as_str(),
    );
    if !event.trace_parent.is_empty() {
        headers.insert("traceparent", header_value(&event.trace_parent).as_str());
    }
    headers.insert(
        "Content-Type",
        "application/protobuf; proto=aimaq.common.v1.ChangeEvent",
    );
    (
        destination.subject(event),
        headers,
        event.encode_to_vec().into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(resource_type: &str, action: ChangeAction) -> ChangeEvent {
        ChangeEvent {
            sequence: 42,
            resource_type: resource_type.into(),
            resource_name: "elections/7/stations/3".into(),
            action: action as i32,
            request_id: "req\r\nX-Evil: 1".into(),
            ..ChangeEvent::default()
        }
    }

    #[test]
    fn subjects_name_service_type_and_action() {
        let governance = Destination::new("aimaq", "governance").unwrap();
        let created = event("polling_station", ChangeAction::Created);
        assert_eq!(
            governance.subject(&created),
            "aimaq.governance.polling_station.created"
        );
        let budget = Destination::new("staging", "budget").unwrap();
        let odd = event("a.b>c *d", ChangeAction::Deleted);
        assert_eq!(budget.subject(&odd), "staging.budget.a_b_c__d.deleted");
        assert_eq!(budget.message_id(&odd), "budget/42");
        assert_eq!(budget.stream_name(), "STAGING_BUDGET");
        assert_eq!(budget.subjects(), "staging.budget.>");
        for bad in ["", "a.b", "a*", "a b", "a>"] {
            assert!(Destination::new(bad, "budget").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn headers_carry_the_event_and_no_line_breaks() {
        let governance = Destination::new("aimaq", "governance").unwrap();
        let (_, headers, payload) = message(&governance, &event("election", ChangeAction::Updated));
        assert_eq!(
            headers.get(NATS_MESSAGE_ID).unwrap().as_str(),
            "governance/42"
        );
        assert_eq!(headers.get("Aimaq-Sequence").unwrap().as_str(), "42");
        assert_eq!(
            headers.get("Aimaq-Request-Id").unwrap().as_str(),
            "req__X-Evil: 1"
        );
        let decoded = ChangeEvent::decode(payload).unwrap();
        assert_eq!(decoded.resource_name, "elections/7/stations/3");
    }
}
