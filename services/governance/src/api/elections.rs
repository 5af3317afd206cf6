//! ScheduleElection, GetElection, ListElections, AddPollingStation,
//! ClosePollingStation, RegisterCandidate.

use std::collections::HashSet;

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::governance::v1::{self as pb, *};
use aimaq_proto::{date_from_proto, date_to_proto};
use aimaq_records::{Mutation, Records};
use aimaq_storage::paging::Page;
use aimaq_types::Iin;
use chrono::NaiveDate;
use tonic::Request;

use super::convert::kato;
use crate::domain::election::{
    ElectionStatus, Nomination, Office, WinnerRule, check_calendar, today_in_kazakhstan,
};
use crate::ops;
use crate::ops::elections::{Filter, NewCandidate, Schedule, Station, Target};
use crate::store::election::{
    ElectionRecord, StatusColumn, candidate_name, candidates, name, nomination_of, parse_name,
    polling_stations,
};

pub(super) fn date(
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

fn office_to_proto(office: Office) -> pb::ElectionOffice {
    match office {
        Office::Rural => pb::ElectionOffice::RuralAkim,
        Office::District => pb::ElectionOffice::DistrictAkim,
        Office::City => pb::ElectionOffice::CityAkim,
    }
}

fn rule_to_proto(rule: WinnerRule) -> pb::WinnerRule {
    match rule {
        WinnerRule::Plurality => pb::WinnerRule::Plurality,
        WinnerRule::AbsoluteMajority => pb::WinnerRule::AbsoluteMajority,
    }
}

fn status_to_proto(status: StatusColumn) -> pb::ElectionStatus {
    match ElectionStatus::from(status) {
        ElectionStatus::Scheduled => pb::ElectionStatus::Scheduled,
        ElectionStatus::Counting => pb::ElectionStatus::Counting,
        ElectionStatus::Certified => pb::ElectionStatus::Certified,
    }
}

pub(super) fn candidate_to_proto(model: &candidates::Model) -> Result<Candidate, Error> {
    Ok(Candidate {
        name: candidate_name(model.election_id, model.id),
        iin: model.iin.clone(),
        full_name: model.full_name.clone(),
        birth_date: Some(date_to_proto(model.birth_date)),
        nomination: match nomination_of(model)? {
            Nomination::Party => pb::Nomination::Party,
            Nomination::SelfNominated => pb::Nomination::Self_,
        } as i32,
        party: model.party.clone(),
    })
}

pub(super) fn station_to_proto(station: &polling_stations::Model) -> PollingStation {
    PollingStation {
        number: station.number,
        address: station.address.clone(),
        registered_voters: station.registered_voters,
        closed: station.closed,
        protocol_version: station.protocol_version,
    }
}

pub fn election_to_proto(record: &ElectionRecord) -> Result<Election, Error> {
    let e = &record.election;
    Ok(Election {
        name: name(e.id),
        territory_kato: e.territory_kato.clone(),
        office: office_to_proto(e.office.into()) as i32,
        call_date: Some(date_to_proto(e.call_date)),
        voting_date: Some(date_to_proto(e.voting_date)),
        nomination_close_date: Some(date_to_proto(e.nomination_close_date)),
        winner_rule: rule_to_proto(e.winner_rule.into()) as i32,
        pilot: e.pilot,
        previous_election: e.previous_election.map(name).unwrap_or_default(),
        round: e.round,
        repeat: e.is_repeat,
        status: status_to_proto(e.status) as i32,
        polling_stations: record.stations.iter().map(station_to_proto).collect(),
        candidates: record
            .candidates
            .iter()
            .map(candidate_to_proto)
            .collect::<Result<_, _>>()?,
        version: e.version,
        archival: e.archival,
    })
}

fn stations_from_proto(stations: &[PollingStation], field: &str) -> Result<Vec<Station>, Error> {
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

/// ScheduleElection's fields, checked.
fn checked_schedule(body: &ScheduleElectionRequest) -> Result<Schedule, Error> {
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
        Some(parse_name("previous_election", &body.previous_election)?)
    };
    Ok(Schedule {
        territory,
        office,
        rule,
        calendar,
        stations,
        previous,
        pilot: body.pilot,
        archival: body.archival,
    })
}

pub async fn schedule(
    records: &Records,
    request: &Request<ScheduleElectionRequest>,
) -> Result<ScheduleElectionResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::ElectionsRun)?;
    let body = request.get_ref();
    let asked = checked_schedule(body)?;
    if body.archival {
        caller.require(Scope::Admin)?;
    }
    caller.require_write_at(asked.territory)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    ops::elections::schedule(records, &mutation, &asked, |record| {
        Ok(ScheduleElectionResponse {
            election: Some(election_to_proto(record)?),
        })
    })
    .await
}

pub async fn get(
    records: &Records,
    request: &GetElectionRequest,
) -> Result<GetElectionResponse, Error> {
    let id = parse_name("name", &request.name)?;
    let record = ops::elections::get(records, id).await?;
    Ok(GetElectionResponse {
        election: Some(election_to_proto(&record)?),
    })
}

pub async fn list(
    records: &Records,
    request: &ListElectionsRequest,
) -> Result<ListElectionsResponse, Error> {
    let kato_prefix = if request.territory_kato.is_empty() {
        None
    } else {
        let code = kato("territory_kato", &request.territory_kato)?;
        // The territory itself and its subtree.
        Some(code.subtree_prefix())
    };
    let status = match pb::ElectionStatus::try_from(request.status) {
        Ok(pb::ElectionStatus::Unspecified) => None,
        Ok(pb::ElectionStatus::Scheduled) => Some(ElectionStatus::Scheduled),
        Ok(pb::ElectionStatus::Counting) => Some(ElectionStatus::Counting),
        Ok(pb::ElectionStatus::Certified) => Some(ElectionStatus::Certified),
        Err(_) => return Err(Error::invalid("status", "not an ElectionStatus value")),
    };
    let filter = Filter {
        kato_prefix,
        status,
        year: (request.year != 0).then_some(request.year),
        pilot_only: request.pilot_only,
    };
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let (elections, next_page_token) = ops::elections::list(records, filter, &page).await?;
    Ok(ListElectionsResponse {
        elections: elections
            .iter()
            .map(election_to_proto)
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}

/// The mutation of a change to one election, after the checks every such
/// change shares: the scope, and the election's territory within the token's
/// KATO prefix.
pub(super) async fn election_mutation<M: prost::Message>(
    records: &Records,
    request: &Request<M>,
    request_id: &str,
    election: i64,
) -> Result<Mutation, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::ElectionsRun)?;
    let territory = ops::elections::territory_of(records, election).await?;
    caller.require_write_at(territory)?;
    Mutation::of(request, request.get_ref(), request_id)
}

pub async fn add_station(
    records: &Records,
    request: &Request<AddPollingStationRequest>,
) -> Result<AddPollingStationResponse, Error> {
    let body = request.get_ref();
    let id = parse_name("election", &body.election)?;
    let station = body
        .station
        .as_ref()
        .ok_or_else(|| Error::invalid("station", "required"))?;
    let mut stations = stations_from_proto(std::slice::from_ref(station), "station")?;
    let station = stations
        .pop()
        .ok_or_else(|| Error::internal("a station checked is gone"))?;
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    let target = Target {
        id,
        expected_version: body.expected_version,
    };
    ops::elections::add_station(records, &mutation, (&target, &station), |record| {
        Ok(AddPollingStationResponse {
            election: Some(election_to_proto(record)?),
        })
    })
    .await
}

pub async fn close_station(
    records: &Records,
    request: &Request<ClosePollingStationRequest>,
) -> Result<ClosePollingStationResponse, Error> {
    let body = request.get_ref();
    let id = parse_name("election", &body.election)?;
    if body.reason.trim().is_empty() {
        return Err(Error::invalid(
            "reason",
            "required: why the station is closed",
        ));
    }
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    let target = Target {
        id,
        expected_version: body.expected_version,
    };
    let asked = (&target, body.station_number, body.reason.as_str());
    ops::elections::close_station(records, &mutation, asked, |record| {
        Ok(ClosePollingStationResponse {
            election: Some(election_to_proto(record)?),
        })
    })
    .await
}

/// RegisterCandidate's fields, checked.
fn checked_candidate(body: &RegisterCandidateRequest) -> Result<NewCandidate, Error> {
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
            Some(Nomination::Party)
        }
        Ok(pb::Nomination::Self_) => {
            violations.check(
                body.party.is_empty(),
                "party",
                "must be empty for self-nomination",
            );
            Some(Nomination::SelfNominated)
        }
        _ => {
            violations.add("nomination", "required: PARTY or SELF");
            None
        }
    };
    let (iin, nomination) = violations.then(|| Some((iin?, nomination?)))?;
    let birth_date = iin
        .birth_date()
        .map_err(|e| Error::invalid("iin", e.to_string()))?;
    Ok(NewCandidate {
        iin,
        birth_date,
        full_name: body.full_name.trim().to_owned(),
        nomination,
        party: body.party.trim().to_owned(),
    })
}

pub async fn register_candidate(
    records: &Records,
    request: &Request<RegisterCandidateRequest>,
) -> Result<RegisterCandidateResponse, Error> {
    let body = request.get_ref();
    let id = parse_name("election", &body.election)?;
    let candidate = checked_candidate(body)?;
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    ops::elections::register_candidate(records, &mutation, (id, &candidate), |stored| {
        Ok(RegisterCandidateResponse {
            candidate: Some(candidate_to_proto(stored)?),
        })
    })
    .await
}
