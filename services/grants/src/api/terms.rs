//! SetMciRate, GetMciRate, ListMciRates, SetPolicy, GetPolicy: dated data, read
//! as of any date.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::common::v1::Date;
use aimaq_proto::grants::v1::{self as pb, *};
use aimaq_records::{Mutation, Records};
use aimaq_types::Money;
use chrono::NaiveDate;
use tonic::Request;

use crate::domain::terms::{self, MciRate as KeptRate, PolicyRecord, check_policy, in_money};
use crate::ops;

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
fn date_param(field: &str, date: Option<&Date>) -> Result<NaiveDate, Error> {
    let mut violations = Violations::new();
    let date = super::required_date(&mut violations, field, date);
    violations.then(|| date)
}

fn required<'a, T>(field: &str, part: &'a Option<T>) -> Result<&'a T, Error> {
    part.as_ref()
        .ok_or_else(|| Error::invalid(field, "required"))
}

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

pub(super) fn rate_to_proto(rate: &KeptRate) -> MciRate {
    MciRate {
        effective_from: Some(aimaq_proto::date_to_proto(rate.effective_from)),
        value_tiyn: rate.value.tiyn(),
        source: rate.source.clone(),
        version: rate.version,
    }
}

pub(super) fn policy_to_proto(policy: &PolicyRecord) -> Policy {
    let terms = &policy.terms;
    Policy {
        effective_from: Some(aimaq_proto::date_to_proto(policy.effective_from)),
        allowance_mci: terms.allowance_mci,
        loan_cap_mci: terms.loan_cap_mci,
        loan_rate_bp: terms.loan_rate_bp,
        max_term_months: terms.max_term_months,
        obligation_months: terms.obligation_months,
        eligible_fields: terms
            .eligible_fields
            .iter()
            .map(|f| field_to_proto(*f) as i32)
            .collect(),
        source: policy.source.clone(),
        version: policy.version,
    }
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
    let effective_from = violations.then(|| from)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let asked = KeptRate {
        effective_from,
        value: Money::from_tiyn(rate.value_tiyn),
        source: rate.source.trim().to_owned(),
        version: 0,
    };
    let asked = (&asked, body.expected_version);
    ops::terms::set_mci_rate(records, &mutation, asked, |rate| SetMciRateResponse {
        rate: Some(rate_to_proto(rate)),
    })
    .await
}

pub async fn get_mci_rate(
    records: &Records,
    request: &GetMciRateRequest,
) -> Result<GetMciRateResponse, Error> {
    let date = date_param("date", request.date.as_ref())?;
    let rate = ops::terms::get_mci_rate(records, date).await?;
    Ok(GetMciRateResponse {
        rate: Some(rate_to_proto(&rate)),
    })
}

pub async fn list_mci_rates(records: &Records) -> Result<ListMciRatesResponse, Error> {
    let rates = ops::terms::list_mci_rates(records).await?;
    Ok(ListMciRatesResponse {
        rates: rates.iter().map(rate_to_proto).collect(),
    })
}

/// The terms a caller asks to set, every field checked into `violations`;
/// their first day when it is a date.
fn checked_policy(
    violations: &mut Violations,
    policy: &Policy,
) -> (Option<NaiveDate>, terms::Policy) {
    let from = effective_from(violations, "policy", policy.effective_from.as_ref());
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
    check_policy(violations, &terms);
    check_source(violations, "policy.source", &policy.source);
    (from, terms)
}

pub async fn set_policy(
    records: &Records,
    request: &Request<SetPolicyRequest>,
) -> Result<SetPolicyResponse, Error> {
    Caller::of(request)?.require_national(Scope::GrantsWrite, WHAT)?;
    let body = request.get_ref();
    let policy = required("policy", &body.policy)?;
    let mut violations = Violations::new();
    let (from, terms) = checked_policy(&mut violations, policy);
    violations.check(
        body.expected_version >= 0,
        "expected_version",
        "must not be negative",
    );
    let effective_from = violations.then(|| from)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let policy = PolicyRecord {
        effective_from,
        terms,
        source: policy.source.trim().to_owned(),
        version: 0,
    };
    let asked = (&policy, body.expected_version);
    ops::terms::set_policy(records, &mutation, asked, |policy| SetPolicyResponse {
        policy: Some(policy_to_proto(policy)),
    })
    .await
}

pub async fn get_policy(
    records: &Records,
    request: &GetPolicyRequest,
) -> Result<GetPolicyResponse, Error> {
    let date = date_param("date", request.date.as_ref())?;
    let (policy, mci) = ops::terms::get_policy(records, date).await?;
    Ok(GetPolicyResponse {
        allowance_tiyn: in_money(policy.terms.allowance_mci, mci.value)?.tiyn(),
        loan_cap_tiyn: in_money(policy.terms.loan_cap_mci, mci.value)?.tiyn(),
        policy: Some(policy_to_proto(&policy)),
        mci: Some(rate_to_proto(&mci)),
    })
}
