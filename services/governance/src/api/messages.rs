//! The messages governance's change events carry: each resource type's row,
//! as read back after the change, or what the operation handed over, turned
//! into the message the API answers with (see
//! `aimaq_records::ResourceMessages`).

use aimaq_error::Error;
use aimaq_records::ResourceMessages;

use crate::domain::local_budget::RevenueSource;
use crate::domain::territory::Territory;
use crate::ops::protocols::{CountedResults, StationProtocol};
use crate::store::election::{ElectionRecord, elections};
use crate::store::local_budget::revenues;
use crate::store::territory;

pub(super) fn messages() -> ResourceMessages {
    ResourceMessages::default()
        .with_fallible("territory", |row: &territory::Model| {
            Ok::<_, Error>(super::convert::territory_to_proto(&Territory::try_from(
                row.clone(),
            )?))
        })
        .with("akim", super::akims::akim_to_proto)
        // Its own fields: its stations and candidates are resources of their
        // own, whose events carry them.
        .with_fallible("election", |row: &elections::Model| {
            super::elections::election_to_proto(&ElectionRecord {
                election: row.clone(),
                stations: Vec::new(),
                candidates: Vec::new(),
            })
        })
        .with("polling_station", super::elections::station_to_proto)
        .with_fallible("candidate", super::elections::candidate_to_proto)
        .with_fallible("protocol", |held: &StationProtocol| {
            super::protocols::protocol_to_proto(held.registered_voters, &held.protocol)
        })
        .with("election_results", |held: &CountedResults| {
            super::protocols::results_to_proto(&held.record, &held.results)
        })
        .with_fallible("revenue", |row: &revenues::Model| {
            let source = RevenueSource::parse(&row.source).ok_or_else(|| {
                Error::internal(format!(
                    "revenue {} has the source {:?}",
                    row.id, row.source
                ))
            })?;
            Ok::<_, Error>(super::local_budget::revenue_to_proto(row, source))
        })
        .with("indicator", super::local_budget::indicator_to_proto)
}
