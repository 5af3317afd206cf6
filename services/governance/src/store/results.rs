//! An election's results as its stored protocols give them: the count of the
//! accepted protocols under the election's rule.

use aimaq_error::Error;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::domain::results::{self, Outcome, Results, Station};
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

/// What certification counted and concluded: a resource of its own
/// (`elections/{id}/results`), written once, so that the log commits to the
/// tally and to which protocol of each station it counted.
pub mod certified {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "certified_results")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub election_id: i64,
        /// `plurality` or `absolute_majority`.
        pub rule: String,
        /// `station:version` of each counted protocol, by station.
        pub counted: String,
        /// `candidate:votes` of each registered candidate, by candidate id.
        pub votes: String,
        pub against_all: i64,
        pub spoiled: i64,
        pub ballots_issued: i64,
        /// `winner:{candidate}`, `runoff:{first}:{second}` or `repeat`.
        pub outcome: String,
        pub reason: String,
        pub certified_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `elections/{id}/results`.
pub fn certified_name(election: i64) -> String {
    format!("{}/results", name(election))
}

/// Keeps what the certification of `record` counted and concluded.
pub async fn keep_certified(
    db: &impl ConnectionTrait,
    record: &ElectionRecord,
    (results, reason): (&Results, &str),
    now_micros: i64,
) -> Result<(), Error> {
    let mut counted: Vec<(i32, i64)> = store::current_protocols(db, record)
        .await?
        .iter()
        .map(|p| (p.station_number, p.version))
        .collect();
    counted.sort_unstable();
    let mut candidates: Vec<i64> = record.candidates.iter().map(|c| c.id).collect();
    candidates.sort_unstable();
    let votes = candidates
        .iter()
        .map(|c| (*c, results.tally.votes.get(c).copied().unwrap_or(0)));
    let outcome = match results.outcome {
        Outcome::Winner(winner) => format!("winner:{winner}"),
        Outcome::Runoff(first, second) => format!("runoff:{first}:{second}"),
        Outcome::Repeat(_) => "repeat".to_owned(),
    };
    let row = certified::Model {
        election_id: record.election.id,
        rule: results.rule.as_str().to_owned(),
        counted: pairs(counted),
        votes: pairs(votes),
        against_all: results.tally.against_all,
        spoiled: results.tally.spoiled,
        ballots_issued: results.ballots_issued,
        outcome,
        reason: reason.to_owned(),
        certified_at_micros: now_micros,
    };
    certified::Entity::insert(certified::ActiveModel::from(row))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn pairs<A: std::fmt::Display, B: std::fmt::Display>(
    pairs: impl IntoIterator<Item = (A, B)>,
) -> String {
    pairs
        .into_iter()
        .map(|(a, b)| format!("{a}:{b}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// What certification counted of `election`; NOT_FOUND when it was not
/// certified (or was certified before this was kept).
pub async fn certified_of(
    db: &impl ConnectionTrait,
    election: i64,
) -> Result<certified::Model, Error> {
    certified::Entity::find_by_id(election)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("election_results", certified_name(election)))
}

/// The stations whose protocols `row` counted.
pub fn counted_stations(row: &certified::Model) -> Result<Vec<i32>, Error> {
    row.counted
        .split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once(':')
                .and_then(|(station, _)| station.parse().ok())
                .ok_or_else(|| Error::internal("stored counted protocols are malformed"))
        })
        .collect()
}
