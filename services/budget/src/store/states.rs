//! The budget resources whose state the change events commit to (see
//! `aimaq_records::ResourceStates`): each type's rows and how a name selects them.

use aimaq_records::{ResourceStates, StateTable, name_fields, name_number as number};
use sea_orm::{ColumnTrait, Condition};

use super::program::{envelope_name, envelopes, programs};
use super::project::{disbursements, projects};
use super::standard::statuses;
use super::target::program_targets;
use super::{allocation, program, project};

pub fn states() -> ResourceStates {
    ResourceStates::default()
        .with(StateTable::<programs::Entity> {
            resource_type: "program",
            name_of: |row| program::name(&row.code),
            rows_of: |name| {
                let f = name_fields(name, "programs/*")?;
                Some(Condition::all().add(programs::Column::Code.eq(f[0])))
            },
            skip: &[],
        })
        .with(StateTable::<envelopes::Entity> {
            resource_type: "envelope",
            name_of: |row| envelope_name(&row.program_code, row.fiscal_year),
            rows_of: |name| {
                let f = name_fields(name, "programs/*/envelopes/*")?;
                Some(
                    Condition::all()
                        .add(envelopes::Column::ProgramCode.eq(f[0]))
                        .add(envelopes::Column::FiscalYear.eq(number::<i32>(f[1])?)),
                )
            },
            skip: &[],
        })
        .with(StateTable::<allocation::Entity> {
            resource_type: "allocation",
            name_of: |row| {
                format!(
                    "allocations/{}/{}/{}",
                    row.program_code, row.fiscal_year, row.territory_kato
                )
            },
            rows_of: |name| {
                let f = name_fields(name, "allocations/*/*/*")?;
                Some(
                    Condition::all()
                        .add(allocation::Column::ProgramCode.eq(f[0]))
                        .add(allocation::Column::FiscalYear.eq(number::<i32>(f[1])?))
                        .add(allocation::Column::TerritoryKato.eq(f[2])),
                )
            },
            // Running totals of the projects below, which projects' changes
            // move without a new version of the allocation; the projects
            // themselves are committed to.
            skip: &[
                "disbursed_tiyn",
                "updated_at_micros",
                "projects_planned",
                "projects_approved",
                "projects_in_progress",
                "projects_completed",
                "projects_cancelled",
            ],
        })
        .with(StateTable::<projects::Entity> {
            resource_type: "project",
            name_of: |row| project::name(row.id),
            rows_of: |name| {
                let id: i64 = number(name_fields(name, "projects/*")?[0])?;
                Some(Condition::all().add(projects::Column::Id.eq(id)))
            },
            skip: &[],
        })
        .with(StateTable::<disbursements::Entity> {
            resource_type: "project",
            name_of: |row| project::name(row.project_id),
            rows_of: |name| {
                let id: i64 = number(name_fields(name, "projects/*")?[0])?;
                Some(Condition::all().add(disbursements::Column::ProjectId.eq(id)))
            },
            skip: &[],
        })
        .with(StateTable::<program_targets::Entity> {
            resource_type: "program_target",
            name_of: |row| row.name.clone(),
            rows_of: |name| Some(Condition::all().add(program_targets::Column::Name.eq(name))),
            skip: &[],
        })
        .with(StateTable::<statuses::Entity> {
            resource_type: "standard_status",
            name_of: |row| {
                format!(
                    "settlements/{}/standards/{}",
                    row.settlement_kato, row.standard_code
                )
            },
            rows_of: |name| {
                let f = name_fields(name, "settlements/*/standards/*")?;
                Some(
                    Condition::all()
                        .add(statuses::Column::SettlementKato.eq(f[0]))
                        .add(statuses::Column::StandardCode.eq(f[1])),
                )
            },
            skip: &[],
        })
}
