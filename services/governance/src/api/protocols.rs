//! SubmitProtocol, ListProtocols, GetElectionResults, CertifyElection.

use aimaq_auth::Caller;
use aimaq_error::Error;
use aimaq_proto::governance::v1::*;
use aimaq_proto::timestamp_from_micros;
use aimaq_records::Records;
use aimaq_storage::paging::Page;
use aimaq_types::basis_points;
use tonic::Request;

use super::akims::akim_to_proto;
use super::elections::{date, election_mutation, election_to_proto};
use crate::domain::results::Outcome;
use crate::domain::results::Results;
use crate::ops;
use crate::ops::protocols::{Certify, Submission, full_name, out_of_bounds};
use crate::store;
use crate::store::election::{
    ElectionRecord, StatusColumn, candidate_name, name, parse_name, protocols,
};

/// A protocol as answered; `registered` is its station's registered voters.
pub(super) fn protocol_to_proto(
    registered: i64,
    protocol: &protocols::Model,
) -> Result<Protocol, Error> {
    let counts = store::election::counts(protocol)?;
    let election = protocol.election_id;
    Ok(Protocol {
        election: name(election),
        station_number: protocol.station_number,
        version: protocol.version,
        registered_voters: registered,
        ballots_issued: protocol.ballots_issued,
        ballots_cast: counts
            .ballots_cast()
            .ok_or_else(|| out_of_bounds(election, protocol.station_number))?,
        candidate_votes: counts
            .votes
            .iter()
            .map(|(candidate, votes)| CandidateVotes {
                candidate: candidate_name(election, *candidate),
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

fn outcome_to_proto(record: &ElectionRecord, results: &Results) -> ElectionOutcome {
    let id = record.election.id;
    let reason = results.reason(|candidate| full_name(record, candidate));
    let (kind, winner, runoff_candidates) = match &results.outcome {
        Outcome::Winner(winner) => (OutcomeKind::Winner, candidate_name(id, *winner), vec![]),
        Outcome::Runoff(first, second) => (
            OutcomeKind::RunoffNeeded,
            String::new(),
            vec![candidate_name(id, *first), candidate_name(id, *second)],
        ),
        Outcome::Repeat(_) => (OutcomeKind::RepeatNeeded, String::new(), vec![]),
    };
    ElectionOutcome {
        kind: kind as i32,
        winner,
        runoff_candidates,
        reason,
    }
}

pub(super) fn results_to_proto(record: &ElectionRecord, results: &Results) -> ElectionResults {
    let id = record.election.id;
    let cast = results.ballots_cast;
    let share = |votes: i64| i32::try_from(basis_points(votes, cast)).unwrap_or(i32::MAX);
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let tally = &results.tally;
    ElectionResults {
        election: name(id),
        stations_reported: count(results.stations_reported),
        stations_closed: count(results.stations_closed),
        stations_total: count(results.stations_total),
        registered_voters: results.registered_voters,
        ballots_issued: results.ballots_issued,
        ballots_cast: cast,
        turnout_bp: i32::try_from(basis_points(cast, results.registered_voters))
            .unwrap_or(i32::MAX),
        candidates: tally
            .ranking()
            .into_iter()
            .map(|(candidate, votes)| CandidateTally {
                candidate: candidate_name(id, candidate),
                full_name: full_name(record, candidate),
                votes,
                share_bp: share(votes),
            })
            .collect(),
        against_all: tally.against_all,
        against_all_share_bp: share(tally.against_all),
        spoiled: tally.spoiled,
        outcome: Some(outcome_to_proto(record, results)),
        r#final: record.election.status == StatusColumn::Certified,
    }
}

pub async fn submit(
    records: &Records,
    request: &Request<SubmitProtocolRequest>,
) -> Result<SubmitProtocolResponse, Error> {
    let body = request.get_ref();
    let id = parse_name("election", &body.election)?;
    if body.expected_version < 0 {
        return Err(Error::invalid("expected_version", "must not be negative"));
    }
    if body.expected_version > 0 && body.correction_reason.trim().is_empty() {
        return Err(Error::invalid(
            "correction_reason",
            "required for a correction",
        ));
    }
    let submitted_by = Caller::of(request)?.subject.clone();
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    let asked = Submission {
        election: id,
        station_number: body.station_number,
        expected_version: body.expected_version,
        ballots_issued: body.ballots_issued,
        candidate_votes: body
            .candidate_votes
            .iter()
            .map(|entry| (entry.candidate.clone(), entry.votes))
            .collect(),
        against_all: body.against_all,
        spoiled: body.spoiled,
        correction_reason: body.correction_reason.clone(),
        submitted_by,
    };
    ops::protocols::submit(records, &mutation, &asked, |protocol, registered| {
        Ok(SubmitProtocolResponse {
            protocol: Some(protocol_to_proto(registered, protocol)?),
        })
    })
    .await
}

pub async fn list(
    records: &Records,
    request: &ListProtocolsRequest,
) -> Result<ListProtocolsResponse, Error> {
    let id = parse_name("election", &request.election)?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let station = (request.station_number != 0).then_some(request.station_number);
    let (record, rows, next_page_token) =
        ops::protocols::list(records, (id, station), request.include_history, &page).await?;
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

pub async fn results(
    records: &Records,
    request: &GetElectionResultsRequest,
) -> Result<GetElectionResultsResponse, Error> {
    let id = parse_name("election", &request.election)?;
    let (record, results) = ops::protocols::results(records, id).await?;
    Ok(GetElectionResultsResponse {
        results: Some(results_to_proto(&record, &results)),
    })
}

pub async fn results_bundle(
    records: &Records,
    request: &GetElectionResultsBundleRequest,
) -> Result<GetElectionResultsBundleResponse, Error> {
    let id = parse_name("election", &request.election)?;
    // Unsized, a page holds as many stations as any page may.
    let page_size = match request.page_size {
        0 => i32::MAX,
        size => size,
    };
    let page = Page::from_request(page_size, &request.page_token)?;
    let page = ops::protocols::bundle(records, id, &page).await?;
    Ok(GetElectionResultsBundleResponse {
        bundle: Some(ElectionResultsBundle {
            election: name(id),
            checkpoint: page.checkpoint,
            evidence: page.evidence,
        }),
        next_page_token: page.next_page_token,
    })
}

pub async fn certify(
    records: &Records,
    request: &Request<CertifyElectionRequest>,
) -> Result<CertifyElectionResponse, Error> {
    let body = request.get_ref();
    let id = parse_name("election", &body.election)?;
    let term_start = date("term_start", body.term_start.as_ref())?;
    let mutation = election_mutation(records, request, &body.request_id, id).await?;
    let asked = Certify {
        id,
        expected_version: body.expected_version,
        term_start,
    };
    ops::protocols::certify(records, &mutation, &asked, |(record, results, akim)| {
        Ok(CertifyElectionResponse {
            election: Some(election_to_proto(record)?),
            results: Some(results_to_proto(record, results)),
            akim: akim.as_ref().map(akim_to_proto),
        })
    })
    .await
}
