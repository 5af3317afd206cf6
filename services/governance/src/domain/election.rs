//! Direct akim elections: who may be elected where, when an election may be
//! called, what a polling station's protocol must add up to, and who wins.

use std::collections::HashSet;

use aimaq_error::{Error, Violations};
use aimaq_types::{Iin, bounds};
use chrono::{Datelike, NaiveDate};

use super::territory::TerritoryKind;

/// Days between the call and voting day, at the least.
pub const MIN_CALL_TO_VOTING_DAYS: i64 = 40;
/// Nominations close this many days before voting day unless set otherwise.
pub const DEFAULT_NOMINATION_CLOSE_DAYS: i64 = 10;
pub const MIN_CANDIDATE_AGE: u32 = 25;
pub const ELECTED_TERM_YEARS: i32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Office {
    /// Akim of a rural district, village or settlement (elected since 2021).
    Rural,
    /// Akim of a district (elected since the 2023 pilot).
    District,
    /// Akim of a city of regional significance (elected since the 2023 pilot).
    City,
}

impl Office {
    pub fn as_str(self) -> &'static str {
        match self {
            Office::Rural => "rural_akim",
            Office::District => "district_akim",
            Office::City => "city_akim",
        }
    }

    /// Whether the office is that of a territory of this kind.
    pub fn fits(self, kind: TerritoryKind) -> bool {
        match self {
            Office::Rural => matches!(
                kind,
                TerritoryKind::RuralDistrict
                    | TerritoryKind::Village
                    | TerritoryKind::Settlement
                    | TerritoryKind::CityOfDistrictSignificance
            ),
            Office::District => kind == TerritoryKind::District,
            Office::City => kind == TerritoryKind::CityOfRegionalSignificance,
        }
    }

    /// The first year the office was filled by direct election.
    pub fn elected_since(self) -> i32 {
        match self {
            Office::Rural => 2021,
            Office::District | Office::City => 2023,
        }
    }
}

/// Where an election stands: candidates and stations are registered while it
/// is scheduled; protocols arrive while it counts; certified, it is frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionStatus {
    Scheduled,
    Counting,
    Certified,
}

/// How a candidate was nominated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nomination {
    Party,
    SelfNominated,
}

/// How an akim came to hold the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mandate {
    Appointed,
    Elected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WinnerRule {
    /// Most votes wins if more than "against all" and not tied; otherwise a repeat.
    #[default]
    Plurality,
    /// More than half of the ballots cast wins; otherwise a runoff of the top two.
    AbsoluteMajority,
}

impl WinnerRule {
    pub fn as_str(self) -> &'static str {
        match self {
            WinnerRule::Plurality => "plurality",
            WinnerRule::AbsoluteMajority => "absolute_majority",
        }
    }
}

/// The dates of an election, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub call: NaiveDate,
    pub voting: NaiveDate,
    pub nomination_close: NaiveDate,
}

/// Checks the calendar of a new election; the nomination close date defaults to
/// ten days before voting day. A live election (`today` given) cannot vote on a
/// day already past; one recorded from the archive can.
pub fn check_calendar(
    office: Office,
    call: NaiveDate,
    voting: NaiveDate,
    nomination_close: Option<NaiveDate>,
    today: Option<NaiveDate>,
) -> Result<Calendar, Error> {
    let mut violations = Violations::new();
    if let Some(today) = today {
        violations.check(
            voting >= today,
            "voting_date",
            format!("{voting} is past (today is {today}); an election from the archive is recorded with `archival`"),
        );
    }
    let days = (voting - call).num_days();
    violations.check(
        days >= MIN_CALL_TO_VOTING_DAYS,
        "voting_date",
        format!(
            "must be at least {MIN_CALL_TO_VOTING_DAYS} days after the call date ({call}); it is {days}"
        ),
    );
    violations.check(
        voting.year() >= office.elected_since(),
        "voting_date",
        format!(
            "the office of {} is elected since {}",
            office.as_str(),
            office.elected_since()
        ),
    );
    let nomination_close = nomination_close.unwrap_or_else(|| {
        voting
            .checked_sub_days(chrono::Days::new(DEFAULT_NOMINATION_CLOSE_DAYS as u64))
            .unwrap_or(voting)
    });
    violations.check(
        call <= nomination_close && nomination_close < voting,
        "nomination_close_date",
        "must fall on or after the call date and before voting day",
    );
    violations.into_result()?;
    Ok(Calendar {
        call,
        voting,
        nomination_close,
    })
}

/// Checks a candidate's age on voting day (from the IIN).
pub fn check_candidate_age(iin: Iin, voting: NaiveDate) -> Result<(), Error> {
    let age = iin.age_on(voting);
    if age < MIN_CANDIDATE_AGE {
        return Err(Error::invalid(
            "iin",
            format!(
                "the candidate is {age} on voting day ({voting}); the minimum is {MIN_CANDIDATE_AGE}"
            ),
        ));
    }
    Ok(())
}

/// A polling station's counts as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub ballots_issued: i64,
    /// Votes by candidate id, in submission order.
    pub votes: Vec<(i64, i64)>,
    pub against_all: i64,
    pub spoiled: i64,
}

impl Counts {
    /// Votes + against all + spoiled; `None` when that does not fit a count (a
    /// stored protocol out of bounds).
    pub fn ballots_cast(&self) -> Option<i64> {
        let counted = self.votes.iter().map(|(_, votes)| *votes);
        bounds::total(counted.chain([self.against_all, self.spoiled]))
    }
}

/// Checks a protocol against the station's registered voters and the election's
/// candidates: every count non-negative, every candidate once, and
/// votes + against all + spoiled = ballots cast ≤ ballots issued ≤ registered.
pub fn check_counts(
    counts: &Counts,
    registered_voters: i64,
    candidates: &HashSet<i64>,
) -> Result<(), Error> {
    let mut violations = Violations::new();
    let mut seen = HashSet::new();
    for (index, (candidate, votes)) in counts.votes.iter().enumerate() {
        violations.check(
            candidates.contains(candidate),
            format!("candidate_votes[{index}].candidate"),
            "not a candidate of this election",
        );
        violations.check(
            seen.insert(*candidate),
            format!("candidate_votes[{index}].candidate"),
            "listed more than once",
        );
        if let Err(why) = bounds::people(*votes) {
            violations.add(format!("candidate_votes[{index}].votes"), why);
        }
    }
    for missing in candidates.iter().filter(|c| !seen.contains(c)) {
        violations.add("candidate_votes", format!("candidate {missing} is missing"));
    }
    for (field, count) in [
        ("against_all", counts.against_all),
        ("spoiled", counts.spoiled),
        ("ballots_issued", counts.ballots_issued),
    ] {
        if let Err(why) = bounds::people(count) {
            violations.add(field, why);
        }
    }
    // Bounded counts of at most a hundred candidates always add up.
    let cast = counts.ballots_cast().unwrap_or(i64::MAX);
    violations.check(
        cast <= counts.ballots_issued,
        "ballots_issued",
        format!(
            "votes + against all + spoiled = {cast} ballots cast, more than the {} issued",
            counts.ballots_issued
        ),
    );
    violations.check(
        counts.ballots_issued <= registered_voters,
        "ballots_issued",
        format!(
            "{} ballots issued, more than the station's {registered_voters} registered voters",
            counts.ballots_issued
        ),
    );
    violations.into_result()
}

/// Checks that a person may take another elected term on a post: at most two
/// consecutive elected terms. `history` is the post's holders, oldest first, as
/// (IIN, elected).
pub fn check_term_limit(history: &[(String, bool)], iin: &str) -> Result<(), Error> {
    let consecutive = history
        .iter()
        .rev()
        .take_while(|(holder, elected)| holder == iin && *elected)
        .count();
    if consecutive >= 2 {
        return Err(Error::precondition(
            "TERM_LIMIT",
            format!("akims/{iin}"),
            format!(
                "{iin} has already served {consecutive} consecutive elected terms on this post; the limit is 2"
            ),
        ));
    }
    Ok(())
}

/// Kazakhstan's time (UTC+5 across the country since March 2024).
const KAZAKHSTAN_UTC_OFFSET_SECONDS: i32 = 5 * 3600;

/// Today's date where the elections take place: the calendar rules (nominations,
/// voting day) count days in Kazakhstan, not on the server's clock zone.
pub fn today_in_kazakhstan() -> NaiveDate {
    let now = chrono::Utc::now();
    chrono::FixedOffset::east_opt(KAZAKHSTAN_UTC_OFFSET_SECONDS).map_or_else(
        || now.date_naive(),
        |offset| now.with_timezone(&offset).date_naive(),
    )
}

/// The end of an elected term that starts on `start`.
pub fn elected_term_end(start: NaiveDate) -> NaiveDate {
    start
        .with_year(start.year() + ELECTED_TERM_YEARS)
        .unwrap_or(start + chrono::Days::new(4 * 365 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn protocol_arithmetic() {
        let candidates: HashSet<i64> = [1, 2].into();
        let good = Counts {
            ballots_issued: 900,
            votes: vec![(1, 500), (2, 300)],
            against_all: 50,
            spoiled: 20,
        };
        assert!(check_counts(&good, 1000, &candidates).is_ok());
        let fields = |counts: &Counts, registered: i64| -> Vec<String> {
            match check_counts(counts, registered, &candidates) {
                Err(Error::InvalidArgument(v)) => v.into_iter().map(|v| v.field).collect(),
                other => panic!("expected violations, got {other:?}"),
            }
        };
        let mut over_issued = good.clone();
        over_issued.ballots_issued = 800;
        assert_eq!(fields(&over_issued, 1000), ["ballots_issued"]);
        assert_eq!(fields(&good, 850), ["ballots_issued"]);
        let mut negative = good.clone();
        negative.spoiled = -1;
        assert_eq!(fields(&negative, 1000), ["spoiled"]);
        let mut stranger = good.clone();
        stranger.votes[1] = (9, 300);
        assert_eq!(
            fields(&stranger, 1000),
            ["candidate_votes[1].candidate", "candidate_votes"]
        );
        let mut twice = good.clone();
        twice.votes = vec![(1, 500), (1, 300)];
        let got = fields(&twice, 1000);
        assert!(
            got.contains(&"candidate_votes[1].candidate".to_owned()),
            "{got:?}"
        );
        assert!(got.contains(&"candidate_votes".to_owned()), "{got:?}");
        assert_eq!(good.ballots_cast(), Some(870));
        let mut huge = good.clone();
        huge.votes[0].1 = i64::MAX;
        huge.against_all = i64::MAX;
        assert_eq!(
            fields(&huge, 1000),
            ["candidate_votes[0].votes", "against_all", "ballots_issued"]
        );
        assert_eq!(huge.ballots_cast(), None);
    }

    #[test]
    fn calendar() {
        let ok = check_calendar(
            Office::District,
            date(2023, 7, 1),
            date(2023, 8, 10),
            None,
            None,
        )
        .unwrap();
        assert_eq!(ok.nomination_close, date(2023, 7, 31));
        assert!(
            check_calendar(
                Office::District,
                date(2023, 7, 1),
                date(2023, 8, 9),
                None,
                None
            )
            .is_err()
        );
        assert!(
            check_calendar(
                Office::District,
                date(2022, 7, 1),
                date(2022, 9, 1),
                None,
                None
            )
            .is_err()
        );
        assert!(
            check_calendar(
                Office::Rural,
                date(2021, 6, 1),
                date(2021, 7, 25),
                None,
                None
            )
            .is_ok()
        );
        // Live, voting day must not be past.
        let today = Some(date(2025, 3, 1));
        assert!(
            check_calendar(
                Office::Rural,
                date(2025, 1, 1),
                date(2025, 2, 20),
                None,
                today
            )
            .is_err()
        );
        assert!(
            check_calendar(
                Office::Rural,
                date(2025, 1, 20),
                date(2025, 3, 1),
                None,
                today
            )
            .is_ok()
        );
        assert!(
            check_calendar(
                Office::Rural,
                date(2021, 6, 1),
                date(2021, 7, 25),
                Some(date(2021, 7, 25)),
                None
            )
            .is_err()
        );
    }

    #[test]
    fn candidates_are_at_least_25_on_voting_day() {
        let iin = Iin::parse("900101300007").unwrap();
        assert!(check_candidate_age(iin, date(2015, 1, 1)).is_ok());
        assert!(check_candidate_age(iin, date(2014, 12, 31)).is_err());
    }

    #[test]
    fn today_is_counted_in_kazakhstan() {
        let utc = chrono::Utc::now().date_naive();
        let local = today_in_kazakhstan();
        assert!(local == utc || local == utc + chrono::Days::new(1));
    }

    #[test]
    fn offices_fit_territories() {
        assert!(Office::Rural.fits(TerritoryKind::RuralDistrict));
        assert!(Office::District.fits(TerritoryKind::District));
        assert!(!Office::District.fits(TerritoryKind::Village));
        assert!(Office::City.fits(TerritoryKind::CityOfRegionalSignificance));
    }

    #[test]
    fn at_most_two_consecutive_elected_terms() {
        let a = "900101300007".to_owned();
        let b = "900101300811".to_owned();
        assert!(check_term_limit(&[(a.clone(), true)], &a).is_ok());
        assert!(check_term_limit(&[(a.clone(), true), (a.clone(), true)], &a).is_err());
        assert!(
            check_term_limit(
                &[(a.clone(), true), (b.clone(), true), (a.clone(), true)],
                &a
            )
            .is_ok()
        );
        assert!(check_term_limit(&[(a.clone(), false), (a.clone(), true)], &a).is_ok());
        assert_eq!(elected_term_end(date(2023, 8, 11)), date(2027, 8, 11));
    }
}
