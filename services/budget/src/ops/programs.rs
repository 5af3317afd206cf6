//! Programmes and their yearly envelopes.

use aimaq_error::Error;
use aimaq_records::{Answer, Change, ChangeAction, Mutation, Records, next_version, within};
use aimaq_storage::paging::Page;
use aimaq_types::Money;

use crate::domain::program::{Envelope, Program, ProgramKind, check_envelope};
use crate::store::program::{self as store, envelope_name, name};

/// Stores a new programme (its creation time set here).
pub async fn create<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    program: &Program,
    answer: impl Fn(&Program) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let name = name(&program.code);
                if store::find(tx, &program.code).await?.is_some() {
                    return Err(Error::already_exists(
                        "program",
                        &name,
                        format!("{name} exists"),
                    ));
                }
                let program = Program {
                    created_at_micros: super::now_micros(),
                    ..program.clone()
                };
                store::insert(tx, program.clone()).await?;
                let created = Change {
                    resource_type: "program",
                    resource_name: name,
                    action: ChangeAction::Created,
                    version: 1,
                    resource: None,
                };
                Ok((answer(&program), vec![created]))
            })
        })
        .await
}

/// The programme and all its envelopes.
pub async fn get(records: &Records, code: &str) -> Result<(Program, Vec<Envelope>), Error> {
    let db = records.database().connection();
    let program = store::get(db, code).await?;
    let envelopes = store::envelopes_of(db, &program.code).await?;
    Ok((program, envelopes))
}

pub async fn list(
    records: &Records,
    kind: Option<ProgramKind>,
    year: Option<i32>,
    page: &Page,
) -> Result<(Vec<Program>, String), Error> {
    store::list(records.database().connection(), kind, year, page).await
}

/// What SetEnvelope asks.
pub struct SetEnvelope<'a> {
    pub program_code: &'a str,
    pub fiscal_year: i32,
    pub amount: Money,
    /// 0 to create the envelope.
    pub expected_version: i64,
}

/// Sets a year's envelope, never below what regions already draw from it.
pub async fn set_envelope<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: SetEnvelope<'_>,
    answer: impl Fn(&Envelope) -> R,
) -> Result<R, Error> {
    let (asked, answer) = (&asked, &answer);
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let program = store::get(tx, asked.program_code).await?;
                let year = asked.fiscal_year;
                let name = envelope_name(&program.code, year);
                let current = store::envelope(tx, &program.code, year, true).await?;
                let version = next_version(
                    "envelope",
                    &name,
                    current.as_ref().map(|c| c.version),
                    asked.expected_version,
                )?;
                let allocated = current.as_ref().map_or(Money::ZERO, |c| c.allocated);
                check_envelope(
                    &program.code,
                    (program.first_year, program.last_year),
                    year,
                    asked.amount,
                    allocated,
                )?;
                let envelope = Envelope {
                    program_code: program.code.clone(),
                    fiscal_year: year,
                    amount: asked.amount,
                    allocated,
                    version,
                };
                store::save_envelope(tx, envelope.clone(), current.is_none()).await?;
                let changed = Change::versioned("envelope", name, version);
                Ok((answer(&envelope), vec![changed]))
            })
        })
        .await
}

pub async fn get_envelope(records: &Records, code: &str, year: i32) -> Result<Envelope, Error> {
    let db = records.database().connection();
    let program = store::get(db, code).await?;
    store::envelope(db, &program.code, year, false)
        .await?
        .ok_or_else(|| Error::not_found("envelope", envelope_name(&program.code, year)))
}
