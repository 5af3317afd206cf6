//! Elections, their polling stations, candidates and protocols.

// The enum DeriveActiveEnum makes of the offices' stored values
// (`..._akim`) shares a postfix by nature.
#![allow(clippy::enum_variant_names)]

use std::collections::HashMap;

use aimaq_error::Error;
use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, NotSet, QueryOrder, QuerySelect};

use crate::domain::election::{Counts, ElectionStatus, Nomination, Office, WinnerRule};

aimaq_storage::text_enum!(StatusColumn for ElectionStatus {
    Scheduled = "scheduled",
    Counting = "counting",
    Certified = "certified",
});

aimaq_storage::text_enum!(OfficeColumn for Office {
    Rural = "rural_akim",
    District = "district_akim",
    City = "city_akim",
});

aimaq_storage::text_enum!(RuleColumn for WinnerRule {
    Plurality = "plurality",
    AbsoluteMajority = "absolute_majority",
});

/// A nomination as stored. Not a `DeriveActiveEnum` column: its stored value
/// `self` would name a variant `Self`, which the derive cannot make.
pub fn nomination_text(nomination: Nomination) -> &'static str {
    match nomination {
        Nomination::Party => "party",
        Nomination::SelfNominated => "self",
    }
}

/// The nomination a candidate row holds.
pub fn nomination_of(candidate: &candidates::Model) -> Result<Nomination, Error> {
    match candidate.nomination.as_str() {
        "party" => Ok(Nomination::Party),
        "self" => Ok(Nomination::SelfNominated),
        other => Err(Error::internal(format!("stored nomination {other:?}"))),
    }
}

/// `elections/{id}`.
pub fn name(id: i64) -> String {
    format!("elections/{id}")
}

/// The id in an `elections/{id}` name, given in `field`.
pub fn parse_name(field: &str, name: &str) -> Result<i64, Error> {
    name.strip_prefix("elections/")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::invalid(field, "must be an election name: elections/{id}"))
}

/// `elections/{election}/candidates/{id}`.
pub fn candidate_name(election: i64, candidate: i64) -> String {
    format!("elections/{election}/candidates/{candidate}")
}

/// The candidate id in an `elections/{election}/candidates/{id}` name.
pub fn candidate_id(name: &str, election: i64) -> Option<i64> {
    name.strip_prefix(&format!("elections/{election}/candidates/"))?
        .parse()
        .ok()
}

/// `elections/{election}/stations/{number}`.
pub fn station_name(election: i64, number: i32) -> String {
    format!("elections/{election}/stations/{number}")
}

/// `elections/{election}/stations/{number}/protocol`: every version a
/// station submitted.
pub fn protocol_name(election: i64, number: i32) -> String {
    format!("{}/protocol", station_name(election, number))
}

pub mod elections {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "elections")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub territory_kato: String,
        pub office: super::OfficeColumn,
        pub call_date: Date,
        pub voting_date: Date,
        pub nomination_close_date: Date,
        pub winner_rule: super::RuleColumn,
        pub pilot: bool,
        pub previous_election: Option<i64>,
        pub round: i32,
        /// A repeat of an election that ended without a winner.
        pub is_repeat: bool,
        pub status: super::StatusColumn,
        /// Recorded from an archive: date rules do not apply to today.
        pub archival: bool,
        /// The certified outcome, in words.
        pub outcome: String,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod polling_stations {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "polling_stations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub election_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub number: i32,
        pub address: String,
        pub registered_voters: i64,
        pub closed: bool,
        pub close_reason: String,
        pub protocol_version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod candidates {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "candidates")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub election_id: i64,
        pub iin: String,
        pub full_name: String,
        pub birth_date: Date,
        /// party or self: see [`super::nomination_text`].
        pub nomination: String,
        pub party: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod protocols {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "protocols")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub election_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub station_number: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub ballots_issued: i64,
        pub against_all: i64,
        pub spoiled: i64,
        /// Candidate votes as `id:votes` pairs, comma-separated, in submission order.
        pub votes: String,
        pub correction_reason: String,
        pub submitted_by: String,
        pub submitted_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An election with its stations and candidates.
#[derive(Debug, Clone)]
pub struct ElectionRecord {
    pub election: elections::Model,
    pub stations: Vec<polling_stations::Model>,
    pub candidates: Vec<candidates::Model>,
}

/// An election with its stations and candidates; `lock` holds its row for the
/// rest of the transaction (on PostgreSQL).
pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<Option<ElectionRecord>, Error> {
    let Some(election) = find_row(db, id, lock).await? else {
        return Ok(None);
    };
    Ok(with_details(db, vec![election]).await?.pop())
}

/// The election's own row; `lock` holds it for the rest of the transaction.
pub async fn find_row(
    db: &impl ConnectionTrait,
    id: i64,
    lock: bool,
) -> Result<Option<elections::Model>, Error> {
    let mut query = elections::Entity::find_by_id(id);
    if lock {
        query = query.lock_exclusive();
    }
    Ok(query.one(db).await?)
}

pub async fn find_station(
    db: &impl ConnectionTrait,
    election_id: i64,
    number: i32,
) -> Result<Option<polling_stations::Model>, Error> {
    Ok(polling_stations::Entity::find_by_id((election_id, number))
        .one(db)
        .await?)
}

pub async fn candidates_of(
    db: &impl ConnectionTrait,
    election_id: i64,
) -> Result<Vec<candidates::Model>, Error> {
    Ok(candidates::Entity::find()
        .filter(candidates::Column::ElectionId.eq(election_id))
        .order_by_asc(candidates::Column::Id)
        .all(db)
        .await?)
}

/// Several elections with their stations and candidates, in three queries.
pub async fn with_details(
    db: &impl ConnectionTrait,
    elections: Vec<elections::Model>,
) -> Result<Vec<ElectionRecord>, Error> {
    let ids: Vec<i64> = elections.iter().map(|e| e.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut stations: HashMap<i64, Vec<polling_stations::Model>> = HashMap::new();
    for station in polling_stations::Entity::find()
        .filter(polling_stations::Column::ElectionId.is_in(ids.clone()))
        .order_by_asc(polling_stations::Column::Number)
        .all(db)
        .await?
    {
        stations
            .entry(station.election_id)
            .or_default()
            .push(station);
    }
    let mut candidates: HashMap<i64, Vec<candidates::Model>> = HashMap::new();
    for candidate in candidates::Entity::find()
        .filter(candidates::Column::ElectionId.is_in(ids))
        .order_by_asc(candidates::Column::Id)
        .all(db)
        .await?
    {
        candidates
            .entry(candidate.election_id)
            .or_default()
            .push(candidate);
    }
    Ok(elections
        .into_iter()
        .map(|election| ElectionRecord {
            stations: stations.remove(&election.id).unwrap_or_default(),
            candidates: candidates.remove(&election.id).unwrap_or_default(),
            election,
        })
        .collect())
}

pub struct NewElection {
    pub territory_kato: String,
    pub office: Office,
    pub call: NaiveDate,
    pub voting: NaiveDate,
    pub nomination_close: NaiveDate,
    pub winner_rule: WinnerRule,
    pub pilot: bool,
    pub previous_election: Option<i64>,
    pub round: i32,
    pub repeat: bool,
    pub archival: bool,
    /// (number, address, registered voters)
    pub stations: Vec<(i32, String, i64)>,
}

pub async fn insert(db: &impl ConnectionTrait, new: NewElection) -> Result<i64, Error> {
    let inserted = elections::Entity::insert(elections::ActiveModel {
        id: NotSet,
        territory_kato: Set(new.territory_kato),
        office: Set(new.office.into()),
        call_date: Set(new.call),
        voting_date: Set(new.voting),
        nomination_close_date: Set(new.nomination_close),
        winner_rule: Set(new.winner_rule.into()),
        pilot: Set(new.pilot),
        previous_election: Set(new.previous_election),
        round: Set(new.round),
        is_repeat: Set(new.repeat),
        status: Set(StatusColumn::Scheduled),
        archival: Set(new.archival),
        outcome: Set(String::new()),
        version: Set(1),
    })
    .exec(db)
    .await?;
    let id = inserted.last_insert_id;
    for (number, address, registered) in new.stations {
        insert_station(db, id, number, address, registered).await?;
    }
    Ok(id)
}

pub async fn insert_station(
    db: &impl ConnectionTrait,
    election_id: i64,
    number: i32,
    address: String,
    registered_voters: i64,
) -> Result<(), Error> {
    polling_stations::Entity::insert(polling_stations::ActiveModel {
        election_id: Set(election_id),
        number: Set(number),
        address: Set(address),
        registered_voters: Set(registered_voters),
        closed: Set(false),
        close_reason: Set(String::new()),
        protocol_version: Set(0),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Bumps the election's version (and sets its status/outcome when given).
pub async fn touch(
    db: &impl ConnectionTrait,
    current: &elections::Model,
    status: Option<ElectionStatus>,
    outcome: Option<String>,
) -> Result<elections::Model, Error> {
    let mut model: elections::ActiveModel = current.clone().into();
    model.version = Set(current.version + 1);
    if let Some(status) = status {
        model.status = Set(status.into());
    }
    if let Some(outcome) = outcome {
        model.outcome = Set(outcome);
    }
    Ok(model.update(db).await?)
}

pub async fn close_station(
    db: &impl ConnectionTrait,
    station: &polling_stations::Model,
    reason: &str,
) -> Result<(), Error> {
    let mut model: polling_stations::ActiveModel = station.clone().into();
    model.closed = Set(true);
    model.close_reason = Set(reason.to_owned());
    model.update(db).await?;
    Ok(())
}

pub async fn insert_candidate(
    db: &impl ConnectionTrait,
    candidate: candidates::Model,
) -> Result<candidates::Model, Error> {
    let mut model: candidates::ActiveModel = candidate.into();
    model.id = NotSet;
    Ok(model.insert(db).await?)
}

fn encode_votes(votes: &[(i64, i64)]) -> String {
    votes
        .iter()
        .map(|(candidate, count)| format!("{candidate}:{count}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn decode_votes(text: &str) -> Result<Vec<(i64, i64)>, Error> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|pair| {
            let (candidate, count) = pair
                .split_once(':')
                .ok_or_else(|| Error::internal("stored protocol votes are malformed"))?;
            Ok((
                candidate
                    .parse()
                    .map_err(|_| Error::internal("stored candidate id"))?,
                count
                    .parse()
                    .map_err(|_| Error::internal("stored vote count"))?,
            ))
        })
        .collect()
}

pub fn counts(protocol: &protocols::Model) -> Result<Counts, Error> {
    Ok(Counts {
        ballots_issued: protocol.ballots_issued,
        votes: decode_votes(&protocol.votes)?,
        against_all: protocol.against_all,
        spoiled: protocol.spoiled,
    })
}

/// Stores a new protocol version for a station and points the station at it.
pub async fn insert_protocol(
    db: &impl ConnectionTrait,
    station: &polling_stations::Model,
    counts: &Counts,
    correction_reason: &str,
    submitted_by: &str,
    now_micros: i64,
) -> Result<protocols::Model, Error> {
    let version = station.protocol_version + 1;
    let model = protocols::Model {
        election_id: station.election_id,
        station_number: station.number,
        version,
        ballots_issued: counts.ballots_issued,
        against_all: counts.against_all,
        spoiled: counts.spoiled,
        votes: encode_votes(&counts.votes),
        correction_reason: correction_reason.to_owned(),
        submitted_by: submitted_by.to_owned(),
        submitted_at_micros: now_micros,
    };
    protocols::Entity::insert::<protocols::ActiveModel>(model.clone().into())
        .exec_without_returning(db)
        .await?;
    let mut station_model: polling_stations::ActiveModel = station.clone().into();
    station_model.protocol_version = Set(version);
    station_model.update(db).await?;
    Ok(model)
}

/// The accepted (latest) protocol of every station that has one.
pub async fn current_protocols(
    db: &impl ConnectionTrait,
    record: &ElectionRecord,
) -> Result<Vec<protocols::Model>, Error> {
    let wanted: HashMap<i32, i64> = record
        .stations
        .iter()
        .filter(|s| s.protocol_version > 0)
        .map(|s| (s.number, s.protocol_version))
        .collect();
    Ok(protocols::Entity::find()
        .filter(protocols::Column::ElectionId.eq(record.election.id))
        .order_by_asc(protocols::Column::StationNumber)
        .all(db)
        .await?
        .into_iter()
        .filter(|p| wanted.get(&p.station_number) == Some(&p.version))
        .collect())
}

/// Protocols of an election, optionally one station's, optionally with history.
pub async fn protocols(
    db: &impl ConnectionTrait,
    record: &ElectionRecord,
    station_number: Option<i32>,
    include_history: bool,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<protocols::Model>, String), Error> {
    let mut query =
        protocols::Entity::find().filter(protocols::Column::ElectionId.eq(record.election.id));
    if let Some(number) = station_number {
        query = query.filter(protocols::Column::StationNumber.eq(number));
    }
    let rows: Vec<protocols::Model> = query
        .order_by_asc(protocols::Column::StationNumber)
        .order_by_asc(protocols::Column::Version)
        .all(db)
        .await?;
    let current: HashMap<i32, i64> = record
        .stations
        .iter()
        .map(|s| (s.number, s.protocol_version))
        .collect();
    let key = |p: &protocols::Model| format!("{:010}:{:010}", p.station_number, p.version);
    let rows: Vec<protocols::Model> = rows
        .into_iter()
        .filter(|p| include_history || current.get(&p.station_number) == Some(&p.version))
        .filter(|p| page.after.as_ref().is_none_or(|after| key(p) > *after))
        .take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX))
        .collect();
    Ok(page.finish(rows, key))
}

/// Elections matching a filter, by id.
pub async fn list(
    db: &impl ConnectionTrait,
    kato_prefix: Option<String>,
    status: Option<ElectionStatus>,
    year: Option<i32>,
    pilot_only: bool,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<elections::Model>, String), Error> {
    let mut query = elections::Entity::find();
    if let Some(prefix) = kato_prefix {
        query = query.filter(aimaq_storage::subtree::within(
            elections::Column::TerritoryKato,
            &prefix,
        ));
    }
    if let Some(status) = status {
        query = query.filter(elections::Column::Status.eq(StatusColumn::from(status)));
    }
    if let Some(year) = year {
        let first = NaiveDate::from_ymd_opt(year, 1, 1)
            .ok_or_else(|| Error::invalid("year", "out of range"))?;
        let last = NaiveDate::from_ymd_opt(year, 12, 31)
            .ok_or_else(|| Error::invalid("year", "out of range"))?;
        query = query
            .filter(elections::Column::VotingDate.gte(first))
            .filter(elections::Column::VotingDate.lte(last));
    }
    if pilot_only {
        query = query.filter(elections::Column::Pilot.eq(true));
    }
    if let Some(after) = &page.after {
        let after: i64 = after
            .parse()
            .map_err(|_| Error::invalid("page_token", "malformed"))?;
        query = query.filter(elections::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(elections::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(page.finish(rows, |row| row.id.to_string()))
}

/// The id of the last election scheduled for this very territory, if any.
pub async fn latest_of(db: &impl ConnectionTrait, territory: &str) -> Result<Option<i64>, Error> {
    let latest = elections::Entity::find()
        .filter(elections::Column::TerritoryKato.eq(territory))
        .order_by_desc(elections::Column::Id)
        .one(db)
        .await?;
    Ok(latest.map(|row| row.id))
}
