//! Elections against values no election has: counts past the population, dates
//! centuries away, a live election voting on a day already past. Each is
//! refused naming its field, and the results stay readable.

use aimaq_proto::common::v1::Date;
use aimaq_proto::governance::v1::*;
use aimaq_testing::hostile::violated_fields;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use chrono::Days;
use tonic::Code;

use super::elections::{proto_date, today};
use super::start;

fn live(id: &str, call: Date, voting: Date) -> ScheduleElectionRequest {
    ScheduleElectionRequest {
        request_id: id.into(),
        territory_kato: "613633000".into(),
        office: ElectionOffice::RuralAkim as i32,
        call_date: Some(call),
        voting_date: Some(voting),
        polling_stations: vec![PollingStation {
            number: 1,
            address: "school 1".into(),
            registered_voters: 900,
            ..PollingStation::default()
        }],
        ..ScheduleElectionRequest::default()
    }
}

async fn election_values_are_bounded(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.seed_chain().await;
    let officer = harness.officer();
    let far = |year| Date {
        year,
        month: 1,
        day: 1,
    };

    // Dates with years no calendar query expects.
    for (n, (call, voting, field)) in [
        (
            far(262_142),
            proto_date(today() + Days::new(50)),
            "call_date",
        ),
        (far(-262_143), far(2030), "call_date"),
        (proto_date(today()), far(262_142), "voting_date"),
    ]
    .into_iter()
    .enumerate()
    {
        let refused = harness
            .client
            .schedule_election(with_token(
                live(&format!("far-{n}"), call, voting),
                &officer,
            ))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field]);
    }

    // A live election whose voting day is past.
    let past = today() - Days::new(30);
    let refused = harness
        .client
        .schedule_election(with_token(
            live("past", proto_date(past - Days::new(45)), proto_date(past)),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["voting_date"]);

    // A station with more voters than the country has people.
    let mut crowded = live(
        "crowded",
        proto_date(today()),
        proto_date(today() + Days::new(50)),
    );
    crowded.polling_stations[0].registered_voters = i64::MAX;
    let refused = harness
        .client
        .schedule_election(with_token(crowded, &officer))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        ["polling_stations[0].registered_voters"]
    );

    // Protocols with counts near i64::MAX, whose sums overflowed before.
    let election = harness
        .election("bounded", WinnerRule::AbsoluteMajority, &[1000], 2)
        .await;
    for (n, counts) in [
        (i64::MAX, &[i64::MAX, 1][..], 0, 0),
        (1000, &[500, 200], i64::MAX, 0),
        (1000, &[500, 200], 0, i64::MIN),
    ]
    .into_iter()
    .enumerate()
    {
        let refused = harness
            .protocol(&election, &format!("max-{n}"), 1, counts)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    }
    let results = harness.results(&election).await;
    assert_eq!(results.ballots_cast, 0, "no protocol was stored");

    // Certification with a term starting centuries away.
    let refused = harness
        .client
        .certify_election(with_token(
            CertifyElectionRequest {
                request_id: "certify-far".into(),
                election: election.name.clone(),
                expected_version: 0,
                term_start: Some(far(262_142)),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["term_start"]);
}

on_both_backends!(election_values_are_bounded);
