//! CreateProgram, GetProgram, ListPrograms, SetEnvelope, GetEnvelope.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::{self as pb, *};
use aimaq_proto::common::v1::LocalizedText;
use aimaq_records::{Change, ChangeAction, Mutation, Records, next_version, within};
use aimaq_storage::paging::Page;
use aimaq_types::Money;
use tonic::Request;

use crate::domain::program::{FundingSource, ProgramKind, check_code, check_envelope, check_years};
use crate::store;
use crate::store::program::{envelopes, programs};

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

fn kind_to_proto(text: &str) -> pb::ProgramKind {
    match ProgramKind::parse(text) {
        Some(ProgramKind::RuralInfrastructure) => pb::ProgramKind::RuralInfrastructure,
        Some(ProgramKind::EntrepreneurshipMicroCredit) => {
            pb::ProgramKind::EntrepreneurshipMicroCredit
        }
        Some(ProgramKind::Other) => pb::ProgramKind::Other,
        None => pb::ProgramKind::Unspecified,
    }
}

fn source_from_proto(value: i32) -> Option<FundingSource> {
    match pb::FundingSource::try_from(value).ok()? {
        pb::FundingSource::NationalBudget => Some(FundingSource::NationalBudget),
        pb::FundingSource::LocalBudget => Some(FundingSource::LocalBudget),
        pb::FundingSource::Unspecified => None,
    }
}

fn source_to_proto(text: &str) -> pb::FundingSource {
    match FundingSource::parse(text) {
        Some(FundingSource::NationalBudget) => pb::FundingSource::NationalBudget,
        Some(FundingSource::LocalBudget) => pb::FundingSource::LocalBudget,
        None => pb::FundingSource::Unspecified,
    }
}

fn program_to_proto(model: &programs::Model) -> Program {
    Program {
        code: model.code.clone(),
        title: Some(LocalizedText {
            kk: model.title_kk.clone(),
            ru: model.title_ru.clone(),
            en: model.title_en.clone(),
        }),
        kind: kind_to_proto(&model.kind) as i32,
        funding_source: source_to_proto(&model.funding_source) as i32,
        first_year: model.first_year,
        last_year: model.last_year,
        version: model.version,
        create_time: Some(aimaq_proto::timestamp_from_micros(model.created_at_micros)),
    }
}

pub(super) fn envelope_to_proto(model: &envelopes::Model) -> Envelope {
    Envelope {
        program_code: model.program_code.clone(),
        fiscal_year: model.fiscal_year,
        amount_tiyn: model.amount_tiyn,
        allocated_tiyn: model.allocated_tiyn,
        headroom_tiyn: model.amount_tiyn.saturating_sub(model.allocated_tiyn),
        version: model.version,
    }
}

/// Programmes and envelopes are national: a token limited to a KATO prefix may
/// not change them.
fn require_national_writer(caller: &Caller) -> Result<(), Error> {
    caller.require_national(Scope::BudgetWrite, "programmes and envelopes")
}

async fn find_program(
    db: &impl sea_orm::ConnectionTrait,
    code: &str,
) -> Result<programs::Model, Error> {
    store::program::find(db, code)
        .await?
        .ok_or_else(|| Error::not_found("program", format!("programs/{code}")))
}

pub async fn create(
    records: &Records,
    request: &Request<CreateProgramRequest>,
) -> Result<CreateProgramResponse, Error> {
    let caller = Caller::of(request)?;
    require_national_writer(caller)?;
    let body = request.get_ref();
    let program = body
        .program
        .as_ref()
        .ok_or_else(|| Error::invalid("program", "required"))?;
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
    let (kind, source) = violations.then(|| Some((kind?, source?)))?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let model = programs::Model {
        code: program.code.clone(),
        title_kk: title.kk.trim().to_owned(),
        title_ru: title.ru.trim().to_owned(),
        title_en: title.en.trim().to_owned(),
        kind: kind.as_str().to_owned(),
        funding_source: source.as_str().to_owned(),
        first_year: program.first_year,
        last_year: program.last_year,
        version: 1,
        created_at_micros: 0,
    };
    let model = &model;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let name = format!("programs/{}", model.code);
                if store::program::find(tx, &model.code).await?.is_some() {
                    return Err(Error::already_exists(
                        "program",
                        &name,
                        format!("{name} exists"),
                    ));
                }
                let mut model = model.clone();
                model.created_at_micros = chrono::Utc::now().timestamp_micros();
                store::program::insert(tx, model.clone()).await?;
                Ok((
                    CreateProgramResponse {
                        program: Some(program_to_proto(&model)),
                    },
                    vec![Change {
                        resource_type: "program",
                        resource_name: name,
                        action: ChangeAction::Created,
                        version: 1,
                    }],
                ))
            })
        })
        .await
}

pub async fn get(
    records: &Records,
    request: &GetProgramRequest,
) -> Result<GetProgramResponse, Error> {
    let db = records.database().connection();
    let program = find_program(db, &request.code).await?;
    let envelopes = store::program::envelopes_of(db, &program.code).await?;
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
        Ok(_) => kind_from_proto(request.kind).map(ProgramKind::as_str),
        Err(_) => return Err(Error::invalid("kind", "not a ProgramKind value")),
    };
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let year = (request.year != 0).then_some(request.year);
    let (rows, next_page_token) =
        store::program::list(records.database().connection(), kind, year, &page).await?;
    Ok(ListProgramsResponse {
        programs: rows.iter().map(program_to_proto).collect(),
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
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let program = find_program(tx, &body.program_code).await?;
                let name = format!("programs/{}/envelopes/{}", program.code, body.fiscal_year);
                let current =
                    store::program::envelope_for_update(tx, &program.code, body.fiscal_year)
                        .await?;
                let version = next_version(
                    "envelope",
                    &name,
                    current.as_ref().map(|c| c.version),
                    body.expected_version,
                )?;
                let allocated = current.as_ref().map_or(0, |c| c.allocated_tiyn);
                check_envelope(
                    &program.code,
                    (program.first_year, program.last_year),
                    body.fiscal_year,
                    Money::from_tiyn(body.amount_tiyn),
                    Money::from_tiyn(allocated),
                )?;
                let model = envelopes::Model {
                    program_code: program.code.clone(),
                    fiscal_year: body.fiscal_year,
                    amount_tiyn: body.amount_tiyn,
                    allocated_tiyn: allocated,
                    version,
                };
                store::program::save_envelope(tx, model.clone(), current.is_none()).await?;
                Ok((
                    SetEnvelopeResponse {
                        envelope: Some(envelope_to_proto(&model)),
                    },
                    vec![Change::versioned("envelope", name, version)],
                ))
            })
        })
        .await
}

pub async fn get_envelope(
    records: &Records,
    request: &GetEnvelopeRequest,
) -> Result<GetEnvelopeResponse, Error> {
    let db = records.database().connection();
    let program = find_program(db, &request.program_code).await?;
    let envelope = store::program::envelope(db, &program.code, request.fiscal_year)
        .await?
        .ok_or_else(|| {
            Error::not_found(
                "envelope",
                format!(
                    "programs/{}/envelopes/{}",
                    program.code, request.fiscal_year
                ),
            )
        })?;
    Ok(GetEnvelopeResponse {
        envelope: Some(envelope_to_proto(&envelope)),
    })
}
