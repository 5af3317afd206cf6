//! The grants resources whose state the change events commit to (see
//! `aimaq_records::ResourceStates`): each type's rows and how a name selects them.

use aimaq_records::{ResourceStates, StateTable, name_fields, name_number as number};
use sea_orm::{ColumnTrait, Condition};

use super::application::{self, applications};
use super::quota::quotas;
use super::statistics::{historical, historical_name};
use super::terms::{mci_rates, policies};

pub fn states() -> ResourceStates {
    ResourceStates::default()
        .with(StateTable::<applications::Entity> {
            resource_type: "application",
            name_of: |row| application::name(row.id),
            rows_of: |name| {
                let id: i64 = number(name_fields(name, "applications/*")?[0])?;
                Some(Condition::all().add(applications::Column::Id.eq(id)))
            },
            skip: &[],
        })
        .with(StateTable::<quotas::Entity> {
            resource_type: "quota",
            name_of: |row| format!("quotas/{}/{}", row.region_kato, row.year),
            rows_of: |name| {
                let f = name_fields(name, "quotas/*/*")?;
                Some(
                    Condition::all()
                        .add(quotas::Column::RegionKato.eq(f[0]))
                        .add(quotas::Column::Year.eq(number::<i32>(f[1])?)),
                )
            },
            skip: &[],
        })
        .with(StateTable::<historical::Entity> {
            resource_type: "historical_aggregate",
            name_of: |row| historical_name(row.year, &row.region_kato),
            rows_of: |name| {
                let f = name_fields(name, "historical-aggregates/*/*")?;
                let region = if f[1] == "national" { "" } else { f[1] };
                Some(
                    Condition::all()
                        .add(historical::Column::Year.eq(number::<i32>(f[0])?))
                        .add(historical::Column::RegionKato.eq(region)),
                )
            },
            skip: &[],
        })
        .with(StateTable::<mci_rates::Entity> {
            resource_type: "mci_rate",
            name_of: |row| format!("mci-rates/{}", row.effective_from),
            rows_of: |name| {
                let f = name_fields(name, "mci-rates/*")?;
                Some(Condition::all().add(mci_rates::Column::EffectiveFrom.eq(f[0])))
            },
            skip: &[],
        })
        .with(StateTable::<policies::Entity> {
            resource_type: "policy",
            name_of: |row| format!("policies/{}", row.effective_from),
            rows_of: |name| {
                let f = name_fields(name, "policies/*")?;
                Some(Condition::all().add(policies::Column::EffectiveFrom.eq(f[0])))
            },
            skip: &[],
        })
}
