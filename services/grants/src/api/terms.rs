//! SetMciRate, GetMciRate, ListMciRates, SetPolicy, GetPolicy: dated data, read
//! as of any date.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::common::v1::Date;
use aimaq_proto::grants::v1::{self as pb, *};
use aimaq_records::{Change, Mutation, Records, next_version, within};
use aimaq_types::Money;
use chrono::NaiveDate;
use tonic::Request;

use crate::domain::terms::{self, check_policy, in_money};
use crate::store;
use crate::store::terms::{mci_rates, policies};

/// Longest source citation accepted.
const SOURCE_MAX_CHARS: usize = 300;
const WHAT: &str = "MCI values and programme terms";

pub(super) fn field_from_proto(value: i32) -> Option<terms::Field> {
    Some(match pb::Field::try_from(value).ok()? {
        pb::Field::Healthcare => terms::Field::Healthcare,
        pb::Field::Education => terms::Field::Education,
        pb::Field::SocialSecurity => terms::Field::SocialSecurity,
        pb::Field::Culture => terms::Field::Culture,
        pb::Field::Sport => terms::Field::Sport,
        pb::Field::AgroIndustrial => terms::Field::AgroIndustrial,
        pb::Field::AkimOfficeCivilService => terms::Field::AkimOfficeCivilService,
        pb::Field::Unspecified => return None,
    })
}

pub(super) fn field_to_proto(field: terms::Field) -> pb::Field {
    match field {
        terms::Field::Healthcare => pb::Field::Healthcare,
        terms::Field::Education => pb::Field::Education,
        terms::Field::SocialSecurity => pb::Field::SocialSecurity,
        terms::Field::Culture => pb::Field::Culture,
        terms::Field::Sport => pb::Field::Sport,
        terms::Field::AgroIndustrial => pb::Field::AgroIndustrial,
        terms::Field::AkimOfficeCivilService => pb::Field::AkimOfficeCivilService,
    }
}

/// A stored ISO date as proto.
fn stored_date(text: &str) -> Result<Date, Error> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(Error::internal)?;
    Ok(aimaq_proto::date_to_proto(date))
}

/// A date the request must carry, named `field`, alone.
fn date_param(field: &str, date: Option<&Date>) -> Result<NaiveDate, Error> {
    let mut violations = Violations::new();
    let date = super::required_date(&mut violations, field, date);
    violations.then(|| date)
}

/// A message part the request must carry.
fn required<'a, T>(field: &str, part: &'a Option<T>) -> Result<&'a T, Error> {
    part.as_ref()
        .ok_or_else(|| Error::invalid(field, "required"))
}

/// The date a part of the request takes effect (`{part}.effective_from`).
fn effective_from(
    violations: &mut Violations,
    part: &str,
    date: Option<&Date>,
) -> Option<NaiveDate> {
    super::required_date(violations, &format!("{part}.effective_from"), date)
}

fn check_source(violations: &mut Violations, field: &str, source: &str) {
    violations.check(!source.trim().is_empty(), field, "required: the legal act");
    violations.check(
        source.chars().count() <= SOURCE_MAX_CHARS,
        field,
        format!("at most {SOURCE_MAX_CHARS} characters"),
    );
}

fn rate_to_proto(model: &mci_rates::Model) -> Result<MciRate, Error> {
    Ok(MciRate {
        effective_from: Some(stored_date(&model.effective_from)?),
        value_tiyn: model.value_tiyn,
        source: model.source.clone(),
        version: model.version,
    })
}

fn stored_fields(model: &policies::Model) -> Vec<terms::Field> {
    model
        .eligible_fields
        .split(',')
        .filter_map(terms::Field::parse)
        .collect()
}

pub(super) fn policy_of(model: &policies::Model) -> terms::Policy {
    terms::Policy {
        allowance_mci: model.allowance_mci,
        loan_cap_mci: model.loan_cap_mci,
        loan_rate_bp: model.loan_rate_bp,
        max_term_months: model.max_term_months,
        obligation_months: model.obligation_months,
        eligible_fields: stored_fields(model),
    }
}

fn policy_to_proto(model: &policies::Model) -> Result<Policy, Error> {
    Ok(Policy {
        effective_from: Some(stored_date(&model.effective_from)?),
        allowance_mci: model.allowance_mci,
        loan_cap_mci: model.loan_cap_mci,
        loan_rate_bp: model.loan_rate_bp,
        max_term_months: model.max_term_months,
        obligation_months: model.obligation_months,
        eligible_fields: stored_fields(model)
            .into_iter()
            .map(|f| field_to_proto(f) as i32)
            .collect(),
        source: model.source.clone(),
        version: model.version,
    })
}

pub async fn set_mci_rate(
    records: &Records,
    request: &Request<SetMciRateRequest>,
) -> Result<SetMciRateResponse, Error> {
    Caller::of(request)?.require_national(Scope::GrantsWrite, WHAT)?;
    let body = request.get_ref();
    let rate = required("rate", &body.rate)?;
    let mut violations = Violations::new();
    let from = effective_from(&mut violations, "rate", rate.effective_from.as_ref());
    terms::check_mci_value(&mut violations, "rate.value_tiyn", rate.value_tiyn);
    check_source(&mut violations, "rate.source", &rate.source);
    violations.check(
        body.expected_version >= 0,
        "expected_version",
        "must not be negative",
    );
    let from = violations.then(|| from)?.to_string();
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let from = &from;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let name = format!("mci-rates/{from}");
                let current = store::terms::mci_for_update(tx, from).await?;
                let version = next_version(
                    "mci_rate",
                    &name,
                    current.as_ref().map(|c| c.version),
                    body.expected_version,
                )?;
                let model = mci_rates::Model {
                    effective_from: from.clone(),
                    value_tiyn: rate.value_tiyn,
                    source: rate.source.trim().to_owned(),
                    version,
                };
                store::terms::save_mci(tx, model.clone(), current.is_none()).await?;
                Ok((
                    SetMciRateResponse {
                        rate: Some(rate_to_proto(&model)?),
                    },
                    vec![Change::versioned("mci_rate", name, version)],
                ))
            })
        })
        .await
}

/// The MCI in force on `date`, or FAILED_PRECONDITION when none is set that early.
pub(super) async fn mci_on(
    db: &impl sea_orm::ConnectionTrait,
    date: NaiveDate,
) -> Result<mci_rates::Model, Error> {
    store::terms::mci_on(db, &date.to_string())
        .await?
        .ok_or_else(|| {
            Error::precondition(
                "MCI_RATE",
                format!("mci-rates/{date}"),
                format!("no MCI value is in force on {date}"),
            )
        })
}

/// The terms in force on `date`, or FAILED_PRECONDITION when none are set that early.
pub(super) async fn policy_on(
    db: &impl sea_orm::ConnectionTrait,
    date: NaiveDate,
) -> Result<policies::Model, Error> {
    store::terms::policy_on(db, &date.to_string())
        .await?
        .ok_or_else(|| {
            Error::precondition(
                "POLICY",
                format!("policies/{date}"),
                format!("no programme terms are in force on {date}"),
            )
        })
}

/// The terms and the MCI value in force on `date`, read together;
/// FAILED_PRECONDITION naming what is missing.
pub(super) async fn terms_on(
    db: &impl sea_orm::ConnectionTrait,
    date: NaiveDate,
) -> Result<(policies::Model, mci_rates::Model), Error> {
    match store::terms::terms_on(db, &date.to_string()).await? {
        Some(both) => Ok(both),
        None => terms_one_by_one(db, date).await,
    }
}

/// As [`terms_on`], one at a time, after a read that found either missing: the
/// error names which.
pub(super) async fn terms_one_by_one(
    db: &impl sea_orm::ConnectionTrait,
    date: NaiveDate,
) -> Result<(policies::Model, mci_rates::Model), Error> {
    Ok((policy_on(db, date).await?, mci_on(db, date).await?))
}

pub async fn get_mci_rate(
    records: &Records,
    request: &GetMciRateRequest,
) -> Result<GetMciRateResponse, Error> {
    let date = date_param("date", request.date.as_ref())?;
    let rate = mci_on(records.database().connection(), date)
        .await
        .map_err(|_| Error::not_found("mci_rate", format!("mci-rates/{date}")))?;
    Ok(GetMciRateResponse {
        rate: Some(rate_to_proto(&rate)?),
    })
}

pub async fn list_mci_rates(records: &Records) -> Result<ListMciRatesResponse, Error> {
    let rates = store::terms::mci_rates(records.database().connection()).await?;
    Ok(ListMciRatesResponse {
        rates: rates.iter().map(rate_to_proto).collect::<Result<_, _>>()?,
    })
}

pub async fn set_policy(
    records: &Records,
    request: &Request<SetPolicyRequest>,
) -> Result<SetPolicyResponse, Error> {
    Caller::of(request)?.require_national(Scope::GrantsWrite, WHAT)?;
    let body = request.get_ref();
    let policy = required("policy", &body.policy)?;
    let mut violations = Violations::new();
    let from = effective_from(&mut violations, "policy", policy.effective_from.as_ref());
    let mut fields = Vec::new();
    for (index, value) in policy.eligible_fields.iter().enumerate() {
        match field_from_proto(*value) {
            Some(field) if !fields.contains(&field) => fields.push(field),
            Some(_) => violations.add(format!("policy.eligible_fields[{index}]"), "repeated"),
            None => violations.add(format!("policy.eligible_fields[{index}]"), "not a field"),
        }
    }
    fields.sort();
    let terms = terms::Policy {
        allowance_mci: policy.allowance_mci,
        loan_cap_mci: policy.loan_cap_mci,
        loan_rate_bp: policy.loan_rate_bp,
        max_term_months: policy.max_term_months,
        obligation_months: policy.obligation_months,
        eligible_fields: fields,
    };
    check_policy(&mut violations, &terms);
    check_source(&mut violations, "policy.source", &policy.source);
    violations.check(
        body.expected_version >= 0,
        "expected_version",
        "must not be negative",
    );
    let from = violations.then(|| from)?.to_string();
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let (from, terms) = (&from, &terms);
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let name = format!("policies/{from}");
                let current = store::terms::policy_for_update(tx, from).await?;
                let version = next_version(
                    "policy",
                    &name,
                    current.as_ref().map(|c| c.version),
                    body.expected_version,
                )?;
                let model = policies::Model {
                    effective_from: from.clone(),
                    allowance_mci: terms.allowance_mci,
                    loan_cap_mci: terms.loan_cap_mci,
                    loan_rate_bp: terms.loan_rate_bp,
                    max_term_months: terms.max_term_months,
                    obligation_months: terms.obligation_months,
                    eligible_fields: terms
                        .eligible_fields
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    source: policy.source.trim().to_owned(),
                    version,
                };
                store::terms::save_policy(tx, model.clone(), current.is_none()).await?;
                Ok((
                    SetPolicyResponse {
                        policy: Some(policy_to_proto(&model)?),
                    },
                    vec![Change::versioned("policy", name, version)],
                ))
            })
        })
        .await
}

pub async fn get_policy(
    records: &Records,
    request: &GetPolicyRequest,
) -> Result<GetPolicyResponse, Error> {
    let date = date_param("date", request.date.as_ref())?;
    let db = records.database().connection();
    let policy = policy_on(db, date)
        .await
        .map_err(|_| Error::not_found("policy", format!("policies/{date}")))?;
    let mci = mci_on(db, date).await?;
    let value = Money::from_tiyn(mci.value_tiyn);
    Ok(GetPolicyResponse {
        allowance_tiyn: in_money(policy.allowance_mci, value)?.tiyn(),
        loan_cap_tiyn: in_money(policy.loan_cap_mci, value)?.tiyn(),
        policy: Some(policy_to_proto(&policy)?),
        mci: Some(rate_to_proto(&mci)?),
    })
}
