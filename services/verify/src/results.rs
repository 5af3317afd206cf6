//! An election's results bundle, checked and recounted offline: every piece
//! of evidence must be in the log as checkpointed (its rows hash to the state
//! its last change committed to, that change's record is included), and the
//! tally recomputed from the counted protocols under the election's rule
//! must be the certified one. Nothing here is the services' code: the rules
//! are written again from the law's wording, so that a fault in one does not
//! hide in both.

use std::collections::BTreeMap;

use aimaq_proto::common::v1::{ResourceEvidence, StateRow};
use aimaq_proto::governance::v1::ElectionResultsBundle;
use aimaq_tlog::NoteVerifier;
use aimaq_tlog::state::{row_hash, state_digest};

use crate::checks::{FeedEvent, Finding, check_events, check_included, hashes, open_checkpoint};

/// What a bundle proved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recount {
    pub election: String,
    /// The log size the evidence was proven against.
    pub tree_size: u64,
    pub stations_counted: usize,
    /// Votes by candidate id, recounted.
    pub votes: BTreeMap<i64, i64>,
    pub against_all: i64,
    pub spoiled: i64,
    /// `winner:{id}`, `runoff:{a}:{b}` or `repeat`, as recounted and certified.
    pub outcome: String,
}

fn malformed(what: impl Into<String>) -> Finding {
    Finding::Malformed(what.into())
}

/// The pages of a bundle, in the order served, as one bundle: the first
/// page's checkpoint, which every later page's proofs are against, and every
/// page's evidence. A page of another election, or a later page with a
/// checkpoint of its own, is refused.
pub fn join_pages(pages: Vec<ElectionResultsBundle>) -> Result<ElectionResultsBundle, Finding> {
    let mut pages = pages.into_iter();
    let mut bundle = pages
        .next()
        .ok_or_else(|| malformed("the bundle has no pages"))?;
    for (index, page) in pages.enumerate() {
        let number = index + 2;
        if page.election != bundle.election {
            return Err(malformed(format!(
                "page {number} is of {}, not {}",
                page.election, bundle.election
            )));
        }
        if page.checkpoint.is_some() {
            return Err(malformed(format!(
                "page {number} has a checkpoint of its own: only the first page's proves the bundle"
            )));
        }
        bundle.evidence.extend(page.evidence);
    }
    Ok(bundle)
}

/// Checks every piece of evidence of `bundle`, then recounts.
pub fn verify_bundle(
    bundle: &ElectionResultsBundle,
    log_key: &NoteVerifier,
) -> Result<Recount, Finding> {
    let note = bundle.checkpoint.as_ref().map(|c| c.note.as_str());
    let checkpoint = open_checkpoint(note.unwrap_or_default(), log_key, &[])?.checkpoint;
    for evidence in &bundle.evidence {
        check_evidence(evidence, &checkpoint)?;
    }
    let (results, protocols) = bundle
        .evidence
        .split_first()
        .ok_or_else(|| malformed("the bundle holds no evidence"))?;
    let certified_name = format!("{}/results", bundle.election);
    if results.resource_type != "election_results" || results.resource_name != certified_name {
        return Err(malformed(format!(
            "the bundle's first evidence is not {certified_name}"
        )));
    }
    let certified = Certified::read(one_row(results, "certified_results")?)?;
    let certified_at = sequence_of(results);
    let mut recount = Recount {
        election: bundle.election.clone(),
        tree_size: checkpoint.size,
        stations_counted: certified.counted.len(),
        votes: certified.votes.keys().map(|c| (*c, 0)).collect(),
        against_all: 0,
        spoiled: 0,
        outcome: String::new(),
    };
    if protocols.len() != certified.counted.len() {
        return Err(malformed(format!(
            "the certification counted {} protocols; the bundle holds {}",
            certified.counted.len(),
            protocols.len()
        )));
    }
    for ((station, version), evidence) in certified.counted.iter().zip(protocols) {
        let name = format!("{}/stations/{station}/protocol", bundle.election);
        if evidence.resource_name != name || evidence.resource_type != "protocol" {
            return Err(malformed(format!("the evidence of {name} is missing")));
        }
        if sequence_of(evidence) >= certified_at {
            return Err(differs(format!(
                "{name} was changed after the certification"
            )));
        }
        let counts = protocol_version(evidence, *version)?;
        add(&mut recount, &counts, &name)?;
    }
    recount.outcome = outcome(&certified.rule, &recount)?;
    compare(&certified, &recount)?;
    Ok(recount)
}

fn differs(reason: String) -> Finding {
    Finding::RecountDiffers { reason }
}

fn sequence_of(evidence: &ResourceEvidence) -> u64 {
    evidence.record.as_ref().map_or(0, |r| r.sequence)
}

/// The evidence's record is in the log, its events are those it committed
/// to, and the rows are the state the resource's event committed to.
fn check_evidence(
    evidence: &ResourceEvidence,
    checkpoint: &aimaq_tlog::Checkpoint,
) -> Result<(), Finding> {
    let name = &evidence.resource_name;
    let record = evidence
        .record
        .as_ref()
        .ok_or_else(|| malformed(format!("{name}: no audit record")))?;
    let proof = evidence
        .proof
        .as_ref()
        .ok_or_else(|| malformed(format!("{name}: no inclusion proof")))?;
    if proof.tree_size != checkpoint.size {
        return Err(malformed(format!(
            "{name}: the proof is for size {}, the checkpoint's is {}",
            proof.tree_size, checkpoint.size
        )));
    }
    check_included(record, checkpoint, &hashes(&proof.hashes)?)?;
    let events: Vec<FeedEvent> = evidence.events.iter().map(FeedEvent::from).collect();
    check_events(record, &events)?;
    let committed = events
        .iter()
        .rev()
        .find(|e| &e.resource_name == name && e.resource_type == evidence.resource_type)
        .ok_or_else(|| malformed(format!("{name}: its record did not change it")))?;
    let rows = evidence.rows.iter().map(|row| {
        let columns = row.columns.iter();
        row_hash(
            &row.table,
            columns.map(|c| (c.name.as_str(), c.value.as_str())),
        )
    });
    if state_digest(&evidence.resource_type, rows.collect()) != committed.state_digest {
        return Err(Finding::StateDiffers {
            resource: name.clone(),
        });
    }
    Ok(())
}

fn one_row<'a>(evidence: &'a ResourceEvidence, table: &str) -> Result<&'a StateRow, Finding> {
    match evidence.rows.as_slice() {
        [row] if row.table == table => Ok(row),
        _ => Err(malformed(format!(
            "{}: one {table} row expected",
            evidence.resource_name
        ))),
    }
}

/// A column's value as an SQL literal.
fn column<'a>(row: &'a StateRow, name: &str) -> Result<&'a str, Finding> {
    row.columns
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.value.as_str())
        .ok_or_else(|| malformed(format!("{}: no column {name}", row.table)))
}

fn text(row: &StateRow, name: &str) -> Result<String, Finding> {
    let literal = column(row, name)?;
    literal
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
        .map(|inner| inner.replace("''", "'"))
        .ok_or_else(|| malformed(format!("{}.{name} is not text", row.table)))
}

fn number(row: &StateRow, name: &str) -> Result<i64, Finding> {
    column(row, name)?
        .parse()
        .map_err(|_| malformed(format!("{}.{name} is not a number", row.table)))
}

/// `a:b,c:d` pairs of numbers.
fn pairs(text: &str, what: &str) -> Result<Vec<(i64, i64)>, Finding> {
    text.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (a, b) = pair.split_once(':').unwrap_or_default();
            Ok((
                a.parse()
                    .map_err(|_| malformed(format!("{what}: {pair}")))?,
                b.parse()
                    .map_err(|_| malformed(format!("{what}: {pair}")))?,
            ))
        })
        .collect()
}

/// What the certification counted and concluded, as its row says.
struct Certified {
    rule: String,
    counted: Vec<(i64, i64)>,
    votes: BTreeMap<i64, i64>,
    against_all: i64,
    spoiled: i64,
    outcome: String,
}

impl Certified {
    fn read(row: &StateRow) -> Result<Certified, Finding> {
        Ok(Certified {
            rule: text(row, "rule")?,
            counted: pairs(&text(row, "counted")?, "counted")?,
            votes: pairs(&text(row, "votes")?, "votes")?.into_iter().collect(),
            against_all: number(row, "against_all")?,
            spoiled: number(row, "spoiled")?,
            outcome: text(row, "outcome")?,
        })
    }
}

/// One protocol's counts.
struct Counts {
    votes: Vec<(i64, i64)>,
    against_all: i64,
    spoiled: i64,
}

/// The counts of the protocol version `version` among a station's rows.
fn protocol_version(evidence: &ResourceEvidence, version: i64) -> Result<Counts, Finding> {
    for row in evidence.rows.iter().filter(|r| r.table == "protocols") {
        if number(row, "version")? == version {
            return Ok(Counts {
                votes: pairs(&text(row, "votes")?, "votes")?,
                against_all: number(row, "against_all")?,
                spoiled: number(row, "spoiled")?,
            });
        }
    }
    Err(malformed(format!(
        "{}: the counted version {version} is not among its protocols",
        evidence.resource_name
    )))
}

fn add(recount: &mut Recount, counts: &Counts, name: &str) -> Result<(), Finding> {
    let overflow = || malformed(format!("{name}: counts out of range"));
    for (candidate, votes) in &counts.votes {
        let total = recount.votes.get_mut(candidate).ok_or_else(|| {
            differs(format!(
                "{name} gives votes to an unknown candidate {candidate}"
            ))
        })?;
        *total = total.checked_add(*votes).ok_or_else(overflow)?;
    }
    recount.against_all = recount
        .against_all
        .checked_add(counts.against_all)
        .ok_or_else(overflow)?;
    recount.spoiled = recount
        .spoiled
        .checked_add(counts.spoiled)
        .ok_or_else(overflow)?;
    Ok(())
}

/// The outcome under the rule. Plurality: the one candidate with the most
/// votes wins if they have some and more than "against all"; a tie, no
/// votes, or "against all" not behind means a repeat election. Absolute
/// majority: more than half the ballots cast wins; otherwise the two leaders
/// meet in a runoff, unless "against all" has the majority or second place is
/// tied or empty (a repeat).
fn outcome(rule: &str, recount: &Recount) -> Result<String, Finding> {
    let mut ranking: Vec<(i64, i64)> = recount.votes.iter().map(|(c, v)| (*c, *v)).collect();
    ranking.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let Some(&(leader, leading)) = ranking.first() else {
        return Ok("repeat".into());
    };
    let tied = ranking.iter().filter(|(_, v)| *v == leading).count();
    let cast: i128 = ranking.iter().map(|(_, v)| i128::from(*v)).sum::<i128>()
        + i128::from(recount.against_all)
        + i128::from(recount.spoiled);
    let decided = match rule {
        "plurality" => {
            if leading > 0 && tied == 1 && recount.against_all < leading {
                format!("winner:{leader}")
            } else {
                "repeat".into()
            }
        }
        "absolute_majority" => {
            if tied == 1 && i128::from(leading) * 2 > cast {
                format!("winner:{leader}")
            } else if i128::from(recount.against_all) * 2 > cast {
                "repeat".into()
            } else {
                match ranking.as_slice() {
                    [(first, _), (second, votes), rest @ ..]
                        if *votes > 0 && rest.first().is_none_or(|(_, v)| v < votes) =>
                    {
                        format!("runoff:{first}:{second}")
                    }
                    _ => "repeat".into(),
                }
            }
        }
        other => return Err(malformed(format!("unknown winner rule {other}"))),
    };
    Ok(decided)
}

fn compare(certified: &Certified, recount: &Recount) -> Result<(), Finding> {
    if certified.votes != recount.votes {
        return Err(differs(format!(
            "the protocols give the candidates {:?}; the certification {:?}",
            recount.votes, certified.votes
        )));
    }
    if (certified.against_all, certified.spoiled) != (recount.against_all, recount.spoiled) {
        return Err(differs(format!(
            "the protocols give {} against all and {} spoiled; the certification {} and {}",
            recount.against_all, recount.spoiled, certified.against_all, certified.spoiled
        )));
    }
    if certified.outcome != recount.outcome {
        return Err(differs(format!(
            "the recount concludes {}; the certification {}",
            recount.outcome, certified.outcome
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(votes: &[(i64, i64)], against_all: i64, spoiled: i64) -> Recount {
        Recount {
            election: "elections/1".into(),
            tree_size: 1,
            stations_counted: 1,
            votes: votes.iter().copied().collect(),
            against_all,
            spoiled,
            outcome: String::new(),
        }
    }

    fn decide(rule: &str, votes: &[(i64, i64)], against_all: i64) -> String {
        outcome(rule, &tally(votes, against_all, 0)).unwrap()
    }

    #[test]
    fn plurality_needs_a_single_leader_ahead_of_against_all() {
        assert_eq!(decide("plurality", &[(1, 50), (2, 40)], 10), "winner:1");
        assert_eq!(decide("plurality", &[(1, 50), (2, 50)], 10), "repeat");
        assert_eq!(decide("plurality", &[(1, 50), (2, 40)], 50), "repeat");
        assert_eq!(decide("plurality", &[(1, 0), (2, 0)], 0), "repeat");
        assert_eq!(decide("plurality", &[], 0), "repeat");
    }

    #[test]
    fn an_absolute_majority_wins_or_the_leaders_meet_again() {
        assert_eq!(
            decide("absolute_majority", &[(1, 60), (2, 30)], 10),
            "winner:1"
        );
        assert_eq!(
            decide("absolute_majority", &[(1, 40), (2, 35), (3, 25)], 0),
            "runoff:1:2"
        );
        assert_eq!(
            decide("absolute_majority", &[(1, 20), (2, 20)], 60),
            "repeat"
        );
        assert_eq!(
            decide("absolute_majority", &[(1, 40), (2, 30), (3, 30)], 0),
            "repeat"
        );
        assert!(outcome("lottery", &tally(&[(1, 1)], 0, 0)).is_err());
    }

    #[test]
    fn literals_are_read_as_written() {
        let row = StateRow {
            table: "t".into(),
            columns: vec![
                aimaq_proto::common::v1::StateColumn {
                    name: "reason".into(),
                    value: "'the akim''s term'".into(),
                },
                aimaq_proto::common::v1::StateColumn {
                    name: "spoiled".into(),
                    value: "12".into(),
                },
            ],
        };
        assert_eq!(text(&row, "reason").unwrap(), "the akim's term");
        assert_eq!(number(&row, "spoiled").unwrap(), 12);
        assert!(number(&row, "reason").is_err());
        assert!(text(&row, "missing").is_err());
        assert_eq!(pairs("1:2,3:4", "x").unwrap(), vec![(1, 2), (3, 4)]);
        assert!(pairs("1:2,x", "x").is_err());
    }
}
