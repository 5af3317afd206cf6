//! CreateProgram, GetProgram, ListPrograms, SetEnvelope, GetEnvelope.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::{self as pb, *};
use aimaq_proto::common::v1::LocalizedText;
use aimaq_records::{Mutation, Records};
use aimaq_storage::paging::Page;
use aimaq_types::Money;
use tonic::Request;

use crate::domain::program::{
    Envelope, FundingSource, Program, ProgramKind, Title, check_budget_code, check_code,
    check_years,
};
use crate::ops;

fn kind_from_proto(value: i32) -> Option<ProgramKind> {
    match pb::ProgramKind::try_from(value).ok()? {
        pb::ProgramKind::RuralInfrastructure => Some(ProgramKind::RuralInfrastructure),
        pb::ProgramKind::EntrepreneurshipMicroCredit => {
            Some(ProgramKind::EntrepreneurshipMicroCredit)
        }
        pb::ProgramKind::Other => Some(ProgramKind::Other),
        pb::ProgramKind::Unspecified => None,
    }
}

fn kind_to_proto(kind: ProgramKind) -> pb::ProgramKind {
    match kind {
        ProgramKind::RuralInfrastructure => pb::ProgramKind::RuralInfrastructure,
        ProgramKind::EntrepreneurshipMicroCredit => pb::ProgramKind::EntrepreneurshipMicroCredit,
        ProgramKind::Other => pb::ProgramKind::Other,
    }
}

fn source_from_proto(value: i32) -> Option<FundingSource> {
    match pb::FundingSource::try_from(value).ok()? {
        pb::FundingSource::NationalBudget => Some(FundingSource::NationalBudget),
        pb::FundingSource::LocalBudget => Some(FundingSource::LocalBudget),
        pb::FundingSource::Unspecified => None,
    }
}

fn source_to_proto(source: FundingSource) -> pb::FundingSource {
    match source {
        FundingSource::NationalBudget => pb::FundingSource::NationalBudget,
        FundingSource::LocalBudget => pb::FundingSource::LocalBudget,
    }
}

pub(super) fn program_to_proto(program: &Program) -> pb::Program {
    pb::Program {
        code: program.code.clone(),
        title: Some(LocalizedText {
            kk: program.title.kk.clone(),
            ru: program.title.ru.clone(),
            en: program.title.en.clone(),
        }),
        kind: kind_to_proto(program.kind) as i32,
        funding_source: source_to_proto(program.funding_source) as i32,
        first_year: program.first_year,
        last_year: program.last_year,
        version: program.version,
        create_time: Some(aimaq_proto::timestamp_from_micros(
            program.created_at_micros,
        )),
        budget_code: program.budget_code.clone(),
        budget_code_source: program.budget_code_source.clone(),
    }
}

pub(super) fn envelope_to_proto(envelope: &Envelope) -> pb::Envelope {
    pb::Envelope {
        program_code: envelope.program_code.clone(),
        fiscal_year: envelope.fiscal_year,
        amount_tiyn: envelope.amount.tiyn(),
        allocated_tiyn: envelope.allocated.tiyn(),
        headroom_tiyn: envelope
            .amount
            .tiyn()
            .saturating_sub(envelope.allocated.tiyn()),
        version: envelope.version,
    }
}

/// Programmes and envelopes are national: a token limited to a KATO prefix may
/// not change them.
fn require_national_writer(caller: &Caller) -> Result<(), Error> {
    caller.require_national(Scope::BudgetWrite, "programmes and envelopes")
}

pub async fn create(
    records: &Records,
    request: &Request<CreateProgramRequest>,
) -> Result<CreateProgramResponse, Error> {
    let caller = Caller::of(request)?;
    require_national_writer(caller)?;
    let body = request.get_ref();
    let asked = body
        .program
        .as_ref()
        .ok_or_else(|| Error::invalid("program", "required"))?;
    let program = checked_program(asked)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    ops::programs::create(records, &mutation, &program, |program| {
        CreateProgramResponse {
            program: Some(program_to_proto(program)),
        }
    })
    .await
}

/// The programme a caller asks to create, every field checked.
fn checked_program(program: &pb::Program) -> Result<Program, Error> {
    let mut violations = Violations::new();
    if let Err(reason) = check_code(&program.code) {
        violations.add("program.code", reason);
    }
    let title = program.title.clone().unwrap_or_default();
    violations.check(
        !title.ru.trim().is_empty(),
        "program.title.ru",
        "the Russian title is required",
    );
    for (language, text) in [("kk", &title.kk), ("ru", &title.ru), ("en", &title.en)] {
        violations.check(
            text.chars().count() <= 300,
            format!("program.title.{language}"),
            "at most 300 characters",
        );
    }
    let kind = kind_from_proto(program.kind);
    violations.check(
        kind.is_some(),
        "program.kind",
        "required: one of the ProgramKind values",
    );
    let source = source_from_proto(program.funding_source);
    violations.check(
        source.is_some(),
        "program.funding_source",
        "required: NATIONAL_BUDGET or LOCAL_BUDGET",
    );
    check_years(&mut violations, program.first_year, program.last_year);
    check_budget_code(
        &mut violations,
        &program.budget_code,
        &program.budget_code_source,
    );
    let (kind, funding_source) = violations.then(|| Some((kind?, source?)))?;
    Ok(Program {
        code: program.code.clone(),
        title: Title {
            kk: title.kk.trim().to_owned(),
            ru: title.ru.trim().to_owned(),
            en: title.en.trim().to_owned(),
        },
        kind,
        funding_source,
        first_year: program.first_year,
        last_year: program.last_year,
        version: 1,
        created_at_micros: 0,
        budget_code: program.budget_code.clone(),
        budget_code_source: program.budget_code_source.trim().to_owned(),
    })
}

pub async fn get(
    records: &Records,
    request: &GetProgramRequest,
) -> Result<GetProgramResponse, Error> {
    let (program, envelopes) = ops::programs::get(records, &request.code).await?;
    Ok(GetProgramResponse {
        program: Some(program_to_proto(&program)),
        envelopes: envelopes.iter().map(envelope_to_proto).collect(),
    })
}

pub async fn list(
    records: &Records,
    request: &ListProgramsRequest,
) -> Result<ListProgramsResponse, Error> {
    let kind = match pb::ProgramKind::try_from(request.kind) {
        Ok(pb::ProgramKind::Unspecified) => None,
        Ok(_) => kind_from_proto(request.kind),
        Err(_) => return Err(Error::invalid("kind", "not a ProgramKind value")),
    };
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let year = (request.year != 0).then_some(request.year);
    let (programs, next_page_token) = ops::programs::list(records, kind, year, &page).await?;
    Ok(ListProgramsResponse {
        programs: programs.iter().map(program_to_proto).collect(),
        next_page_token,
    })
}

pub async fn set_envelope(
    records: &Records,
    request: &Request<SetEnvelopeRequest>,
) -> Result<SetEnvelopeResponse, Error> {
    let caller = Caller::of(request)?;
    require_national_writer(caller)?;
    let body = request.get_ref();
    if body.expected_version < 0 {
        return Err(Error::invalid("expected_version", "must not be negative"));
    }
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let asked = ops::programs::SetEnvelope {
        program_code: &body.program_code,
        fiscal_year: body.fiscal_year,
        amount: Money::from_tiyn(body.amount_tiyn),
        expected_version: body.expected_version,
    };
    ops::programs::set_envelope(records, &mutation, asked, |envelope| SetEnvelopeResponse {
        envelope: Some(envelope_to_proto(envelope)),
    })
    .await
}

pub async fn get_envelope(
    records: &Records,
    request: &GetEnvelopeRequest,
) -> Result<GetEnvelopeResponse, Error> {
    let envelope =
        ops::programs::get_envelope(records, &request.program_code, request.fiscal_year).await?;
    Ok(GetEnvelopeResponse {
        envelope: Some(envelope_to_proto(&envelope)),
    })
}
