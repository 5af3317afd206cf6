//! SetProgramTarget, ListProgramTargets.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::{self as pb, *};
use aimaq_records::{Mutation, Records};
use aimaq_storage::paging::Page;
use tonic::Request;

use crate::domain::program::{FIRST_YEAR, LAST_YEAR, check_code};
use crate::domain::target::{ProgramTarget, TargetMetric};
use crate::ops;
use crate::store::target::name;

fn metric_from_proto(value: i32) -> Option<TargetMetric> {
    match pb::TargetMetric::try_from(value).ok()? {
        pb::TargetMetric::Money => Some(TargetMetric::Money),
        pb::TargetMetric::Projects => Some(TargetMetric::Projects),
        pb::TargetMetric::Settlements => Some(TargetMetric::Settlements),
        pb::TargetMetric::Allowances => Some(TargetMetric::Allowances),
        pb::TargetMetric::HousingLoans => Some(TargetMetric::HousingLoans),
        pb::TargetMetric::Unspecified => None,
    }
}

fn metric_to_proto(metric: TargetMetric) -> pb::TargetMetric {
    match metric {
        TargetMetric::Money => pb::TargetMetric::Money,
        TargetMetric::Projects => pb::TargetMetric::Projects,
        TargetMetric::Settlements => pb::TargetMetric::Settlements,
        TargetMetric::Allowances => pb::TargetMetric::Allowances,
        TargetMetric::HousingLoans => pb::TargetMetric::HousingLoans,
    }
}

pub(super) fn target_to_proto(target: &ProgramTarget) -> pb::ProgramTarget {
    pb::ProgramTarget {
        name: name(
            &target.program_code,
            target.metric,
            target.from_year,
            target.to_year,
        ),
        program_code: target.program_code.clone(),
        metric: metric_to_proto(target.metric) as i32,
        from_year: target.from_year,
        to_year: target.to_year,
        value: target.value,
        source: target.source.clone(),
        version: target.version,
    }
}

/// The target a caller asks to set, every field that needs no stored data
/// checked; its period against the programme's years is the operation's.
fn checked_target(target: &pb::ProgramTarget) -> Result<ProgramTarget, Error> {
    let mut violations = Violations::new();
    if let Err(reason) = check_code(&target.program_code) {
        violations.add("target.program_code", reason);
    }
    let metric = metric_from_proto(target.metric);
    violations.check(
        metric.is_some(),
        "target.metric",
        "required: one of the TargetMetric values",
    );
    for (field, year) in [
        ("target.from_year", target.from_year),
        ("target.to_year", target.to_year),
    ] {
        violations.check(
            (FIRST_YEAR..=LAST_YEAR).contains(&year),
            field,
            format!("must be a year from {FIRST_YEAR} to {LAST_YEAR}"),
        );
    }
    let metric = violations.then(|| metric)?;
    Ok(ProgramTarget {
        program_code: target.program_code.clone(),
        metric,
        from_year: target.from_year,
        to_year: target.to_year,
        value: target.value,
        source: target.source.trim().to_owned(),
        version: 0,
    })
}

pub async fn set(
    records: &Records,
    request: &Request<SetProgramTargetRequest>,
) -> Result<SetProgramTargetResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require_national(Scope::BudgetWrite, "programme targets")?;
    let body = request.get_ref();
    let asked = body
        .target
        .as_ref()
        .ok_or_else(|| Error::invalid("target", "required"))?;
    let target = checked_target(asked)?;
    if body.expected_version < 0 {
        return Err(Error::invalid("expected_version", "must not be negative"));
    }
    let mutation = Mutation::of(request, body, &body.request_id)?;
    ops::targets::set(
        records,
        &mutation,
        &target,
        body.expected_version,
        |target| SetProgramTargetResponse {
            target: Some(target_to_proto(target)),
        },
    )
    .await
}

pub async fn list(
    records: &Records,
    request: &ListProgramTargetsRequest,
) -> Result<ListProgramTargetsResponse, Error> {
    let mut violations = Violations::new();
    let code = (!request.program_code.is_empty()).then_some(request.program_code.as_str());
    if let Some(Err(reason)) = code.map(check_code) {
        violations.add("program_code", reason);
    }
    violations.check(
        request.year == 0 || (FIRST_YEAR..=LAST_YEAR).contains(&request.year),
        "year",
        format!("must be a year from {FIRST_YEAR} to {LAST_YEAR}, or 0 for every year"),
    );
    violations.into_result()?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let year = (request.year != 0).then_some(request.year);
    let (targets, next_page_token) = ops::targets::list(records, code, year, &page).await?;
    Ok(ListProgramTargetsResponse {
        targets: targets.iter().map(target_to_proto).collect(),
        next_page_token,
    })
}
