//! Elections: scheduling, polling stations and candidates. Every change to an
//! election locks its row and moves its version.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::{Iin, Kato};
use chrono::NaiveDate;
use sea_orm::ConnectionTrait;

use crate::domain::election::{
    Calendar, ElectionStatus, Nomination, Office, WinnerRule, check_candidate_age,
    check_term_limit, today_in_kazakhstan,
};
use crate::domain::results::{FollowUp, follow_up};
use crate::store;
use crate::store::election::{
    ElectionRecord, StatusColumn, candidate_name, candidates, elections, name, nomination_text,
    station_name,
};

const RESOURCE: &str = "election";

/// The election with its stations and candidates, or NOT_FOUND.
pub async fn load(db: &impl ConnectionTrait, id: i64, lock: bool) -> Result<ElectionRecord, Error> {
    store::election::find(db, id, lock)
        .await?
        .ok_or_else(|| Error::not_found(RESOURCE, name(id)))
}

/// The election's own row, or NOT_FOUND.
pub async fn row(
    db: &impl ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<elections::Model, Error> {
    store::election::find_row(db, id, lock)
        .await?
        .ok_or_else(|| Error::not_found(RESOURCE, name(id)))
}

/// The territory of an election, for the caller's scope to be checked.
pub async fn territory_of(records: &Records, id: i64) -> Result<Kato, Error> {
    let election = row(records.database().connection(), id, false).await?;
    Kato::parse(&election.territory_kato).map_err(Error::internal)
}

/// Checks the version a change expects (0: any).
pub fn check_version(record: &ElectionRecord, expected: i64) -> Result<(), Error> {
    if expected != 0 && expected != record.election.version {
        return Err(Error::stale_version(
            name(record.election.id),
            expected,
            record.election.version,
        ));
    }
    Ok(())
}

pub fn refuse_if_certified(election: &elections::Model) -> Result<(), Error> {
    if election.status == StatusColumn::Certified {
        return Err(Error::precondition(
            "STATUS",
            name(election.id),
            "the election is certified: its records are frozen",
        ));
    }
    Ok(())
}

/// The change event of the election at its current version; `election` is
/// its row as just written, which the event's state is made from.
pub fn updated(election: &elections::Model) -> Change {
    let change = Change {
        resource_type: RESOURCE,
        resource_name: name(election.id),
        action: ChangeAction::Updated,
        version: election.version,
        resource: None,
    };
    change.holding(election.clone())
}

/// The change event of a polling station (stations have no version of
/// their own: the election's moves with them).
fn station_change(election: i64, number: i32, action: ChangeAction) -> Change {
    Change {
        resource_type: "polling_station",
        resource_name: station_name(election, number),
        action,
        version: 0,
        resource: None,
    }
}

/// Bumps the election's version after a change to its stations; returns it as it
/// now stands, with its change event.
async fn bump(
    tx: &impl ConnectionTrait,
    record: &ElectionRecord,
) -> Result<(ElectionRecord, Vec<Change>), Error> {
    store::election::touch(tx, &record.election, None, None).await?;
    let record = load(tx, record.election.id, false).await?;
    let change = updated(&record.election);
    Ok((record, vec![change]))
}

/// A polling station as asked: number, address, registered voters.
pub type Station = (i32, String, i64);

/// ScheduleElection, checked.
pub struct Schedule {
    pub territory: Kato,
    pub office: Office,
    pub rule: WinnerRule,
    pub calendar: Calendar,
    pub stations: Vec<Station>,
    pub previous: Option<i64>,
    pub pilot: bool,
    pub archival: bool,
}

/// What an election following `previous` is (a runoff or a repeat), which
/// must be of the same territory; a first round when it follows none.
async fn follow_up_of(
    tx: &impl ConnectionTrait,
    previous: Option<i64>,
    territory: Kato,
) -> Result<FollowUp, Error> {
    let Some(id) = previous else {
        return Ok(FollowUp {
            round: 1,
            repeat: false,
        });
    };
    let earlier = load(tx, id, false).await?;
    if earlier.election.territory_kato != territory.to_string() {
        return Err(Error::invalid(
            "previous_election",
            "must be an election of the same territory",
        ));
    }
    let certified = ElectionStatus::from(earlier.election.status) == ElectionStatus::Certified;
    let results = store::results::results_of(tx, &earlier).await?;
    follow_up(
        &name(id),
        earlier.election.round,
        certified,
        &results.outcome,
    )
}

pub async fn schedule<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Schedule,
    answer: impl Fn(&ElectionRecord) -> Result<R, Error>,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let place = store::territory::require(tx, asked.territory).await?;
                if !asked.office.fits(place.draft.kind) {
                    return Err(Error::invalid(
                        "office",
                        format!(
                            "a {} is not the office of a {}",
                            asked.office.as_str(),
                            place.draft.kind.as_str()
                        ),
                    ));
                }
                let follows = follow_up_of(tx, asked.previous, asked.territory).await?;
                let new = store::election::NewElection {
                    territory_kato: asked.territory.to_string(),
                    office: asked.office,
                    call: asked.calendar.call,
                    voting: asked.calendar.voting,
                    nomination_close: asked.calendar.nomination_close,
                    winner_rule: asked.rule,
                    pilot: asked.pilot,
                    previous_election: asked.previous,
                    round: follows.round,
                    repeat: follows.repeat,
                    archival: asked.archival,
                    stations: asked.stations.clone(),
                };
                let id = store::election::insert(tx, new).await?;
                let record = load(tx, id, false).await?;
                let created = Change {
                    resource_type: RESOURCE,
                    resource_name: name(id),
                    action: ChangeAction::Created,
                    version: record.election.version,
                    resource: None,
                };
                let stations = record
                    .stations
                    .iter()
                    .map(|station| station_change(id, station.number, ChangeAction::Created));
                let changes = std::iter::once(created).chain(stations).collect();
                Ok((answer(&record)?, changes))
            })
        })
        .await
}

pub async fn get(records: &Records, id: i64) -> Result<ElectionRecord, Error> {
    load(records.database().connection(), id, false).await
}

/// ListElections' filter.
pub struct Filter {
    pub kato_prefix: Option<String>,
    pub status: Option<ElectionStatus>,
    pub year: Option<i32>,
    pub pilot_only: bool,
}

pub async fn list(
    records: &Records,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<ElectionRecord>, String), Error> {
    let db = records.database().connection();
    let (rows, next) = store::election::list(
        db,
        filter.kato_prefix,
        filter.status,
        filter.year,
        filter.pilot_only,
        page,
    )
    .await?;
    Ok((store::election::with_details(db, rows).await?, next))
}

/// A change to one election at the version it expects.
pub struct Target {
    pub id: i64,
    pub expected_version: i64,
}

/// The election a change is made to, locked: not certified, at the version
/// the change expects.
async fn open_for_change(
    tx: &impl ConnectionTrait,
    target: &Target,
) -> Result<ElectionRecord, Error> {
    let record = load(tx, target.id, true).await?;
    refuse_if_certified(&record.election)?;
    check_version(&record, target.expected_version)?;
    Ok(record)
}

pub async fn add_station<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    (target, station): (&Target, &Station),
    answer: impl Fn(&ElectionRecord) -> Result<R, Error>,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let id = target.id;
                let record = open_for_change(tx, target).await?;
                let (number, address, registered) = station.clone();
                if record.stations.iter().any(|s| s.number == number) {
                    return Err(Error::already_exists(
                        "polling_station",
                        station_name(id, number),
                        format!("station {number} is already part of the election"),
                    ));
                }
                store::election::insert_station(tx, id, number, address, registered).await?;
                let (record, mut changes) = bump(tx, &record).await?;
                changes.push(station_change(id, number, ChangeAction::Created));
                Ok((answer(&record)?, changes))
            })
        })
        .await
}

pub async fn close_station<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    (target, number, reason): (&Target, i32, &str),
    answer: impl Fn(&ElectionRecord) -> Result<R, Error>,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let id = target.id;
                let record = open_for_change(tx, target).await?;
                let station = record
                    .stations
                    .iter()
                    .find(|s| s.number == number)
                    .ok_or_else(|| {
                        Error::invalid("station_number", "not a station of this election")
                    })?;
                if station.protocol_version > 0 {
                    return Err(Error::precondition(
                        "STATION_REPORTED",
                        station_name(id, station.number),
                        "the station has a protocol; it cannot be closed",
                    ));
                }
                store::election::close_station(tx, station, reason).await?;
                let closed = station_change(id, station.number, ChangeAction::Updated);
                let (record, mut changes) = bump(tx, &record).await?;
                changes.push(closed);
                Ok((answer(&record)?, changes))
            })
        })
        .await
}

/// RegisterCandidate, checked.
pub struct NewCandidate {
    pub iin: Iin,
    pub birth_date: NaiveDate,
    pub full_name: String,
    pub nomination: Nomination,
    pub party: String,
}

/// Checks that `election` takes nominations on `today`.
fn check_nominations_open(election: &elections::Model, today: NaiveDate) -> Result<(), Error> {
    let closed_by_date = !election.archival && today > election.nomination_close_date;
    if election.status != StatusColumn::Scheduled || closed_by_date {
        return Err(Error::precondition(
            "NOMINATION_OPEN",
            name(election.id),
            format!("nominations closed on {}", election.nomination_close_date),
        ));
    }
    Ok(())
}

pub async fn register_candidate<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    (id, candidate): (i64, &NewCandidate),
    answer: impl Fn(&candidates::Model) -> Result<R, Error>,
) -> Result<R, Error> {
    let answer = &answer;
    let today = today_in_kazakhstan();
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let election = row(tx, id, true).await?;
                refuse_if_certified(&election)?;
                check_nominations_open(&election, today)?;
                let iin = candidate.iin;
                check_candidate_age(iin, election.voting_date)?;
                // Refused now, not only when the election would be certified.
                let post = store::akim::mandates(tx, &election.territory_kato).await?;
                check_term_limit(&post, &iin.to_string())?;
                let registered = store::election::candidates_of(tx, id).await?;
                if registered.iter().any(|c| c.iin == iin.to_string()) {
                    return Err(Error::already_exists(
                        "candidate",
                        iin,
                        format!("{iin} is already a candidate in {}", name(id)),
                    ));
                }
                let row = candidates::Model {
                    id: 0,
                    election_id: id,
                    iin: iin.to_string(),
                    full_name: candidate.full_name.clone(),
                    birth_date: candidate.birth_date,
                    nomination: nomination_text(candidate.nomination).to_owned(),
                    party: candidate.party.clone(),
                };
                let stored = store::election::insert_candidate(tx, row).await?;
                let election = store::election::touch(tx, &election, None, None).await?;
                let created = Change {
                    resource_type: "candidate",
                    resource_name: candidate_name(id, stored.id),
                    action: ChangeAction::Created,
                    version: 1,
                    resource: None,
                };
                Ok((answer(&stored)?, vec![created, updated(&election)]))
            })
        })
        .await
}
