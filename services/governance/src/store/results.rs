//! An election's results as its stored protocols give them: the count of the
//! accepted protocols under the election's rule.

use aimaq_error::Error;
use sea_orm::ConnectionTrait;

use crate::domain::results::{self, Results, Station};
use crate::store::election::{self as store, ElectionRecord, name};

/// A stored protocol whose counts do not add up to a count: written before
/// counts were bounded, it is named rather than summed.
pub fn out_of_bounds(election: i64, station: i32) -> Error {
    Error::precondition(
        "BOUNDS",
        format!("{}/protocols/{station}", name(election)),
        "the stored protocol's counts are out of bounds; submit a corrected protocol",
    )
}

/// The tally of the accepted protocols and the outcome under the election's rule.
pub async fn results_of(
    db: &impl ConnectionTrait,
    record: &ElectionRecord,
) -> Result<Results, Error> {
    let protocols = store::current_protocols(db, record).await?;
    let stations: Vec<Station> = record
        .stations
        .iter()
        .map(|s| Station {
            number: s.number,
            registered_voters: s.registered_voters,
            closed: s.closed,
        })
        .collect();
    let counts = protocols
        .iter()
        .map(|p| Ok((p.station_number, store::counts(p)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let candidates = record.candidates.iter().map(|c| c.id);
    let rule = record.election.winner_rule.into();
    results::count(&stations, candidates, &counts, rule)
        .map_err(|station| out_of_bounds(record.election.id, station))
}
