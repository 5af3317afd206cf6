//! The governance resources whose state the change events commit to (see
//! `aimaq_records::ResourceStates`): each type's rows and how a name selects them.

use aimaq_records::{ResourceStates, StateTable, name_fields, name_number as number};
use sea_orm::{ColumnTrait, Condition};

use super::election::{
    candidate_name, candidates, elections, polling_stations, protocols, station_name,
};
use super::local_budget::{indicator_name, indicators, revenue_name, revenues};
use super::results::{certified, certified_name};
use super::{akim, election, territory};

/// The id in a name of the shape `collection/*`.
fn id_in(name: &str, shape: &str) -> Option<i64> {
    number(name_fields(name, shape)?[0])
}

pub fn states() -> ResourceStates {
    ResourceStates::default()
        .with(StateTable::<territory::Entity> {
            resource_type: "territory",
            name_of: |row| format!("territories/{}", row.kato),
            rows_of: |name| {
                let f = name_fields(name, "territories/*")?;
                Some(Condition::all().add(territory::Column::Kato.eq(f[0])))
            },
            skip: &[],
        })
        .with(StateTable::<akim::Entity> {
            resource_type: "akim",
            name_of: |row| akim::name(row.id),
            rows_of: |name| {
                Some(Condition::all().add(akim::Column::Id.eq(id_in(name, "akims/*")?)))
            },
            skip: &[],
        })
        .with(StateTable::<elections::Entity> {
            resource_type: "election",
            name_of: |row| election::name(row.id),
            rows_of: |name| {
                let id = id_in(name, "elections/*")?;
                Some(Condition::all().add(elections::Column::Id.eq(id)))
            },
            skip: &[],
        })
        .with(StateTable::<polling_stations::Entity> {
            resource_type: "polling_station",
            name_of: |row| station_name(row.election_id, row.number),
            rows_of: |name| {
                let f = name_fields(name, "elections/*/stations/*")?;
                Some(
                    Condition::all()
                        .add(polling_stations::Column::ElectionId.eq(number::<i64>(f[0])?))
                        .add(polling_stations::Column::Number.eq(number::<i32>(f[1])?)),
                )
            },
            // Which protocol is current: the protocol's own change moves it.
            skip: &["protocol_version"],
        })
        .with(StateTable::<candidates::Entity> {
            resource_type: "candidate",
            name_of: |row| candidate_name(row.election_id, row.id),
            rows_of: |name| {
                let f = name_fields(name, "elections/*/candidates/*")?;
                Some(
                    Condition::all()
                        .add(candidates::Column::ElectionId.eq(number::<i64>(f[0])?))
                        .add(candidates::Column::Id.eq(number::<i64>(f[1])?)),
                )
            },
            skip: &[],
        })
        .with(StateTable::<protocols::Entity> {
            resource_type: "protocol",
            // Every version a station submitted: corrections keep the ones before.
            name_of: |row| {
                format!(
                    "{}/protocol",
                    station_name(row.election_id, row.station_number)
                )
            },
            rows_of: |name| {
                let f = name_fields(name, "elections/*/stations/*/protocol")?;
                Some(
                    Condition::all()
                        .add(protocols::Column::ElectionId.eq(number::<i64>(f[0])?))
                        .add(protocols::Column::StationNumber.eq(number::<i32>(f[1])?)),
                )
            },
            skip: &[],
        })
        .with(StateTable::<certified::Entity> {
            resource_type: "election_results",
            name_of: |row| certified_name(row.election_id),
            rows_of: |name| {
                let id = id_in(name, "elections/*/results")?;
                Some(Condition::all().add(certified::Column::ElectionId.eq(id)))
            },
            skip: &[],
        })
        .with(StateTable::<revenues::Entity> {
            resource_type: "revenue",
            name_of: |row| revenue_name(row.id),
            rows_of: |name| {
                let id = id_in(name, "revenues/*")?;
                Some(Condition::all().add(revenues::Column::Id.eq(id)))
            },
            skip: &[],
        })
        .with(StateTable::<indicators::Entity> {
            resource_type: "indicator",
            name_of: |row| indicator_name(&row.territory_kato, &row.kind, &row.figure, row.year),
            rows_of: |name| {
                let f = name_fields(name, "indicators/*/*/*/*")?;
                let code = if f[0] == "national" { "" } else { f[0] };
                Some(
                    Condition::all()
                        .add(indicators::Column::TerritoryKato.eq(code))
                        .add(indicators::Column::Kind.eq(f[1]))
                        .add(indicators::Column::Figure.eq(f[2]))
                        .add(indicators::Column::Year.eq(number::<i32>(f[3])?)),
                )
            },
            skip: &[],
        })
}
