//! Elections end to end: schedule, candidates, protocols, results, certification
//! and the akim it records.

use aimaq_auth::Scope;
use aimaq_proto::common::v1::Date;
use aimaq_proto::governance::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use aimaq_types::Iin;
use chrono::{Datelike, Days, NaiveDate};
use tonic::Code;
use tonic_types::StatusExt;

use super::{Harness, start};

pub(crate) fn proto_date(date: NaiveDate) -> Date {
    Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    }
}

pub(crate) fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// An IIN of a man born on `yymmdd` (years below 30 in the 2000s).
fn iin(yymmdd: &str, serial: u32) -> String {
    let century = if yymmdd[..2] < *"30" { 5 } else { 3 };
    (serial..serial + 10)
        .find_map(|s| Iin::complete(&format!("{yymmdd}{century}{s:04}")))
        .unwrap()
        .to_string()
}

/// A territory and the office of its akim.
pub(crate) type Place = (&'static str, ElectionOffice);

/// Baidibek district, whose akim the 2023 pilot elected.
const DISTRICT: Place = ("613600000", ElectionOffice::DistrictAkim);

pub(crate) struct ElectionUnderTest {
    pub(crate) name: String,
    pub(crate) candidates: Vec<String>,
}

impl Harness {
    pub(crate) fn officer(&self) -> String {
        self.tokens.token(
            "election-commission",
            &[
                Scope::ElectionsRun,
                Scope::GovernanceRead,
                Scope::GovernanceWrite,
            ],
            Some("61"),
        )
    }

    /// An election of the 2023 pilot round, recorded from the archive (so that
    /// candidates and protocols can be entered whatever today's date is).
    pub(crate) async fn schedule(
        &mut self,
        id: &str,
        rule: WinnerRule,
        stations: &[i64],
    ) -> String {
        self.schedule_after(id, rule, stations, "")
            .await
            .unwrap()
            .name
    }

    /// As [`Harness::schedule`], following `previous` (a runoff or a repeat).
    pub(crate) async fn schedule_after(
        &mut self,
        id: &str,
        rule: WinnerRule,
        stations: &[i64],
        previous: &str,
    ) -> Result<Election, tonic::Status> {
        self.schedule_at(DISTRICT, id, rule, stations, previous)
            .await
    }

    /// As [`Harness::schedule_after`], of the akim of `territory`.
    pub(crate) async fn schedule_at(
        &mut self,
        (territory, office): Place,
        id: &str,
        rule: WinnerRule,
        stations: &[i64],
        previous: &str,
    ) -> Result<Election, tonic::Status> {
        let token = self.admin();
        let request = ScheduleElectionRequest {
            request_id: id.into(),
            territory_kato: territory.into(),
            office: office as i32,
            call_date: Some(proto_date(NaiveDate::from_ymd_opt(2023, 6, 1).unwrap())),
            voting_date: Some(proto_date(NaiveDate::from_ymd_opt(2023, 8, 10).unwrap())),
            nomination_close_date: None,
            winner_rule: rule as i32,
            pilot: true,
            polling_stations: stations
                .iter()
                .enumerate()
                .map(|(i, registered)| PollingStation {
                    number: i as i32 + 1,
                    address: format!("school {}", i + 1),
                    registered_voters: *registered,
                    ..PollingStation::default()
                })
                .collect(),
            previous_election: previous.into(),
            archival: true,
        };
        self.client
            .schedule_election(with_token(request, &token))
            .await
            .map(|answer| answer.into_inner().election.unwrap())
    }

    pub(crate) async fn register(
        &mut self,
        election: &str,
        id: &str,
        iin: &str,
        party: Option<&str>,
    ) -> Result<String, tonic::Status> {
        let token = self.officer();
        let request = RegisterCandidateRequest {
            request_id: id.into(),
            election: election.into(),
            iin: iin.into(),
            full_name: format!("Candidate {iin}"),
            nomination: if party.is_some() {
                Nomination::Party
            } else {
                Nomination::Self_
            } as i32,
            party: party.unwrap_or_default().into(),
        };
        self.client
            .register_candidate(with_token(request, &token))
            .await
            .map(|r| r.into_inner().candidate.unwrap().name)
    }

    pub(crate) async fn election(
        &mut self,
        id: &str,
        rule: WinnerRule,
        stations: &[i64],
        candidates: usize,
    ) -> ElectionUnderTest {
        self.election_at(DISTRICT, id, rule, stations, candidates)
            .await
    }

    /// As [`Harness::election`], of the akim of `place`.
    pub(crate) async fn election_at(
        &mut self,
        place: Place,
        id: &str,
        rule: WinnerRule,
        stations: &[i64],
        candidates: usize,
    ) -> ElectionUnderTest {
        let name = self
            .schedule_at(place, id, rule, stations, "")
            .await
            .unwrap()
            .name;
        let mut names = Vec::new();
        for n in 0..candidates {
            let candidate = self
                .register(
                    &name,
                    &format!("{id}-c{n}"),
                    &iin("800101", 10 * n as u32),
                    Some("Amanat"),
                )
                .await
                .unwrap();
            names.push(candidate);
        }
        ElectionUnderTest {
            name,
            candidates: names,
        }
    }

    pub(crate) async fn protocol(
        &mut self,
        election: &ElectionUnderTest,
        id: &str,
        station: i32,
        // Ballots issued, votes per candidate, against all, spoiled.
        (issued, votes, against_all, spoiled): (i64, &[i64], i64, i64),
    ) -> Result<Protocol, tonic::Status> {
        let token = self.officer();
        let request = SubmitProtocolRequest {
            request_id: id.into(),
            election: election.name.clone(),
            station_number: station,
            ballots_issued: issued,
            candidate_votes: election
                .candidates
                .iter()
                .zip(votes)
                .map(|(candidate, votes)| CandidateVotes {
                    candidate: candidate.clone(),
                    votes: *votes,
                })
                .collect(),
            against_all,
            spoiled,
            expected_version: 0,
            correction_reason: String::new(),
        };
        self.client
            .submit_protocol(with_token(request, &token))
            .await
            .map(|r| r.into_inner().protocol.unwrap())
    }

    pub(crate) async fn results(&mut self, election: &ElectionUnderTest) -> ElectionResults {
        let token = self.admin();
        self.client
            .get_election_results(with_token(
                GetElectionResultsRequest {
                    election: election.name.clone(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .results
            .unwrap()
    }

    pub(crate) async fn certify(
        &mut self,
        election: &ElectionUnderTest,
        id: &str,
    ) -> Result<CertifyElectionResponse, tonic::Status> {
        let token = self.officer();
        self.client
            .certify_election(with_token(
                CertifyElectionRequest {
                    request_id: id.into(),
                    election: election.name.clone(),
                    expected_version: 0,
                    term_start: Some(proto_date(today() + Days::new(70))),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner())
    }
}

async fn an_election_runs_to_certification(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let election = harness
        .election("e1", WinnerRule::Plurality, &[1000, 800, 500], 2)
        .await;

    // Candidates: too young, a party without a name, a second registration.
    let young = harness
        .register(&election.name, "young", &iin("100101", 0), None)
        .await
        .unwrap_err();
    assert_eq!(young.code(), Code::InvalidArgument);
    assert!(young.message().contains("minimum is 25"), "{young:?}");
    let nameless = harness
        .register(&election.name, "nameless", &iin("700101", 0), Some(""))
        .await
        .unwrap_err();
    assert_eq!(
        nameless
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "party"
    );
    let again = harness
        .register(&election.name, "again", &iin("800101", 0), None)
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    // Protocol arithmetic, one violation at a time.
    let over = harness
        .protocol(&election, "p-bad-1", 1, (700, &[500, 200], 50, 10))
        .await
        .unwrap_err();
    assert_eq!(over.code(), Code::InvalidArgument);
    assert!(over.message().contains("ballots_issued"), "{over:?}");
    let beyond = harness
        .protocol(&election, "p-bad-2", 1, (1200, &[500, 200], 50, 10))
        .await
        .unwrap_err();
    assert!(beyond.message().contains("registered voters"), "{beyond:?}");
    let negative = harness
        .protocol(&election, "p-bad-3", 1, (900, &[500, 200], -1, 10))
        .await
        .unwrap_err();
    assert!(negative.message().contains("against_all"), "{negative:?}");
    let missing = harness
        .protocol(&election, "p-bad-4", 1, (900, &[500], 50, 10))
        .await
        .unwrap_err();
    assert!(missing.message().contains("candidate_votes"), "{missing:?}");
    let unknown_station = harness
        .protocol(&election, "p-bad-5", 9, (900, &[500, 200], 50, 10))
        .await
        .unwrap_err();
    assert!(
        unknown_station.message().contains("station_number"),
        "{unknown_station:?}"
    );

    // Two concurrent first protocols for one station: exactly one is accepted.
    let calls: Vec<_> = (0..2)
        .map(|n| {
            let mut client = harness.client.clone();
            let token = harness.officer();
            let request = SubmitProtocolRequest {
                request_id: format!("race-{n}"),
                election: election.name.clone(),
                station_number: 1,
                ballots_issued: 900,
                candidate_votes: election
                    .candidates
                    .iter()
                    .zip([500, 200])
                    .map(|(c, v)| CandidateVotes {
                        candidate: c.clone(),
                        votes: v,
                    })
                    .collect(),
                against_all: 50,
                spoiled: 10,
                ..SubmitProtocolRequest::default()
            };
            tokio::spawn(async move { client.submit_protocol(with_token(request, &token)).await })
        })
        .collect();
    let mut accepted = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(accepted, 1);

    harness
        .protocol(&election, "p2", 2, (700, &[300, 320], 30, 5))
        .await
        .unwrap();
    let results = harness.results(&election).await;
    assert_eq!((results.stations_reported, results.stations_total), (2, 3));
    assert_eq!(results.ballots_cast, 760 + 655);
    assert_eq!(results.candidates[0].votes, 800);
    assert_eq!(
        results.outcome.as_ref().unwrap().kind,
        OutcomeKind::Winner as i32
    );
    assert!(!results.r#final);

    // A correction needs a reason and the version it corrects.
    let token = harness.officer();
    let correction = SubmitProtocolRequest {
        request_id: "p2-fix".into(),
        election: election.name.clone(),
        station_number: 2,
        ballots_issued: 700,
        candidate_votes: election
            .candidates
            .iter()
            .zip([310, 320])
            .map(|(c, v)| CandidateVotes {
                candidate: c.clone(),
                votes: v,
            })
            .collect(),
        against_all: 30,
        spoiled: 5,
        expected_version: 1,
        correction_reason: "recount".into(),
    };
    let fixed = harness
        .client
        .submit_protocol(with_token(correction.clone(), &token))
        .await
        .unwrap()
        .into_inner()
        .protocol
        .unwrap();
    assert_eq!(fixed.version, 2);
    let history = harness
        .client
        .list_protocols(with_token(
            ListProtocolsRequest {
                election: election.name.clone(),
                station_number: 2,
                include_history: true,
                ..ListProtocolsRequest::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.protocols.len(), 2, "the superseded version is kept");

    crate::bundle::no_bundle_before_certification(&mut harness, &election).await;
    // Certification waits for every station, or its formal closure.
    let early = harness.certify(&election, "cert-early").await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(
        early.message().contains("stations without a protocol: 3"),
        "{early:?}"
    );
    harness
        .client
        .close_polling_station(with_token(
            ClosePollingStationRequest {
                request_id: "close-3".into(),
                election: election.name.clone(),
                station_number: 3,
                reason: "flooded".into(),
                expected_version: 0,
            },
            &token,
        ))
        .await
        .unwrap();
    let certified = harness.certify(&election, "cert-1").await.unwrap();
    assert_eq!(
        certified.election.as_ref().unwrap().status,
        ElectionStatus::Certified as i32
    );
    assert!(certified.results.as_ref().unwrap().r#final);
    let akim = certified.akim.unwrap();
    assert_eq!(akim.mandate, AkimMandate::Elected as i32);
    assert_eq!(akim.iin, iin("800101", 0));
    let start = akim.term_start.unwrap();
    let end = akim.term_end.unwrap();
    assert_eq!(
        (end.year - start.year, end.month, end.day),
        (4, start.month, start.day)
    );

    // Certifying again changes nothing; the records are frozen.
    let again = harness.certify(&election, "cert-2").await.unwrap();
    assert_eq!(again.akim.unwrap().name, akim.name);
    let admin = harness.admin();
    let post = harness
        .client
        .get_akim(with_token(
            GetAkimRequest {
                territory_kato: "613600000".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(post.history.len(), 1);
    assert_eq!(post.current.unwrap().name, akim.name);
    let frozen = harness
        .protocol(&election, "late", 3, (10, &[5, 5], 0, 0))
        .await
        .unwrap_err();
    assert_eq!(frozen.code(), Code::FailedPrecondition);

    let listed = harness
        .client
        .list_elections(with_token(
            ListElectionsRequest {
                territory_kato: "610000000".into(),
                status: ElectionStatus::Certified as i32,
                ..ListElectionsRequest::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.elections.len(), 1);
    crate::bundle::the_bundle_recounts_to_the_certified_result(&mut harness, &election).await;
    crate::bundle::the_bundle_comes_in_pages(&mut harness, &election).await;

    // The first protocols' state was digested from the rows as written, the
    // correction's from the versions read back: both are what the rows hold.
    let verification = harness.verify_audit_log().await;
    assert!(verification.intact, "{verification:?}");
}

async fn ties_against_all_and_runoffs(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;

    let tie = harness
        .election("tie", WinnerRule::Plurality, &[1000], 2)
        .await;
    harness
        .protocol(&tie, "tie-p", 1, (900, &[400, 400], 50, 10))
        .await
        .unwrap();
    let certified = harness.certify(&tie, "tie-c").await.unwrap();
    let outcome = certified.results.unwrap().outcome.unwrap();
    assert_eq!(outcome.kind, OutcomeKind::RepeatNeeded as i32);
    assert!(outcome.reason.contains("tie"), "{outcome:?}");
    assert!(certified.akim.is_none(), "no winner, no akim");

    let protest = harness
        .election("protest", WinnerRule::Plurality, &[1000], 2)
        .await;
    harness
        .protocol(&protest, "protest-p", 1, (900, &[300, 200], 350, 10))
        .await
        .unwrap();
    let outcome = harness.results(&protest).await.outcome.unwrap();
    assert_eq!(outcome.kind, OutcomeKind::RepeatNeeded as i32);
    assert!(outcome.reason.contains("against all"), "{outcome:?}");

    let runoff = harness
        .election("runoff", WinnerRule::AbsoluteMajority, &[1000], 3)
        .await;
    harness
        .protocol(&runoff, "runoff-p", 1, (950, &[400, 300, 200], 30, 10))
        .await
        .unwrap();
    let outcome = harness.results(&runoff).await.outcome.unwrap();
    assert_eq!(outcome.kind, OutcomeKind::RunoffNeeded as i32);
    assert_eq!(outcome.runoff_candidates, runoff.candidates[..2].to_vec());

    let majority = harness
        .election("majority", WinnerRule::AbsoluteMajority, &[1000], 2)
        .await;
    harness
        .protocol(&majority, "majority-p", 1, (950, &[600, 300], 30, 10))
        .await
        .unwrap();
    let outcome = harness.results(&majority).await.outcome.unwrap();
    assert_eq!(outcome.kind, OutcomeKind::Winner as i32);
    assert_eq!(outcome.winner, majority.candidates[0]);

    // What follows an election: a repeat after no winner starts again at
    // round 1, marked; a runoff is the next round; a won or uncertified
    // election is followed by nothing.
    let repeat = harness
        .schedule_after("tie-again", WinnerRule::Plurality, &[1000], &tie.name)
        .await
        .unwrap();
    assert_eq!((repeat.round, repeat.repeat), (1, true));
    assert_eq!(repeat.previous_election, tie.name);
    harness.certify(&runoff, "runoff-c").await.unwrap();
    let second_round = harness
        .schedule_after(
            "runoff-2",
            WinnerRule::AbsoluteMajority,
            &[1000],
            &runoff.name,
        )
        .await
        .unwrap();
    assert_eq!((second_round.round, second_round.repeat), (2, false));
    let open = harness
        .schedule_after(
            "after-protest",
            WinnerRule::Plurality,
            &[1000],
            &protest.name,
        )
        .await
        .unwrap_err();
    assert_eq!(open.code(), Code::FailedPrecondition);
    harness.certify(&majority, "majority-c").await.unwrap();
    let won = harness
        .schedule_after(
            "after-majority",
            WinnerRule::Plurality,
            &[1000],
            &majority.name,
        )
        .await
        .unwrap_err();
    assert_eq!(won.code(), Code::FailedPrecondition);
    assert!(won.message().contains("was won"), "{won:?}");
}

async fn scheduling_is_checked(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let token = harness.officer();
    let base = ScheduleElectionRequest {
        request_id: "s-1".into(),
        territory_kato: "613600000".into(),
        office: ElectionOffice::DistrictAkim as i32,
        call_date: Some(proto_date(today())),
        voting_date: Some(proto_date(today() + Days::new(30))),
        polling_stations: vec![PollingStation {
            number: 1,
            registered_voters: 10,
            ..PollingStation::default()
        }],
        ..ScheduleElectionRequest::default()
    };
    let short = harness
        .client
        .schedule_election(with_token(base.clone(), &token))
        .await
        .unwrap_err();
    assert_eq!(short.code(), Code::InvalidArgument);
    assert!(short.message().contains("at least 40 days"), "{short:?}");

    let mut village = base.clone();
    village.voting_date = Some(proto_date(today() + Days::new(45)));
    village.territory_kato = "613633100".into();
    village.request_id = "s-2".into();
    let wrong_office = harness
        .client
        .schedule_election(with_token(village, &token))
        .await
        .unwrap_err();
    assert!(
        wrong_office.message().contains("office"),
        "{wrong_office:?}"
    );

    let mut elsewhere = base.clone();
    elsewhere.territory_kato = "711000000".into();
    elsewhere.voting_date = Some(proto_date(today() + Days::new(45)));
    elsewhere.request_id = "s-3".into();
    let outside = harness
        .client
        .schedule_election(with_token(elsewhere, &token))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied);
}

/// A live election follows today's date: nominations close, protocols wait for
/// voting day; recording from the archive needs the admin scope.
async fn live_elections_follow_the_calendar(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let token = harness.officer();
    let live = |id: &str, call: NaiveDate, voting: NaiveDate| ScheduleElectionRequest {
        request_id: id.into(),
        territory_kato: "613600000".into(),
        office: ElectionOffice::DistrictAkim as i32,
        call_date: Some(proto_date(call)),
        voting_date: Some(proto_date(voting)),
        polling_stations: vec![PollingStation {
            number: 1,
            registered_voters: 100,
            ..PollingStation::default()
        }],
        ..ScheduleElectionRequest::default()
    };
    let upcoming = harness
        .client
        .schedule_election(with_token(
            live("live-1", today(), today() + Days::new(45)),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .election
        .unwrap();
    assert!(!upcoming.archival);
    let candidate = harness
        .register(&upcoming.name, "live-c", &iin("800101", 0), None)
        .await
        .unwrap();
    let early = ElectionUnderTest {
        name: upcoming.name.clone(),
        candidates: vec![candidate],
    };
    let status = harness
        .protocol(&early, "live-p", 1, (10, &[5], 0, 0))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("voting day"), "{status:?}");

    let closing = harness
        .client
        .schedule_election(with_token(
            live("live-2", today() - Days::new(40), today() + Days::new(5)),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .election
        .unwrap();
    let late = harness
        .register(&closing.name, "late-c", &iin("800101", 0), None)
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(late.message().contains("nominations closed"), "{late:?}");

    let mut archive = live("archive", today(), today() + Days::new(45));
    archive.archival = true;
    let denied = harness
        .client
        .schedule_election(with_token(archive, &token))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

/// A person who has served two consecutive elected terms on a post is refused
/// as a candidate for it, not only when the third election is certified.
async fn a_third_consecutive_term_is_refused_at_registration(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let winner = iin("800101", 0);
    for (n, start) in [(1, 2023), (2, 2027)] {
        let election = harness
            .election(&format!("term-{n}"), WinnerRule::Plurality, &[1000], 2)
            .await;
        harness
            .protocol(
                &election,
                &format!("term-{n}-p"),
                1,
                (900, &[600, 200], 50, 10),
            )
            .await
            .unwrap();
        let token = harness.officer();
        let certified = harness
            .client
            .certify_election(with_token(
                CertifyElectionRequest {
                    request_id: format!("term-{n}-certify"),
                    election: election.name.clone(),
                    expected_version: 0,
                    term_start: Some(proto_date(NaiveDate::from_ymd_opt(start, 8, 15).unwrap())),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(certified.akim.unwrap().iin, winner, "term {n}");
    }
    let third = harness
        .schedule("term-3", WinnerRule::Plurality, &[1000])
        .await;
    let refused = harness
        .register(&third, "term-3-c0", &winner, Some("Amanat"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("2 consecutive"), "{refused:?}");
    // Another candidate may stand.
    harness
        .register(&third, "term-3-c1", &iin("800101", 10), Some("Amanat"))
        .await
        .unwrap();
}

on_both_backends!(
    a_third_consecutive_term_is_refused_at_registration,
    live_elections_follow_the_calendar,
    an_election_runs_to_certification,
    ties_against_all_and_runoffs,
    scheduling_is_checked,
);
