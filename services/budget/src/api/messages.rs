//! The messages the budget's change events carry: each resource type's row,
//! as read back after the change, turned into the message the API answers
//! with (see `aimaq_records::ResourceMessages`).

use aimaq_error::Error;
use aimaq_records::ResourceMessages;

use crate::domain;
use crate::store::allocation;
use crate::store::program::{envelopes, programs};
use crate::store::project::projects;
use crate::store::standard::statuses;
use crate::store::target::program_targets;

pub(super) fn messages() -> ResourceMessages {
    ResourceMessages::default()
        .with("program", |row: &programs::Model| {
            super::programs::program_to_proto(&row.clone().into())
        })
        .with("envelope", |row: &envelopes::Model| {
            super::programs::envelope_to_proto(&row.clone().into())
        })
        .with_fallible("allocation", |row: &allocation::Model| {
            let allocation = domain::allocation::Allocation::try_from(row.clone())?;
            Ok::<_, Error>(super::allocations::to_proto(&allocation))
        })
        .with_fallible("project", |row: &projects::Model| {
            let project = domain::project::Project::try_from(row.clone())?;
            Ok::<_, Error>(super::projects::to_proto(&project))
        })
        .with("program_target", |row: &program_targets::Model| {
            super::targets::target_to_proto(&row.clone().into())
        })
        .with_fallible("standard_status", |row: &statuses::Model| {
            let status = domain::standard::StandardStatus::try_from(row.clone())?;
            Ok::<_, Error>(super::standards::to_proto(&status))
        })
}
