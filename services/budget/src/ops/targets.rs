//! Programme targets.

use aimaq_error::{Error, Violations};
use aimaq_records::{Answer, Change, Mutation, Records, next_version, within};
use aimaq_storage::paging::Page;

use crate::domain::target::{ProgramTarget, check_target};
use crate::store::program as programs;
use crate::store::target::{self as store, name};

/// Sets a target of a programme for a period, checked against the programme's
/// years.
pub async fn set<R: Answer>(
    records: &Records,
    mutation: &Mutation,
    asked: &ProgramTarget,
    expected_version: i64,
    answer: impl Fn(&ProgramTarget) -> R,
) -> Result<R, Error> {
    let answer = &answer;
    records
        .apply(mutation, |tx| {
            within(tx, async move |tx| {
                let program = programs::get(tx, &asked.program_code).await?;
                let mut violations = Violations::new();
                check_target(
                    &mut violations,
                    (program.first_year, program.last_year),
                    (asked.from_year, asked.to_year),
                    (asked.metric, asked.value),
                    &asked.source,
                );
                violations.into_result()?;
                let name = name(&program.code, asked.metric, asked.from_year, asked.to_year);
                let current = store::find_for_update(tx, &name).await?;
                let version = next_version(
                    "program target",
                    &name,
                    current.as_ref().map(|c| c.version),
                    expected_version,
                )?;
                let target = ProgramTarget {
                    version,
                    ..asked.clone()
                };
                store::save(tx, target.clone(), current.is_none()).await?;
                let changed = Change::versioned("program_target", name, version);
                Ok((answer(&target), vec![changed]))
            })
        })
        .await
}

pub async fn list(
    records: &Records,
    program_code: Option<&str>,
    year: Option<i32>,
    page: &Page,
) -> Result<(Vec<ProgramTarget>, String), Error> {
    store::list(records.database().connection(), program_code, year, page).await
}
