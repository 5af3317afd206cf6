//! Elections: scheduling, polling stations, candidates, protocols, results and
//! certification (which records the elected akim).

use std::collections::HashSet;

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::governance::v1::{self as pb, *};
use aimaq_proto::{date_from_proto, date_to_proto, timestamp_from_micros};
use aimaq_records::{Change, ChangeAction, Mutation, Records, within};
use aimaq_storage::paging::Page;
use aimaq_types::{Iin, Kato, basis_points};
use chrono::NaiveDate;
use tonic::Request;

use super::akims::akim_to_proto;
use super::convert::kato;
use crate::domain::election::{
    self as rules, Counts, Office, Outcome, Tally, WinnerRule, check_calendar, check_candidate_age,
    check_counts, elected_term_end, today_in_kazakhstan,
};
use crate::store;
use crate::store::election::{ElectionRecord, candidates, elections, protocols};

const RESOURCE: &str = "election";

pub fn election_name(id: i64) -> String {
    format!("elections/{id}")
}

fn candidate_name(election: i64, candidate: i64) -> String {
    format!("elections/{election}/candidates/{candidate}")
}

/// The id in an `elections/{id}` name.
pub fn election_id(field: &str, name: &str) -> Result<i64, Error> {
    name.strip_prefix("elections/")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::invalid(field, "must be an election name: elections/{id}"))
}

/// The candidate id in an `elections/{election}/candidates/{id}` name.
fn candidate_id(name: &str, election: i64) -> Option<i64> {
    name.strip_prefix(&format!("elections/{election}/candidates/"))?
        .parse()
        .ok()
}

fn date(
    field: &str,
    value: Option<&aimaq_proto::common::v1::Date>,
) -> Result<Option<NaiveDate>, Error> {
    value
        .map(|d| date_from_proto(d).ok_or_else(|| Error::invalid(field, "not a calendar date")))
        .transpose()
}

fn required_date(
    field: &str,
    value: Option<&aimaq_proto::common::v1::Date>,
) -> Result<NaiveDate, Error> {
    date(field, value)?.ok_or_else(|| Error::invalid(field, "required"))
}

fn office_from_proto(value: i32) -> Option<Office> {
    match pb::ElectionOffice::try_from(value).ok()? {
        pb::ElectionOffice::RuralAkim => Some(Office::Rural),
        pb::ElectionOffice::DistrictAkim => Some(Office::District),
        pb::ElectionOffice::CityAkim => Some(Office::City),
        pb::ElectionOffice::Unspecified => None,
    }
}

fn office_to_proto(text: &str) -> pb::ElectionOffice {
    match Office::parse(text) {
        Some(Office::Rural) => pb::ElectionOffice::RuralAkim,
        Some(Office::District) => pb::ElectionOffice::DistrictAkim,
        Some(Office::City) => pb::ElectionOffice::CityAkim,
        None => pb::ElectionOffice::Unspecified,
    }
}

fn rule_to_proto(text: &str) -> pb::WinnerRule {
    match WinnerRule::parse(text) {
        Some(WinnerRule::Plurality) => pb::WinnerRule::Plurality,
        Some(WinnerRule::AbsoluteMajority) => pb::WinnerRule::AbsoluteMajority,
        None => pb::WinnerRule::Unspecified,
    }
}

fn status_to_proto(text: &str) -> pb::ElectionStatus {
    match text {
        "scheduled" => pb::ElectionStatus::Scheduled,
        "counting" => pb::ElectionStatus::Counting,
        "certified" => pb::ElectionStatus::Certified,
        _ => pb::ElectionStatus::Unspecified,
    }
}

fn candidate_to_proto(model: &candidates::Model) -> Candidate {
    Candidate {
        name: candidate_name(model.election_id, model.id),
        iin: model.iin.clone(),
        full_name: model.full_name.clone(),
        birth_date: Some(date_to_proto(model.birth_date)),
        nomination: if model.nomination == "party" {
            pb::Nomination::Party
        } else {
            pb::Nomination::Self_
        } as i32,
        party: model.party.clone(),
    }
}

pub fn election_to_proto(record: &ElectionRecord) -> Election {
    let e = &record.election;
    Election {
        name: election_name(e.id),
        territory_kato: e.territory_kato.clone(),
        office: office_to_proto(&e.office) as i32,
        call_date: Some(date_to_proto(e.call_date)),
        voting_date: Some(date_to_proto(e.voting_date)),
        nomination_close_date: Some(date_to_proto(e.nomination_close_date)),
        winner_rule: rule_to_proto(&e.winner_rule) as i32,
        pilot: e.pilot,
        previous_election: e.previous_election.map(election_name).unwrap_or_default(),
        round: e.round,
        status: status_to_proto(&e.status) as i32,
        polling_stations: record
            .stations
            .iter()
            .map(|s| PollingStation {
                number: s.number,
                address: s.address.clone(),
                registered_voters: s.registered_voters,
                closed: s.closed,
                protocol_version: s.protocol_version,
            })
            .collect(),
        candidates: record.candidates.iter().map(candidate_to_proto).collect(),
        version: e.version,
        archival: e.archival,
    }
}

/// A stored protocol whose counts do not add up to a count: written before
/// counts were bounded, it is named rather than summed.
fn out_of_bounds(protocol: &protocols::Model) -> Error {
    Error::precondition(
        "BOUNDS",
        format!(
            "{}/protocols/{}",
            election_name(protocol.election_id),
            protocol.station_number
        ),
        "the stored protocol's counts are out of bounds; submit a corrected protocol",
    )
}

/// A protocol as answered; `registered` is its station's registered voters.
fn protocol_to_proto(registered: i64, protocol: &protocols::Model) -> Result<Protocol, Error> {
    let counts = store::election::counts(protocol)?;
    Ok(Protocol {
        election: election_name(protocol.election_id),
        station_number: protocol.station_number,
        version: protocol.version,
        registered_voters: registered,
        ballots_issued: protocol.ballots_issued,
        ballots_cast: counts
            .ballots_cast()
            .ok_or_else(|| out_of_bounds(protocol))?,
        candidate_votes: counts
            .votes
            .iter()
            .map(|(candidate, votes)| CandidateVotes {
                candidate: candidate_name(protocol.election_id, *candidate),
                votes: *votes,
            })
            .collect(),
        against_all: protocol.against_all,
        spoiled: protocol.spoiled,
        correction_reason: protocol.correction_reason.clone(),
        submitted_by: protocol.submitted_by.clone(),
        submit_time: Some(timestamp_from_micros(protocol.submitted_at_micros)),
    })
}

async fn load(
    db: &impl sea_orm::ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<ElectionRecord, Error> {
    store::election::find(db, id, lock)
        .await?
        .ok_or_else(|| Error::not_found(RESOURCE, election_name(id)))
}

fn check_version(record: &ElectionRecord, expected: i64) -> Result<(), Error> {
    if expected != 0 && expected != record.election.version {
        return Err(Error::stale_version(
            election_name(record.election.id),
            expected,
            record.election.version,
        ));
    }
    Ok(())
}

fn refuse_if_certified(election: &elections::Model) -> Result<(), Error> {
    if election.status == "certified" {
        return Err(Error::precondition(
            "STATUS",
            election_name(election.id),
            "the election is certified: its records are frozen",
        ));
    }
    Ok(())
}

fn election_change(record: &ElectionRecord, action: ChangeAction) -> Change {
    Change {
        resource_type: RESOURCE,
        resource_name: election_name(record.election.id),
        action,
        version: record.election.version,
    }
}

/// Bumps the election's version after a change to its stations; returns it as it
/// now stands, with its change event.
async fn bump(
    tx: &impl sea_orm::ConnectionTrait,
    record: &ElectionRecord,
) -> Result<(Election, Vec<Change>), Error> {
    store::election::touch(tx, &record.election, None, None).await?;
    let record = load(tx, record.election.id, false).await?;
    Ok((
        election_to_proto(&record),
        vec![election_change(&record, ChangeAction::Updated)],
    ))
}

fn stations_from_proto(
    stations: &[PollingStation],
    field: &str,
) -> Result<Vec<(i32, String, i64)>, Error> {
    let mut violations = Violations::new();
    let mut numbers = HashSet::new();
    for (index, station) in stations.iter().enumerate() {
        let at = format!("{field}[{index}]");
        violations.check(
            station.number > 0,
            format!("{at}.number"),
            "must be positive",
        );
        violations.check(
            numbers.insert(station.number),
            format!("{at}.number"),
            "appears twice",
        );
        if let Err(why) = aimaq_types::bounds::people(station.registered_voters) {
            violations.add(format!("{at}.registered_voters"), why);
        }
        violations.check(
            station.address.chars().count() <= 300,
            format!("{at}.address"),
            "at most 300 characters",
        );
    }
    violations.into_result()?;
    Ok(stations
        .iter()
        .map(|s| (s.number, s.address.clone(), s.registered_voters))
        .collect())
}

pub async fn schedule(
    records: &Records,
    request: &Request<ScheduleElectionRequest>,
) -> Result<ScheduleElectionResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::ElectionsRun)?;
    let body = request.get_ref();
    let territory = kato("territory_kato", &body.territory_kato)?;
    let office = office_from_proto(body.office)
        .ok_or_else(|| Error::invalid("office", "required: one of the ElectionOffice values"))?;
    let rule = match pb::WinnerRule::try_from(body.winner_rule) {
        Ok(pb::WinnerRule::Unspecified) => WinnerRule::Plurality,
        Ok(pb::WinnerRule::Plurality) => WinnerRule::Plurality,
        Ok(pb::WinnerRule::AbsoluteMajority) => WinnerRule::AbsoluteMajority,
        Err(_) => return Err(Error::invalid("winner_rule", "not a WinnerRule value")),
    };
    let calendar = check_calendar(
        office,
        required_date("call_date", body.call_date.as_ref())?,
        required_date("voting_date", body.voting_date.as_ref())?,
        date("nomination_close_date", body.nomination_close_date.as_ref())?,
        (!body.archival).then(today_in_kazakhstan),
    )?;
    let stations = stations_from_proto(&body.polling_stations, "polling_stations")?;
    let previous = if body.previous_election.is_empty() {
        None
    } else {
        Some(election_id("previous_election", &body.previous_election)?)
    };
    if body.archival {
        caller.require(Scope::Admin)?;
    }
    caller.require_write_at(territory)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let (stations, pilot, archival) = (&stations, body.pilot, body.archival);
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let place = store::territory::require(tx, territory).await?;
                if !office.fits(place.draft.kind) {
                    return Err(Error::invalid(
                        "office",
                        format!(
                            "a {} is not the office of a {}",
                            office.as_str(),
                            place.draft.kind.as_str()
                        ),
                    ));
                }
                let round = match previous {
                    Some(id) => {
                        let earlier = load(tx, id, false).await?;
                        if earlier.election.territory_kato != territory.to_string() {
                            return Err(Error::invalid(
                                "previous_election",
                                "must be an election of the same territory",
                            ));
                        }
                        earlier.election.round + 1
                    }
                    None => 1,
                };
                let id = store::election::insert(
                    tx,
                    store::election::NewElection {
                        territory_kato: territory.to_string(),
                        office: office.as_str(),
                        call: calendar.call,
                        voting: calendar.voting,
                        nomination_close: calendar.nomination_close,
                        winner_rule: rule.as_str(),
                        pilot,
                        previous_election: previous,
                        round,
                        archival,
                        stations: stations.clone(),
                    },
                )
                .await?;
                let record = load(tx, id, false).await?;
                let change = election_change(&record, ChangeAction::Created);
                Ok((
                    ScheduleElectionResponse {
                        election: Some(election_to_proto(&record)),
                    },
                    vec![change],
                ))
            })
        })
        .await
}

pub async fn get(
    records: &Records,
    request: &GetElectionRequest,
) -> Result<GetElectionResponse, Error> {
    let id = election_id("name", &request.name)?;
    let record = load(records.database().connection(), id, false).await?;
    Ok(GetElectionResponse {
        election: Some(election_to_proto(&record)),
    })
}

pub async fn list(
    records: &Records,
    request: &ListElectionsRequest,
) -> Result<ListElectionsResponse, Error> {
    let prefix = if request.territory_kato.is_empty() {
        None
    } else {
        let code = kato("territory_kato", &request.territory_kato)?;
        // The territory itself and its subtree.
        Some(code.subtree_prefix())
    };
    let status = match pb::ElectionStatus::try_from(request.status) {
        Ok(pb::ElectionStatus::Unspecified) => None,
        Ok(pb::ElectionStatus::Scheduled) => Some("scheduled"),
        Ok(pb::ElectionStatus::Counting) => Some("counting"),
        Ok(pb::ElectionStatus::Certified) => Some("certified"),
        Err(_) => return Err(Error::invalid("status", "not an ElectionStatus value")),
    };
    let year = (request.year != 0).then_some(request.year);
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let db = records.database().connection();
    let (rows, next_page_token) =
        store::election::list(db, prefix, status, year, request.pilot_only, &page).await?;
    let elections = store::election::with_details(db, rows)
        .await?
        .iter()
        .map(election_to_proto)
        .collect();
    Ok(ListElectionsResponse {
        elections,
        next_page_token,
    })
}

/// The mutation of a change to one election, after the checks every such
/// change shares: the scope, and the election's territory within the token's
/// KATO prefix.
async fn election_mutation<M: prost::Message>(
    records: &Records,
    request: &Request<M>,
    request_id: &str,
    election: i64,
) -> Result<Mutation, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::ElectionsRun)?;
    let row = store::election::find_row(records.database().connection(), election, false)
        .await?
        .ok_or_else(|| Error::not_found(RESOURCE, election_name(election)))?;
    let territory = Kato::parse(&row.territory_kato).map_err(Error::internal)?;
    caller.require_write_at(territory)?;
    Mutation::of(request, request.get_ref(), request_id)
}

pub async fn add_station(
    records: &Records,
    request: &Request<AddPollingStationRequest>,
) -> Result<AddPollingStationResponse, Error> {
    let body = request.get_ref();
    let id = election_id("election", &body.election)?;
    let station = body
        .station
        .as_ref()
        .ok_or_else(|| Error::invalid("station", "required"))?;
    let stations = stations_from_proto(std::slice::from_ref(station), "station")?;
    let stations = &stations;
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let record = load(tx, id, true).await?;
                refuse_if_certified(&record.election)?;
                check_version(&record, body.expected_version)?;
                if record.stations.iter().any(|s| s.number == station.number) {
                    return Err(Error::already_exists(
                        "polling_station",
                        format!("{}/stations/{}", election_name(id), station.number),
                        format!("station {} is already part of the election", station.number),
                    ));
                }
                let (number, address, registered) = stations[0].clone();
                store::election::insert_station(tx, id, number, address, registered).await?;
                let (election, changes) = bump(tx, &record).await?;
                Ok((
                    AddPollingStationResponse {
                        election: Some(election),
                    },
                    changes,
                ))
            })
        })
        .await
}

pub async fn close_station(
    records: &Records,
    request: &Request<ClosePollingStationRequest>,
) -> Result<ClosePollingStationResponse, Error> {
    let body = request.get_ref();
    let id = election_id("election", &body.election)?;
    if body.reason.trim().is_empty() {
        return Err(Error::invalid(
            "reason",
            "required: why the station is closed",
        ));
    }
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let record = load(tx, id, true).await?;
                refuse_if_certified(&record.election)?;
                check_version(&record, body.expected_version)?;
                let station = record
                    .stations
                    .iter()
                    .find(|s| s.number == body.station_number)
                    .ok_or_else(|| {
                        Error::invalid("station_number", "not a station of this election")
                    })?;
                if station.protocol_version > 0 {
                    return Err(Error::precondition(
                        "STATION_REPORTED",
                        format!("{}/stations/{}", election_name(id), station.number),
                        "the station has a protocol; it cannot be closed",
                    ));
                }
                store::election::close_station(tx, station, &body.reason).await?;
                let (election, changes) = bump(tx, &record).await?;
                Ok((
                    ClosePollingStationResponse {
                        election: Some(election),
                    },
                    changes,
                ))
            })
        })
        .await
}

pub async fn register_candidate(
    records: &Records,
    request: &Request<RegisterCandidateRequest>,
) -> Result<RegisterCandidateResponse, Error> {
    let body = request.get_ref();
    let id = election_id("election", &body.election)?;
    let mut violations = Violations::new();
    let iin = violations.take("iin", Iin::parse(&body.iin));
    violations.check(
        !body.full_name.trim().is_empty() && body.full_name.chars().count() <= 200,
        "full_name",
        "required, at most 200 characters",
    );
    let nomination = match pb::Nomination::try_from(body.nomination) {
        Ok(pb::Nomination::Party) => {
            violations.check(
                !body.party.trim().is_empty(),
                "party",
                "required for a party nomination",
            );
            "party"
        }
        Ok(pb::Nomination::Self_) => {
            violations.check(
                body.party.is_empty(),
                "party",
                "must be empty for self-nomination",
            );
            "self"
        }
        _ => {
            violations.add("nomination", "required: PARTY or SELF");
            ""
        }
    };
    let iin = violations.then(|| iin)?;
    let birth_date = iin
        .birth_date()
        .map_err(|e| Error::invalid("iin", e.to_string()))?;
    let today = today_in_kazakhstan();
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let election = store::election::find_row(tx, id, true)
                    .await?
                    .ok_or_else(|| Error::not_found(RESOURCE, election_name(id)))?;
                refuse_if_certified(&election)?;
                let election = &election;
                let closed_by_date = !election.archival && today > election.nomination_close_date;
                if election.status != "scheduled" || closed_by_date {
                    return Err(Error::precondition(
                        "NOMINATION_OPEN",
                        election_name(id),
                        format!("nominations closed on {}", election.nomination_close_date),
                    ));
                }
                check_candidate_age(iin, election.voting_date)?;
                let candidates = store::election::candidates_of(tx, id).await?;
                if candidates.iter().any(|c| c.iin == iin.to_string()) {
                    return Err(Error::already_exists(
                        "candidate",
                        iin,
                        format!("{iin} is already a candidate in {}", election_name(id)),
                    ));
                }
                let candidate = store::election::insert_candidate(
                    tx,
                    candidates::Model {
                        id: 0,
                        election_id: id,
                        iin: iin.to_string(),
                        full_name: body.full_name.trim().to_owned(),
                        birth_date,
                        nomination: nomination.to_owned(),
                        party: body.party.trim().to_owned(),
                    },
                )
                .await?;
                let election = store::election::touch(tx, election, None, None).await?;
                Ok((
                    RegisterCandidateResponse {
                        candidate: Some(candidate_to_proto(&candidate)),
                    },
                    vec![
                        Change {
                            resource_type: "candidate",
                            resource_name: candidate_name(id, candidate.id),
                            action: ChangeAction::Created,
                            version: 1,
                        },
                        Change {
                            resource_type: RESOURCE,
                            resource_name: election_name(id),
                            action: ChangeAction::Updated,
                            version: election.version,
                        },
                    ],
                ))
            })
        })
        .await
}

pub async fn submit_protocol(
    records: &Records,
    request: &Request<SubmitProtocolRequest>,
) -> Result<SubmitProtocolResponse, Error> {
    let body = request.get_ref();
    let id = election_id("election", &body.election)?;
    if body.expected_version < 0 {
        return Err(Error::invalid("expected_version", "must not be negative"));
    }
    if body.expected_version > 0 && body.correction_reason.trim().is_empty() {
        return Err(Error::invalid(
            "correction_reason",
            "required for a correction",
        ));
    }
    let caller = Caller::of(request)?.subject.clone();
    let caller = &caller;
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    records.apply(&mutation, |tx| within(tx, async move |tx| {
        // Only what a protocol needs: the election row (locked against a
        // concurrent certification), the station and the candidates.
        let election = store::election::find_row(tx, id, true)
            .await?
            .ok_or_else(|| Error::not_found(RESOURCE, election_name(id)))?;
        refuse_if_certified(&election)?;
        let station = store::election::find_station(tx, id, body.station_number)
            .await?
            .ok_or_else(|| Error::invalid("station_number", "not a station of this election"))?;
        let station = &station;
        let today = today_in_kazakhstan();
        if !election.archival && today < election.voting_date {
            return Err(Error::precondition(
                "VOTING_HELD",
                election_name(id),
                format!("voting day is {}: protocols come after it", election.voting_date),
            ));
        }
        if station.closed {
            return Err(Error::precondition(
                "STATION_OPEN",
                format!("{}/stations/{}", election_name(id), station.number),
                "the station is closed",
            ));
        }
        if body.expected_version != station.protocol_version {
            return Err(Error::Aborted(if station.protocol_version == 0 {
                format!("station {} has no protocol yet: send expected_version 0", station.number)
            } else {
                format!(
                    "station {} has protocol version {}: a correction sends expected_version {} and a correction_reason",
                    station.number, station.protocol_version, station.protocol_version
                )
            }));
        }
        let mut violations = Violations::new();
        let mut votes = Vec::new();
        for (index, entry) in body.candidate_votes.iter().enumerate() {
            match candidate_id(&entry.candidate, id) {
                Some(candidate) => votes.push((candidate, entry.votes)),
                None => violations.add(
                    format!("candidate_votes[{index}].candidate"),
                    "not a candidate of this election",
                ),
            }
        }
        violations.into_result()?;
        let counts = Counts {
            ballots_issued: body.ballots_issued,
            votes,
            against_all: body.against_all,
            spoiled: body.spoiled,
        };
        let candidates: HashSet<i64> = store::election::candidates_of(tx, id)
            .await?
            .iter()
            .map(|c| c.id)
            .collect();
        check_counts(&counts, station.registered_voters, &candidates)?;
        let now = chrono::Utc::now().timestamp_micros();
        let protocol = store::election::insert_protocol(
            tx,
            station,
            &counts,
            body.correction_reason.trim(),
            caller,
            now,
        )
        .await?;
        let status = (election.status == "scheduled").then_some("counting");
        let election = store::election::touch(tx, &election, status, None).await?;
        Ok((
            SubmitProtocolResponse {
                protocol: Some(protocol_to_proto(station.registered_voters, &protocol)?),
            },
            vec![
                Change {
                    resource_type: "protocol",
                    resource_name: format!("{}/stations/{}/protocol", election_name(id), station.number),
                    action: if protocol.version == 1 {
                        ChangeAction::Created
                    } else {
                        ChangeAction::Updated
                    },
                    version: protocol.version,
                },
                Change {
                    resource_type: RESOURCE,
                    resource_name: election_name(id),
                    action: ChangeAction::Updated,
                    version: election.version,
                },
            ],
        ))
    }))
    .await
}

pub async fn list_protocols(
    records: &Records,
    request: &ListProtocolsRequest,
) -> Result<ListProtocolsResponse, Error> {
    let id = election_id("election", &request.election)?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let db = records.database().connection();
    let record = load(db, id, false).await?;
    let station = (request.station_number != 0).then_some(request.station_number);
    let (rows, next_page_token) =
        store::election::protocols(db, &record, station, request.include_history, &page).await?;
    Ok(ListProtocolsResponse {
        protocols: rows
            .iter()
            .map(|p| {
                let registered = record
                    .stations
                    .iter()
                    .find(|s| s.number == p.station_number)
                    .map_or(0, |s| s.registered_voters);
                protocol_to_proto(registered, p)
            })
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}

/// The tally of the accepted protocols and the outcome under the election's rule.
async fn results(
    db: &impl sea_orm::ConnectionTrait,
    record: &ElectionRecord,
) -> Result<(ElectionResults, Outcome), Error> {
    let protocols = store::election::current_protocols(db, record).await?;
    let mut tally = Tally::default();
    for candidate in &record.candidates {
        tally.votes.insert(candidate.id, 0);
    }
    let mut registered_reporting = 0;
    let mut ballots_issued = 0;
    for protocol in &protocols {
        let registered = record
            .stations
            .iter()
            .find(|s| s.number == protocol.station_number)
            .map_or(0, |s| s.registered_voters);
        let added = tally
            .add(&store::election::counts(protocol)?)
            .and_then(|()| {
                ballots_issued = i64::checked_add(ballots_issued, protocol.ballots_issued)?;
                registered_reporting = i64::checked_add(registered_reporting, registered)?;
                Some(())
            });
        added.ok_or_else(|| out_of_bounds(protocol))?;
    }
    let rule = WinnerRule::parse(&record.election.winner_rule).unwrap_or_default();
    let outcome = rules::outcome(rule, &tally);
    // Every protocol was added, so the total fits.
    let cast = tally.ballots_cast().unwrap_or(i64::MAX);
    let id = record.election.id;
    let share = |votes: i64| i32::try_from(basis_points(votes, cast)).unwrap_or(i32::MAX);
    let name_of = |candidate: i64| candidate_name(id, candidate);
    let full_name = |candidate: i64| {
        record
            .candidates
            .iter()
            .find(|c| c.id == candidate)
            .map(|c| c.full_name.clone())
            .unwrap_or_default()
    };
    let outcome_proto = match &outcome {
        Outcome::Winner(winner) => ElectionOutcome {
            kind: OutcomeKind::Winner as i32,
            winner: name_of(*winner),
            runoff_candidates: Vec::new(),
            reason: format!(
                "{} leads under the {} rule",
                full_name(*winner),
                rule.as_str()
            ),
        },
        Outcome::Runoff(first, second) => ElectionOutcome {
            kind: OutcomeKind::RunoffNeeded as i32,
            winner: String::new(),
            runoff_candidates: vec![name_of(*first), name_of(*second)],
            reason: "no candidate has more than half of the ballots cast".into(),
        },
        Outcome::Repeat(reason) => ElectionOutcome {
            kind: OutcomeKind::RepeatNeeded as i32,
            winner: String::new(),
            runoff_candidates: Vec::new(),
            reason: reason.clone(),
        },
    };
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    Ok((
        ElectionResults {
            election: election_name(id),
            stations_reported: count(protocols.len()),
            stations_closed: count(record.stations.iter().filter(|s| s.closed).count()),
            stations_total: count(record.stations.len()),
            registered_voters: registered_reporting,
            ballots_issued,
            ballots_cast: cast,
            turnout_bp: i32::try_from(basis_points(cast, registered_reporting)).unwrap_or(i32::MAX),
            candidates: tally
                .ranking()
                .into_iter()
                .map(|(candidate, votes)| CandidateTally {
                    candidate: name_of(candidate),
                    full_name: full_name(candidate),
                    votes,
                    share_bp: share(votes),
                })
                .collect(),
            against_all: tally.against_all,
            against_all_share_bp: share(tally.against_all),
            spoiled: tally.spoiled,
            outcome: Some(outcome_proto),
            r#final: record.election.status == "certified",
        },
        outcome,
    ))
}

pub async fn get_results(
    records: &Records,
    request: &GetElectionResultsRequest,
) -> Result<GetElectionResultsResponse, Error> {
    let id = election_id("election", &request.election)?;
    let db = records.database().connection();
    let record = load(db, id, false).await?;
    Ok(GetElectionResultsResponse {
        results: Some(results(db, &record).await?.0),
    })
}

pub async fn certify(
    records: &Records,
    request: &Request<CertifyElectionRequest>,
) -> Result<CertifyElectionResponse, Error> {
    let body = request.get_ref();
    let id = election_id("election", &body.election)?;
    let term_start = date("term_start", body.term_start.as_ref())?;
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let record = load(tx, id, true).await?;
                let (results, outcome) = results(tx, &record).await?;
                if record.election.status == "certified" {
                    // Certifying again changes nothing.
                    let akim = store::akim::history(tx, &record.election.territory_kato)
                        .await?
                        .into_iter()
                        .find(|a| a.election_id == Some(id));
                    return Ok((
                        CertifyElectionResponse {
                            election: Some(election_to_proto(&record)),
                            results: Some(results),
                            akim: akim.as_ref().map(akim_to_proto),
                        },
                        Vec::new(),
                    ));
                }
                check_version(&record, body.expected_version)?;
                let waiting: Vec<String> = record
                    .stations
                    .iter()
                    .filter(|s| s.protocol_version == 0 && !s.closed)
                    .map(|s| s.number.to_string())
                    .collect();
                if record.stations.is_empty() || !waiting.is_empty() {
                    return Err(Error::precondition(
                        "ALL_STATIONS_REPORTED",
                        election_name(id),
                        if record.stations.is_empty() {
                            "the election has no polling stations".to_owned()
                        } else {
                            format!("stations without a protocol: {}", waiting.join(", "))
                        },
                    ));
                }
                let summary = results
                    .outcome
                    .as_ref()
                    .map(|o| o.reason.clone())
                    .unwrap_or_default();
                let election =
                    store::election::touch(tx, &record.election, Some("certified"), Some(summary))
                        .await?;
                let mut changes = vec![Change {
                    resource_type: RESOURCE,
                    resource_name: election_name(id),
                    action: ChangeAction::Updated,
                    version: election.version,
                }];
                let akim = match outcome {
                    Outcome::Winner(winner) => {
                        let candidate = record
                            .candidates
                            .iter()
                            .find(|c| c.id == winner)
                            .ok_or_else(|| Error::internal("the winner is not a candidate"))?;
                        let history: Vec<(String, bool)> =
                            store::akim::history(tx, &record.election.territory_kato)
                                .await?
                                .into_iter()
                                .map(|a| (a.iin, a.mandate == "elected"))
                                .collect();
                        rules::check_term_limit(&history, &candidate.iin)?;
                        let start =
                            term_start.unwrap_or(today_in_kazakhstan() + chrono::Days::new(1));
                        let (akim, predecessor) = store::akim::appoint(
                            tx,
                            store::akim::NewAkim {
                                territory_kato: &record.election.territory_kato,
                                iin: &candidate.iin,
                                full_name: &candidate.full_name,
                                elected: true,
                                term_start: start,
                                term_end: Some(elected_term_end(start)),
                                election_id: Some(id),
                            },
                        )
                        .await?;
                        for holder in predecessor.iter().chain([&akim]) {
                            changes.push(Change {
                                resource_type: "akim",
                                resource_name: format!("akims/{}", holder.id),
                                action: if holder.id == akim.id {
                                    ChangeAction::Created
                                } else {
                                    ChangeAction::Updated
                                },
                                version: holder.version,
                            });
                        }
                        Some(akim)
                    }
                    _ => None,
                };
                let record = load(tx, id, false).await?;
                let (results, _) = self::results(tx, &record).await?;
                Ok((
                    CertifyElectionResponse {
                        election: Some(election_to_proto(&record)),
                        results: Some(results),
                        akim: akim.as_ref().map(akim_to_proto),
                    },
                    changes,
                ))
            })
        })
        .await
}
