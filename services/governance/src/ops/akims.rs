//! Holders of akim posts: appointed, or elected by a certified election.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, within};
use aimaq_types::{Iin, Kato};
use chrono::NaiveDate;
use sea_orm::ConnectionTrait;

use crate::domain::election::{check_term_limit, elected_term_end};
use crate::store;
use crate::store::akim::{Model as Akim, NewAkim, name};
use crate::store::election::StatusColumn;

/// Every holder of the territory's post, oldest first.
pub async fn history(records: &Records, territory: Kato) -> Result<Vec<Akim>, Error> {
    store::akim::history(records.database().connection(), &territory.to_string()).await
}

/// The change events of a new holder and of the predecessor who left.
pub fn changes(akim: &Akim, predecessor: Option<&Akim>) -> Vec<Change> {
    let created = Change {
        resource_type: "akim",
        resource_name: name(akim.id),
        action: ChangeAction::Created,
        version: akim.version,
        resource: None,
    };
    let left = predecessor.map(|previous| Change {
        resource_type: "akim",
        resource_name: name(previous.id),
        action: ChangeAction::Updated,
        version: previous.version,
        resource: None,
    });
    [created].into_iter().chain(left).collect()
}

/// Records the winner of certified election `election` as the territory's
/// elected akim from `term_start`, within the term limit.
pub async fn elect(
    tx: &impl ConnectionTrait,
    (territory, election): (&str, i64),
    (iin, full_name): (&str, &str),
    term_start: NaiveDate,
) -> Result<(Akim, Option<Akim>), Error> {
    let history = store::akim::mandates(tx, territory).await?;
    check_term_limit(&history, iin)?;
    let new = NewAkim {
        territory_kato: territory,
        iin,
        full_name,
        elected: true,
        term_start,
        term_end: Some(elected_term_end(term_start)),
        election_id: Some(election),
    };
    store::akim::appoint(tx, new).await
}

/// AppointAkim, checked.
pub struct Appoint {
    pub territory: Kato,
    pub iin: Iin,
    pub full_name: String,
    pub elected: bool,
    pub term_start: NaiveDate,
    pub term_end: Option<NaiveDate>,
    /// The election an elected akim won.
    pub election: Option<i64>,
}

/// Checks that `election` is a certified election of the territory with the
/// akim among its candidates, and the term limit.
async fn check_elected(tx: &impl ConnectionTrait, asked: &Appoint, id: i64) -> Result<(), Error> {
    let code = asked.territory.to_string();
    let election = store::election::name(id);
    let record = store::election::find(tx, id, false)
        .await?
        .ok_or_else(|| Error::not_found("election", &election))?;
    let iin = asked.iin.to_string();
    let won = record.election.status == StatusColumn::Certified
        && record.election.territory_kato == code
        && record.candidates.iter().any(|c| c.iin == iin);
    if !won {
        return Err(Error::precondition(
            "ELECTED",
            &election,
            format!(
                "{election} is not a certified election of {code} with {iin} among its candidates"
            ),
        ));
    }
    check_term_limit(&store::akim::mandates(tx, &code).await?, &iin)
}

pub async fn appoint<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &Appoint,
    answer: impl Fn(&Akim, Option<&Akim>) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                store::territory::require(tx, asked.territory).await?;
                if let Some(id) = asked.election {
                    check_elected(tx, asked, id).await?;
                }
                let term_end = match (asked.elected, asked.term_end) {
                    (true, end) => Some(end.unwrap_or(elected_term_end(asked.term_start))),
                    (false, end) => end,
                };
                let (code, iin) = (asked.territory.to_string(), asked.iin.to_string());
                let new = NewAkim {
                    territory_kato: &code,
                    iin: &iin,
                    full_name: &asked.full_name,
                    elected: asked.elected,
                    term_start: asked.term_start,
                    term_end,
                    election_id: asked.election,
                };
                let (akim, predecessor) = store::akim::appoint(tx, new).await?;
                let changes = changes(&akim, predecessor.as_ref());
                Ok((answer(&akim, predecessor.as_ref()), changes))
            })
        })
        .await
}
