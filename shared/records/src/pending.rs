//! The row a committed mutation leaves for the sequencer: its audit record
//! and change events, not yet sequenced, with the MAC that shows the service
//! wrote it.

use aimaq_proto::common::v1::ChangeEvent;
use prost::Message;
use sea_orm::sea_query::{Expr, InsertStatement, Query};

use crate::entities::pending_record;
use crate::keys::LogKeys;
use crate::mutation::{Change, Mutation, now_micros};
use crate::sequencer::PendingChanges;
use crate::states::StateAfter;

/// The pending row's columns, in the order of [`pending_values`].
pub(crate) fn pending_insert() -> InsertStatement {
    Query::insert()
        .into_table(pending_record::Entity)
        .columns([
            pending_record::Column::OccurredAtMicros,
            pending_record::Column::Actor,
            pending_record::Column::Agency,
            pending_record::Column::Method,
            pending_record::Column::ResourceType,
            pending_record::Column::ResourceName,
            pending_record::Column::RequestId,
            pending_record::Column::RequestDigest,
            pending_record::Column::Changes,
            pending_record::Column::Certificate,
            pending_record::Column::Mac,
        ])
        .to_owned()
}

/// The audit record and change events of `mutation`, not yet sequenced,
/// with the MAC that tells the sequencer the service wrote it.
pub(crate) fn pending_row(
    keys: &LogKeys,
    mutation: &Mutation,
    changes: &[Change],
    states: Vec<StateAfter>,
) -> pending_record::Model {
    let (resource_type, resource_name) = changes
        .first()
        .map(|c| (c.resource_type.to_owned(), c.resource_name.clone()))
        .unwrap_or_default();
    let events = PendingChanges {
        events: changes
            .iter()
            .zip(
                states
                    .into_iter()
                    .chain(std::iter::repeat_with(Default::default)),
            )
            .map(|(change, state)| ChangeEvent {
                resource_type: change.resource_type.to_owned(),
                resource_name: change.resource_name.clone(),
                action: change.action as i32,
                resource_version: change.version,
                state_digest: state.digest,
                trace_parent: mutation.trace_parent.clone(),
                resource: state.resource,
                ..ChangeEvent::default()
            })
            .collect(),
    };
    let mut row = pending_record::Model {
        id: 0,
        occurred_at_micros: now_micros(),
        actor: mutation.actor.clone(),
        agency: mutation.agency.clone(),
        method: mutation.method.clone(),
        resource_type,
        resource_name,
        request_id: mutation.request_id.clone(),
        request_digest: mutation.request_digest.clone(),
        changes: events.encode_to_vec(),
        certificate: mutation.certificate.clone(),
        mac: String::new(),
    };
    row.mac = crate::refusal::row_mac(keys, &row);
    row
}

/// The pending row's values, in the order of [`pending_insert`].
pub(crate) fn pending_values(row: pending_record::Model) -> [Expr; 11] {
    [
        row.occurred_at_micros.into(),
        row.actor.into(),
        row.agency.into(),
        row.method.into(),
        row.resource_type.into(),
        row.resource_name.into(),
        row.request_id.into(),
        row.request_digest.into(),
        row.changes.into(),
        row.certificate.into(),
        row.mac.into(),
    ]
}
