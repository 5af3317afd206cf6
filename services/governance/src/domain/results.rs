//! An election's results: the accepted protocols added up over the stations
//! that reported, and the outcome under the election's rule.

use super::election::{Counts, Outcome, Tally, WinnerRule, outcome};

/// What the results need of a polling station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Station {
    pub number: i32,
    pub registered_voters: i64,
    pub closed: bool,
}

/// The figures of an election's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    pub stations_reported: usize,
    pub stations_closed: usize,
    pub stations_total: usize,
    /// Registered voters of the stations that reported.
    pub registered_voters: i64,
    pub ballots_issued: i64,
    pub ballots_cast: i64,
    pub tally: Tally,
    pub rule: WinnerRule,
    pub outcome: Outcome,
}

impl Results {
    /// The outcome in words; `full_name` names a candidate by id.
    pub fn reason(&self, full_name: impl Fn(i64) -> String) -> String {
        match &self.outcome {
            Outcome::Winner(winner) => format!(
                "{} leads under the {} rule",
                full_name(*winner),
                self.rule.as_str()
            ),
            Outcome::Runoff(..) => "no candidate has more than half of the ballots cast".into(),
            Outcome::Repeat(reason) => reason.clone(),
        }
    }
}

/// Adds up the accepted protocol of each reporting station (by station
/// number); every candidate appears in the tally, with no votes if none. A
/// protocol whose counts do not fit a total is refused by its station number.
pub fn count(
    stations: &[Station],
    candidates: impl IntoIterator<Item = i64>,
    protocols: &[(i32, Counts)],
    rule: WinnerRule,
) -> Result<Results, i32> {
    let mut tally = Tally::default();
    for candidate in candidates {
        tally.votes.insert(candidate, 0);
    }
    let mut registered_voters: i64 = 0;
    let mut ballots_issued: i64 = 0;
    for (number, counts) in protocols {
        let registered = stations
            .iter()
            .find(|s| s.number == *number)
            .map_or(0, |s| s.registered_voters);
        let added = tally.add(counts).and_then(|()| {
            ballots_issued = ballots_issued.checked_add(counts.ballots_issued)?;
            registered_voters = registered_voters.checked_add(registered)?;
            Some(())
        });
        added.ok_or(*number)?;
    }
    let outcome = outcome(rule, &tally);
    // Every protocol was added, so the total fits.
    let ballots_cast = tally.ballots_cast().unwrap_or(i64::MAX);
    Ok(Results {
        stations_reported: protocols.len(),
        stations_closed: stations.iter().filter(|s| s.closed).count(),
        stations_total: stations.len(),
        registered_voters,
        ballots_issued,
        ballots_cast,
        tally,
        rule,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn station(number: i32, registered_voters: i64) -> Station {
        Station {
            number,
            registered_voters,
            closed: false,
        }
    }

    fn counts(votes: &[(i64, i64)], against_all: i64) -> Counts {
        Counts {
            ballots_issued: votes.iter().map(|v| v.1).sum::<i64>() + against_all,
            votes: votes.to_vec(),
            against_all,
            spoiled: 0,
        }
    }

    #[test]
    fn protocols_add_up_and_the_rule_decides() {
        let stations = [station(1, 100), station(2, 50), station(3, 10)];
        let protocols = [
            (1, counts(&[(7, 40), (8, 30)], 5)),
            (2, counts(&[(7, 10), (8, 25)], 0)),
        ];
        let results = count(&stations, [7, 8, 9], &protocols, WinnerRule::Plurality).unwrap();
        assert_eq!(results.stations_reported, 2);
        assert_eq!(results.stations_total, 3);
        assert_eq!(results.registered_voters, 150);
        assert_eq!(results.ballots_cast, 110);
        assert_eq!(results.tally.votes[&9], 0);
        assert_eq!(results.outcome, Outcome::Winner(8));
    }

    #[test]
    fn a_protocol_past_any_total_is_named_by_its_station() {
        let stations = [station(1, 100), station(2, 100)];
        let protocols = [
            (1, counts(&[(7, i64::MAX / 2)], 0)),
            (2, counts(&[(8, i64::MAX / 2 + 10)], 0)),
        ];
        assert_eq!(
            count(&stations, [7, 8], &protocols, WinnerRule::Plurality),
            Err(2)
        );
    }
}
