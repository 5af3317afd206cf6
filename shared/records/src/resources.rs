//! The resources change events carry: each event holds its resource as it
//! stood right after the change, as the service's own message in a
//! `google.protobuf.Any`, so that a consumer of the feed needs no call back.
//!
//! The records crate knows rows and values, not the service's messages: the
//! API layer registers, per resource type, how a value becomes its message.
//! The value is the resource's row as the mutation's transaction reads it
//! back for the state digest (no query of its own), or, for a resource whose
//! message needs more than its row, a value the operation hands over with
//! its change ([`crate::Change::holding`]).

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use aimaq_error::Error;
use aimaq_proto::common::v1::ChangeEvent;

/// A value an operation hands over with a change, for the encoder its service
/// registered for that type of value; and the row the state digest is made
/// of, when the value is not that row itself.
#[derive(Clone)]
pub struct Held {
    value: Arc<dyn Any + Send + Sync>,
    row: Option<Arc<dyn Any + Send + Sync>>,
}

impl Held {
    pub fn new<V: Any + Send + Sync>(value: V) -> Held {
        Held {
            value: Arc::new(value),
            row: None,
        }
    }

    /// `value`, whose resource's one stored row is `row`.
    pub fn with_row<V, R>(value: V, row: R) -> Held
    where
        V: Any + Send + Sync,
        R: Any + Send + Sync,
    {
        Held {
            value: Arc::new(value),
            row: Some(Arc::new(row)),
        }
    }

    /// The value held.
    pub(crate) fn value(&self) -> &dyn Any {
        self.value.as_ref()
    }

    /// The row held: the one given, or else the value.
    pub(crate) fn row(&self) -> &dyn Any {
        self.row.as_deref().unwrap_or(self.value.as_ref())
    }
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Held(..)")
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Held) -> bool {
        Arc::ptr_eq(&self.value, &other.value)
    }
}

impl Eq for Held {}

type Encode = Arc<dyn Fn(&dyn Any) -> Result<prost_types::Any, Error> + Send + Sync>;

/// How a service's resources become the messages its change events carry.
#[derive(Clone, Default)]
pub struct ResourceMessages {
    encoders: Vec<(&'static str, TypeId, Encode)>,
}

impl ResourceMessages {
    /// Resources of `resource_type` are encoded from values of type `V`: the
    /// row of the type's table, which must hold one row per resource, or the
    /// value an operation holds out with its change.
    pub fn with<V, M>(mut self, resource_type: &'static str, to_message: fn(&V) -> M) -> Self
    where
        V: Any,
        M: prost::Name + 'static,
    {
        self.add::<V, M>(resource_type, move |value| Ok(to_message(value)));
        self
    }

    /// As [`ResourceMessages::with`], for a value that may not make a message
    /// (a stored code the service no longer knows): the write then fails.
    pub fn with_fallible<V, M>(
        mut self,
        resource_type: &'static str,
        to_message: fn(&V) -> Result<M, Error>,
    ) -> Self
    where
        V: Any,
        M: prost::Name + 'static,
    {
        self.add::<V, M>(resource_type, to_message);
        self
    }

    fn add<V: Any, M: prost::Name + 'static>(
        &mut self,
        resource_type: &'static str,
        to_message: impl Fn(&V) -> Result<M, Error> + Send + Sync + 'static,
    ) {
        let encode: Encode = Arc::new(move |value: &dyn Any| {
            let value = value
                .downcast_ref::<V>()
                .ok_or_else(|| Error::internal("a resource value of another type"))?;
            prost_types::Any::from_msg(&to_message(value)?)
                .map_err(|e| Error::internal(format!("encoding a {resource_type}: {e}")))
        });
        self.encoders
            .push((resource_type, TypeId::of::<V>(), encode));
    }

    /// The message of `value` as a resource of `resource_type`; None when
    /// the service registered no encoder for that type and value.
    pub(crate) fn encode(
        &self,
        resource_type: &str,
        value: &dyn Any,
    ) -> Option<Result<prost_types::Any, Error>> {
        let type_id = value.type_id();
        self.encoders
            .iter()
            .find(|(kind, id, _)| *kind == resource_type && *id == type_id)
            .map(|(_, _, encode)| encode(value))
    }

    /// The message of a value an operation held out with its change.
    pub(crate) fn encode_held(
        &self,
        resource_type: &str,
        held: &Held,
    ) -> Option<Result<prost_types::Any, Error>> {
        self.encode(resource_type, held.value())
    }
}

/// The digest of a record's change events, each at its sequence, as the
/// audit record's leaf commits to them (see `aimaq_tlog::record`).
pub(crate) fn committed_events_digest<'a>(
    events: impl IntoIterator<Item = (u64, &'a ChangeEvent)>,
) -> String {
    let events: Vec<(u64, &ChangeEvent, String)> = events
        .into_iter()
        .map(|(sequence, event)| (sequence, event, carried_digest(event.resource.as_ref())))
        .collect();
    aimaq_tlog::events_digest(events.iter().map(|(sequence, event, carried)| {
        aimaq_tlog::EventFields {
            sequence: *sequence,
            resource_type: &event.resource_type,
            resource_name: &event.resource_name,
            action: event.action,
            resource_version: event.resource_version,
            state_digest: &event.state_digest,
            resource_digest: carried,
        }
    }))
}

/// The digest the audit record's leaf commits to for a carried resource;
/// empty when the event carries none.
fn carried_digest(resource: Option<&prost_types::Any>) -> String {
    resource
        .map(|any| aimaq_tlog::resource_digest(&any.type_url, &any.value))
        .unwrap_or_default()
}

/// A stored resource column as the event's `Any`; an undecodable one is kept
/// as bytes under no type, so that its digest differs and the check names it.
pub(crate) fn stored_resource(column: Option<Vec<u8>>) -> Option<prost_types::Any> {
    use prost::Message;
    column.map(|bytes| {
        prost_types::Any::decode(bytes.as_slice()).unwrap_or(prost_types::Any {
            type_url: String::new(),
            value: bytes,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimaq_proto::common::v1::Date;

    #[test]
    fn values_become_messages_by_type_and_value() {
        let messages = ResourceMessages::default()
            .with("day", |day: &u32| Date {
                year: 2026,
                month: 12,
                day: i32::try_from(*day).unwrap_or(0),
            })
            .with_fallible("day", |_: &String| -> Result<Date, Error> {
                Err(Error::internal("not a day"))
            });
        let encoded = messages.encode("day", &7_u32).map(Result::unwrap);
        let encoded = encoded.expect("a u32 day has an encoder");
        assert_eq!(encoded.type_url, "type.googleapis.com/aimaq.common.v1.Date");
        assert_eq!(encoded.to_msg::<Date>().map(|d| d.day), Ok(7));
        assert!(messages.encode("day", &7_i64).is_none());
        assert!(messages.encode("week", &7_u32).is_none());
        assert!(matches!(
            messages.encode("day", &String::new()),
            Some(Err(Error::Internal(_)))
        ));
        let held = Held::new(9_u32);
        let day = messages.encode_held("day", &held).map(Result::unwrap);
        assert_eq!(
            day.and_then(|d| d.to_msg::<Date>().ok()).map(|d| d.day),
            Some(9)
        );
        assert_eq!(held.clone(), held);
        assert_ne!(Held::new(9_u32), held);
    }

    #[test]
    fn a_stored_resource_reads_back_and_garbage_keeps_its_bytes() {
        use prost::Message;
        let any = prost_types::Any {
            type_url: "type.googleapis.com/x".into(),
            value: vec![1, 2],
        };
        assert_eq!(
            stored_resource(Some(any.encode_to_vec())),
            Some(any.clone())
        );
        assert_eq!(stored_resource(None), None);
        let garbage = stored_resource(Some(vec![0xff, 0xff]));
        assert_eq!(
            garbage.as_ref().map(|g| g.value.clone()),
            Some(vec![0xff, 0xff])
        );
        assert_ne!(carried_digest(garbage.as_ref()), carried_digest(Some(&any)));
        assert_eq!(carried_digest(None), "");
    }
}
