//! The messages the grants service's change events carry: each resource
//! type's row, as read back after the change, turned into the message the
//! API answers with (see `aimaq_records::ResourceMessages`).

use aimaq_error::Error;
use aimaq_records::ResourceMessages;

use crate::domain::application::{Application, Quota};
use crate::domain::terms::{MciRate, PolicyRecord};
use crate::store::application::applications;
use crate::store::quota::quotas;
use crate::store::statistics::historical;
use crate::store::terms::{mci_rates, policies};

pub(super) fn messages() -> ResourceMessages {
    ResourceMessages::default()
        .with_fallible("application", |row: &applications::Model| {
            let application = Application::try_from(row.clone())?;
            Ok::<_, Error>(super::applications::to_proto(&application))
        })
        .with_fallible("quota", |row: &quotas::Model| {
            Ok::<_, Error>(super::quotas::to_proto(&Quota::try_from(row.clone())?))
        })
        .with("historical_aggregate", |row: &historical::Model| {
            super::statistics::historical_row(&row.clone().into())
        })
        .with_fallible("mci_rate", |row: &mci_rates::Model| {
            Ok::<_, Error>(super::terms::rate_to_proto(&MciRate::try_from(
                row.clone(),
            )?))
        })
        .with_fallible("policy", |row: &policies::Model| {
            let policy = PolicyRecord::try_from(row.clone())?;
            Ok::<_, Error>(super::terms::policy_to_proto(&policy))
        })
}
