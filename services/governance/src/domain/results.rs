//! An election's results: the accepted protocols added up over the stations
//! that reported, and the outcome under the election's rule.

use std::collections::HashMap;

use aimaq_error::Error;
use aimaq_types::bounds;

use super::election::{Counts, WinnerRule};

/// The outcome of the count under an election's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Winner(i64),
    Runoff(i64, i64),
    /// No winner: a repeat election is needed.
    Repeat(String),
}

/// What an election scheduled after another one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUp {
    /// The previous round + 1 for a runoff; 1 for a repeat.
    pub round: i32,
    /// A repeat of an election that ended without a winner.
    pub repeat: bool,
}

/// An election may follow `previous` (named so in errors) only once it is
/// certified without a winner: as the runoff between its two leaders, or as a
/// repeat when its count named no pair.
pub fn follow_up(
    previous: &str,
    previous_round: i32,
    certified: bool,
    outcome: &Outcome,
) -> Result<FollowUp, Error> {
    if !certified {
        return Err(Error::precondition(
            "NOT_CERTIFIED",
            previous,
            format!("{previous} is not certified: nothing can follow it yet"),
        ));
    }
    match outcome {
        Outcome::Runoff(..) => Ok(FollowUp {
            round: previous_round + 1,
            repeat: false,
        }),
        Outcome::Repeat(_) => Ok(FollowUp {
            round: 1,
            repeat: true,
        }),
        Outcome::Winner(_) => Err(Error::precondition(
            "HAS_WINNER",
            previous,
            format!("{previous} was won: neither a runoff nor a repeat follows it"),
        )),
    }
}

/// Totals over the reporting stations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Votes by candidate id.
    pub votes: HashMap<i64, i64>,
    pub against_all: i64,
    pub spoiled: i64,
}

impl Tally {
    /// Adds a protocol's counts; `None` (and the tally unusable) when a total
    /// would not fit a count, which bounded protocols never reach.
    #[must_use]
    pub fn add(&mut self, counts: &Counts) -> Option<()> {
        for (candidate, votes) in &counts.votes {
            let total = self.votes.entry(*candidate).or_default();
            *total = total.checked_add(*votes)?;
        }
        self.against_all = self.against_all.checked_add(counts.against_all)?;
        self.spoiled = self.spoiled.checked_add(counts.spoiled)?;
        self.ballots_cast()?;
        Some(())
    }

    pub fn ballots_cast(&self) -> Option<i64> {
        let counted = self.votes.values().copied();
        bounds::total(counted.chain([self.against_all, self.spoiled]))
    }

    /// Candidates by votes, most first; equal votes by id, for a stable order.
    pub fn ranking(&self) -> Vec<(i64, i64)> {
        let mut ranking: Vec<(i64, i64)> = self.votes.iter().map(|(c, v)| (*c, *v)).collect();
        ranking.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranking
    }
}

/// Who wins under `rule`. PLURALITY: the leader wins if no one ties them and they
/// have more votes than "against all". ABSOLUTE_MAJORITY: more than half of the
/// ballots cast wins; otherwise the top two meet in a runoff, unless "against
/// all" has the majority or second place is tied (then a repeat).
pub fn outcome(rule: WinnerRule, tally: &Tally) -> Outcome {
    let ranking = tally.ranking();
    let Some(&(leader, leading_votes)) = ranking.first() else {
        return Outcome::Repeat("no candidates".into());
    };
    let tied = ranking.iter().filter(|(_, v)| *v == leading_votes).count();
    match rule {
        WinnerRule::Plurality => {
            if leading_votes == 0 {
                Outcome::Repeat("no votes for any candidate".into())
            } else if tied > 1 {
                Outcome::Repeat(format!(
                    "tie between {tied} candidates with {leading_votes} votes"
                ))
            } else if tally.against_all >= leading_votes {
                Outcome::Repeat(format!(
                    "\"against all\" ({}) is not behind the leader ({leading_votes})",
                    tally.against_all
                ))
            } else {
                Outcome::Winner(leader)
            }
        }
        WinnerRule::AbsoluteMajority => {
            // Halves compared in a wider type: twice a count may not fit.
            let cast = tally.ballots_cast().map_or(i128::MAX, i128::from);
            if tied == 1 && i128::from(leading_votes) * 2 > cast {
                return Outcome::Winner(leader);
            }
            if i128::from(tally.against_all) * 2 > cast {
                return Outcome::Repeat(format!(
                    "\"against all\" has the majority ({} of {cast})",
                    tally.against_all
                ));
            }
            match ranking.as_slice() {
                [(first, _), (second, second_votes), rest @ ..]
                    if rest.first().is_none_or(|(_, v)| v < second_votes) && *second_votes > 0 =>
                {
                    Outcome::Runoff(*first, *second)
                }
                [_] => Outcome::Repeat("the only candidate has no majority".into()),
                _ => Outcome::Repeat("second place is tied or empty: no runoff pair".into()),
            }
        }
    }
}

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

    #[test]
    fn runoffs_count_rounds_and_repeats_start_again() {
        let runoff = follow_up("elections/1", 1, true, &Outcome::Runoff(1, 2)).unwrap();
        assert_eq!((runoff.round, runoff.repeat), (2, false));
        let repeat = follow_up("elections/1", 2, true, &Outcome::Repeat("tie".into())).unwrap();
        assert_eq!((repeat.round, repeat.repeat), (1, true));
        let won = follow_up("elections/1", 1, true, &Outcome::Winner(1)).unwrap_err();
        assert!(won.to_string().contains("was won"), "{won}");
        let open = follow_up("elections/1", 1, false, &Outcome::Runoff(1, 2)).unwrap_err();
        assert!(open.to_string().contains("not certified"), "{open}");
    }

    fn tally(votes: &[(i64, i64)], against_all: i64, spoiled: i64) -> Tally {
        Tally {
            votes: votes.iter().copied().collect(),
            against_all,
            spoiled,
        }
    }

    #[test]
    fn plurality() {
        let rule = WinnerRule::Plurality;
        assert_eq!(
            outcome(rule, &tally(&[(1, 500), (2, 300)], 100, 10)),
            Outcome::Winner(1)
        );
        assert!(matches!(
            outcome(rule, &tally(&[(1, 400), (2, 400)], 10, 0)),
            Outcome::Repeat(reason) if reason.contains("tie")
        ));
        assert!(matches!(
            outcome(rule, &tally(&[(1, 400), (2, 300)], 450, 0)),
            Outcome::Repeat(reason) if reason.contains("against all")
        ));
        assert!(matches!(
            outcome(rule, &tally(&[(1, 400)], 400, 0)),
            Outcome::Repeat(_)
        ));
        assert!(matches!(
            outcome(rule, &tally(&[], 0, 0)),
            Outcome::Repeat(_)
        ));
    }

    #[test]
    fn absolute_majority() {
        let rule = WinnerRule::AbsoluteMajority;
        assert_eq!(
            outcome(rule, &tally(&[(1, 510), (2, 400)], 80, 10)),
            Outcome::Winner(1)
        );
        // Exactly half is not a majority.
        assert_eq!(
            outcome(rule, &tally(&[(1, 500), (2, 400)], 90, 10)),
            Outcome::Runoff(1, 2)
        );
        assert_eq!(
            outcome(rule, &tally(&[(3, 300), (1, 350), (2, 200)], 100, 50)),
            Outcome::Runoff(1, 3)
        );
        assert!(matches!(
            outcome(rule, &tally(&[(1, 300), (2, 200), (3, 200)], 100, 0)),
            Outcome::Repeat(reason) if reason.contains("second place")
        ));
        assert!(matches!(
            outcome(rule, &tally(&[(1, 100), (2, 50)], 600, 0)),
            Outcome::Repeat(reason) if reason.contains("majority")
        ));
    }

    #[test]
    fn tallies_refuse_totals_that_do_not_fit() {
        let mut tally = Tally::default();
        let huge = Counts {
            ballots_issued: i64::MAX,
            votes: vec![(1, i64::MAX)],
            against_all: 0,
            spoiled: 0,
        };
        assert!(tally.add(&huge).is_some());
        assert!(tally.add(&huge).is_none());
        let mut majority = Tally::default();
        majority.votes.insert(1, i64::MAX / 2 + 1);
        assert_eq!(
            outcome(WinnerRule::AbsoluteMajority, &majority),
            Outcome::Winner(1)
        );
    }

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
