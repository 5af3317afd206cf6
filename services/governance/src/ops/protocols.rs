//! Protocols, results and certification (which records the elected akim).

use std::collections::HashSet;

use aimaq_error::{Error, Violations};
use aimaq_proto::common::v1::{LogCheckpoint, ResourceEvidence};
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::Kato;
use chrono::NaiveDate;
use sea_orm::ConnectionTrait;

use super::elections::{check_version, load, refuse_if_certified, row, updated};
use crate::domain::election::{Counts, ElectionStatus, check_counts, today_in_kazakhstan};
use crate::domain::results::{Outcome, Results};
use crate::store;
use crate::store::akim::Model as Akim;
use crate::store::election::{
    ElectionRecord, StatusColumn, candidate_id, elections, name, polling_stations, protocol_name,
    protocols, station_name,
};
pub use crate::store::results::{out_of_bounds, results_of};

/// SubmitProtocol, checked: the station's counts as named in the request.
pub struct Submission {
    pub election: i64,
    pub station_number: i32,
    pub expected_version: i64,
    pub ballots_issued: i64,
    /// Candidate names and their votes.
    pub candidate_votes: Vec<(String, i64)>,
    pub against_all: i64,
    pub spoiled: i64,
    pub correction_reason: String,
    pub submitted_by: String,
}

/// Checks that the station may report now, at the protocol version expected.
fn check_reporting(
    election: &elections::Model,
    station: &polling_stations::Model,
    expected_version: i64,
) -> Result<(), Error> {
    let today = today_in_kazakhstan();
    if !election.archival && today < election.voting_date {
        return Err(Error::precondition(
            "VOTING_HELD",
            name(election.id),
            format!(
                "voting day is {}: protocols come after it",
                election.voting_date
            ),
        ));
    }
    if station.closed {
        return Err(Error::precondition(
            "STATION_OPEN",
            station_name(election.id, station.number),
            "the station is closed",
        ));
    }
    if expected_version != station.protocol_version {
        let number = station.number;
        return Err(Error::Aborted(if station.protocol_version == 0 {
            format!("station {number} has no protocol yet: send expected_version 0")
        } else {
            let version = station.protocol_version;
            format!(
                "station {number} has protocol version {version}: a correction sends expected_version {version} and a correction_reason"
            )
        }));
    }
    Ok(())
}

/// The counts asked, with every candidate named by its id in the election.
fn counts_of(asked: &Submission) -> Result<Counts, Error> {
    let mut violations = Violations::new();
    let mut votes = Vec::new();
    for (index, (candidate, count)) in asked.candidate_votes.iter().enumerate() {
        match candidate_id(candidate, asked.election) {
            Some(candidate) => votes.push((candidate, *count)),
            None => violations.add(
                format!("candidate_votes[{index}].candidate"),
                "not a candidate of this election",
            ),
        }
    }
    violations.into_result()?;
    Ok(Counts {
        ballots_issued: asked.ballots_issued,
        votes,
        against_all: asked.against_all,
        spoiled: asked.spoiled,
    })
}

/// A protocol with its station's registered voters: what its message shows,
/// which its change event carries.
#[derive(Debug, Clone)]
pub struct StationProtocol {
    pub registered_voters: i64,
    pub protocol: protocols::Model,
}

/// An election's certified count, which the change of its results carries.
#[derive(Debug, Clone)]
pub struct CountedResults {
    pub record: ElectionRecord,
    pub results: Results,
}

fn protocol_change(election: i64, protocol: &protocols::Model, registered_voters: i64) -> Change {
    let change = Change {
        resource_type: "protocol",
        resource_name: protocol_name(election, protocol.station_number),
        action: if protocol.version == 1 {
            ChangeAction::Created
        } else {
            ChangeAction::Updated
        },
        version: protocol.version,
        resource: None,
    };
    let value = StationProtocol {
        registered_voters,
        protocol: protocol.clone(),
    };
    // A protocol's state is every version its station submitted. The first
    // is the only row, as written here, so its digest needs no read-back;
    // a correction's digest reads the versions before it.
    if protocol.version == 1 {
        change.holding_with_row(value, protocol.clone())
    } else {
        change.holding(value)
    }
}

/// Stores a station's protocol (or its correction); the election starts
/// counting. Answers with the protocol and its station's registered voters
/// (an answer that cannot be made fails the transaction).
pub async fn submit<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Submission,
    answer: impl Fn(&protocols::Model, i64) -> Result<R, Error>,
) -> Result<R, Error> {
    let answer = &answer;
    let id = asked.election;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                // Only what a protocol needs: the election row (locked against a
                // concurrent certification), the station and the candidates.
                let election = row(tx, id, true).await?;
                refuse_if_certified(&election)?;
                let station = store::election::find_station(tx, id, asked.station_number)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid("station_number", "not a station of this election")
                    })?;
                check_reporting(&election, &station, asked.expected_version)?;
                let counts = counts_of(asked)?;
                let candidates: HashSet<i64> = store::election::candidates_of(tx, id)
                    .await?
                    .iter()
                    .map(|c| c.id)
                    .collect();
                check_counts(&counts, station.registered_voters, &candidates)?;
                let now = chrono::Utc::now().timestamp_micros();
                let reason = asked.correction_reason.trim();
                let protocol = store::election::insert_protocol(
                    tx,
                    &station,
                    &counts,
                    reason,
                    &asked.submitted_by,
                    now,
                )
                .await?;
                let counting = (election.status == StatusColumn::Scheduled)
                    .then_some(ElectionStatus::Counting);
                let election = store::election::touch(tx, &election, counting, None).await?;
                let changes = vec![
                    protocol_change(id, &protocol, station.registered_voters),
                    updated(&election),
                ];
                Ok((answer(&protocol, station.registered_voters)?, changes))
            })
        })
        .await
}

/// The election and a page of its protocols (with their history when asked).
pub async fn list(
    records: &Records,
    (id, station): (i64, Option<i32>),
    include_history: bool,
    page: &Page,
) -> Result<(ElectionRecord, Vec<protocols::Model>, String), Error> {
    let db = records.database().connection();
    let record = load(db, id, false).await?;
    let (rows, next) =
        store::election::protocols(db, &record, station, include_history, page).await?;
    Ok((record, rows, next))
}

/// The election and its results.
pub async fn results(records: &Records, id: i64) -> Result<(ElectionRecord, Results), Error> {
    let db = records.database().connection();
    let record = load(db, id, false).await?;
    let results = results_of(db, &record).await?;
    Ok((record, results))
}

/// The last election scheduled for this very territory, with its results.
pub async fn latest_results(
    records: &Records,
    territory: Kato,
) -> Result<Option<(ElectionRecord, Results)>, Error> {
    let db = records.database().connection();
    match store::election::latest_of(db, &territory.to_string()).await? {
        Some(id) => results(records, id).await.map(Some),
        None => Ok(None),
    }
}

/// Checks that every open station of the election has reported.
fn check_all_reported(record: &ElectionRecord) -> Result<(), Error> {
    let waiting: Vec<String> = record
        .stations
        .iter()
        .filter(|s| s.protocol_version == 0 && !s.closed)
        .map(|s| s.number.to_string())
        .collect();
    if record.stations.is_empty() || !waiting.is_empty() {
        return Err(Error::precondition(
            "ALL_STATIONS_REPORTED",
            name(record.election.id),
            if record.stations.is_empty() {
                "the election has no polling stations".to_owned()
            } else {
                format!("stations without a protocol: {}", waiting.join(", "))
            },
        ));
    }
    Ok(())
}

/// An election certified: as it stands, its results, and the akim it elected.
pub type Certified = (ElectionRecord, Results, Option<Akim>);

/// CertifyElection, checked.
pub struct Certify {
    pub id: i64,
    pub expected_version: i64,
    pub term_start: Option<NaiveDate>,
}

/// A candidate's full name, by id (empty for none).
pub fn full_name(record: &ElectionRecord, candidate: i64) -> String {
    record
        .candidates
        .iter()
        .find(|c| c.id == candidate)
        .map(|c| c.full_name.clone())
        .unwrap_or_default()
}

/// The winner recorded as the elected akim, with the change events.
async fn record_winner(
    tx: &impl ConnectionTrait,
    record: &ElectionRecord,
    winner: i64,
    term_start: Option<NaiveDate>,
) -> Result<(Akim, Vec<Change>), Error> {
    let candidate = record
        .candidates
        .iter()
        .find(|c| c.id == winner)
        .ok_or_else(|| Error::internal("the winner is not a candidate"))?;
    let start = term_start.unwrap_or(today_in_kazakhstan() + chrono::Days::new(1));
    let election = (record.election.territory_kato.as_str(), record.election.id);
    let person = (candidate.iin.as_str(), candidate.full_name.as_str());
    let (akim, predecessor) = super::akims::elect(tx, election, person, start).await?;
    // The predecessor leaves before the new holder arrives.
    let mut changes = super::akims::changes(&akim, predecessor.as_ref());
    changes.reverse();
    Ok((akim, changes))
}

pub async fn certify<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Certify,
    answer: impl Fn(&Certified) -> Result<R, Error>,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let id = asked.id;
                let record = load(tx, id, true).await?;
                let results = results_of(tx, &record).await?;
                if record.election.status == StatusColumn::Certified {
                    // Certifying again changes nothing.
                    let akim = store::akim::history(tx, &record.election.territory_kato)
                        .await?
                        .into_iter()
                        .find(|a| a.election_id == Some(id));
                    return Ok((answer(&(record, results, akim))?, Vec::new()));
                }
                check_version(&record, asked.expected_version)?;
                check_all_reported(&record)?;
                let summary = results.reason(|candidate| full_name(&record, candidate));
                let certified = Some(ElectionStatus::Certified);
                let now = chrono::Utc::now().timestamp_micros();
                store::results::keep_certified(tx, &record, (&results, &summary), now).await?;
                let election =
                    store::election::touch(tx, &record.election, certified, Some(summary)).await?;
                let mut changes = vec![updated(&election)];
                let akim = match results.outcome {
                    Outcome::Winner(winner) => {
                        let (akim, elected) =
                            record_winner(tx, &record, winner, asked.term_start).await?;
                        changes.extend(elected);
                        Some(akim)
                    }
                    _ => None,
                };
                let record = load(tx, id, false).await?;
                let results = results_of(tx, &record).await?;
                let kept = Change {
                    resource_type: "election_results",
                    resource_name: store::results::certified_name(id),
                    action: ChangeAction::Created,
                    version: 1,
                    resource: None,
                };
                let counted = CountedResults {
                    record: record.clone(),
                    results: results.clone(),
                };
                changes.insert(1, kept.holding(counted));
                Ok((answer(&(record, results, akim))?, changes))
            })
        })
        .await
}

/// A page of a certified election's results bundle: the evidence, the
/// checkpoint (on the first page) and the next page's token.
pub struct BundlePage {
    pub checkpoint: Option<LogCheckpoint>,
    pub evidence: Vec<ResourceEvidence>,
    pub next_page_token: String,
}

/// Where a page of a bundle starts: after which station, proved against a
/// log of how many records (the first page's checkpoint). Kept in the page
/// token as `election:tree_size:station`.
struct BundleCursor {
    tree_size: u64,
    after_station: i32,
}

impl BundleCursor {
    fn key(election: i64, tree_size: u64, station: i32) -> String {
        format!("{election}:{tree_size}:{station}")
    }

    fn read(election: i64, key: &str) -> Result<BundleCursor, Error> {
        let refuse = || Error::invalid("page_token", "not a token of this election's bundle");
        let mut fields = key.split(':');
        let (Some(of), Some(tree_size), Some(station), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(refuse());
        };
        if of.parse::<i64>().ok() != Some(election) {
            return Err(refuse());
        }
        Ok(BundleCursor {
            tree_size: tree_size.parse().map_err(|_| refuse())?,
            after_station: station.parse().map_err(|_| refuse())?,
        })
    }
}

/// A page of the evidence of a certified election's results: on the first,
/// what certification counted; then each counted station's protocols, by
/// station number, every page against the first page's checkpoint.
pub async fn bundle(records: &Records, id: i64, page: &Page) -> Result<BundlePage, Error> {
    let record = load(records.database().connection(), id, false).await?;
    if record.election.status != StatusColumn::Certified {
        return Err(Error::precondition(
            "NOT_CERTIFIED",
            name(id),
            "the election is not certified: its results may still change",
        ));
    }
    let certified = store::results::certified_of(records.database().connection(), id)
        .await
        .map_err(|_| {
            Error::precondition(
                "NO_BUNDLE",
                name(id),
                "the election was certified before results bundles were kept",
            )
        })?;
    let cursor = page
        .after
        .as_deref()
        .map(|key| BundleCursor::read(id, key))
        .transpose()?;
    // By station number, as certification keeps them.
    let mut stations = store::results::counted_stations(&certified)?;
    let after = cursor.as_ref().map_or(i32::MIN, |c| c.after_station);
    stations.retain(|station| *station > after);
    stations.truncate(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX));
    let shown = &stations[..stations
        .len()
        .min(usize::try_from(page.size).unwrap_or(usize::MAX))];
    let mut resources = Vec::with_capacity(shown.len() + 1);
    if cursor.is_none() {
        resources.push((
            "election_results".to_owned(),
            store::results::certified_name(id),
        ));
    }
    resources.extend(
        shown
            .iter()
            .map(|station| ("protocol".to_owned(), protocol_name(id, *station))),
    );
    let (checkpoint, evidence, tree_size) = match cursor {
        Some(cursor) => {
            let evidence = records.evidence_at(&resources, cursor.tree_size).await?;
            (None, evidence, cursor.tree_size)
        }
        None => {
            let (checkpoint, evidence) = records.evidence(&resources).await?;
            let tree_size = checkpoint.tree_size;
            (Some(checkpoint), evidence, tree_size)
        }
    };
    let (_, next_page_token) = page.finish(stations, |station| {
        BundleCursor::key(id, tree_size, *station)
    });
    Ok(BundlePage {
        checkpoint,
        evidence,
        next_page_token,
    })
}
