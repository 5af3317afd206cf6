//! SubmitApplication, GetApplication, ListApplications, DecideApplication,
//! RecordPayment, GetLoanSchedule, RecordDeparture, SetQuota, GetQuota.
//!
//! A person's row (by IIN) is locked by every change to their applications, and
//! a region's quota row by every approval in it: one open application per
//! person, one allowance per life, and quotas never exceeded, under any
//! concurrency.

use std::sync::atomic::{AtomicBool, Ordering};

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::common::v1::Date;
use aimaq_proto::grants::v1::{self as pb, *};
use aimaq_records::{Change, ChangeAction, Mutation, Records, next_version, within};
use aimaq_storage::paging::Page;
use aimaq_territories::TerritoryDirectory;
use aimaq_types::{Iin, Kato, Money};
use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, DatabaseBackend};
use tonic::Request;

use super::terms::{field_from_proto, field_to_proto, policy_of, terms_on, terms_one_by_one};
use crate::domain::application::{
    ApplicationStatus, Loan, age_band, allowance, check_applicant, check_field, check_length,
    check_loan, check_text, settle, whole_months,
};
use crate::domain::loan::{outstanding_on, schedule};
use crate::domain::terms::{Field, in_money};
use crate::store;
use crate::store::application::{Filter, applications, name, parse_name, persons, quotas};
use crate::store::terms::{mci_rates, policies};

const OLDEST_DIPLOMA: i32 = 1960;

fn status_from_proto(value: i32) -> Option<ApplicationStatus> {
    Some(match pb::ApplicationStatus::try_from(value).ok()? {
        pb::ApplicationStatus::Submitted => ApplicationStatus::Submitted,
        pb::ApplicationStatus::Approved => ApplicationStatus::Approved,
        pb::ApplicationStatus::Rejected => ApplicationStatus::Rejected,
        pb::ApplicationStatus::Active => ApplicationStatus::Active,
        pb::ApplicationStatus::Completed => ApplicationStatus::Completed,
        pb::ApplicationStatus::Breached => ApplicationStatus::Breached,
        pb::ApplicationStatus::Unspecified => return None,
    })
}

fn status_to_proto(status: ApplicationStatus) -> pb::ApplicationStatus {
    match status {
        ApplicationStatus::Submitted => pb::ApplicationStatus::Submitted,
        ApplicationStatus::Approved => pb::ApplicationStatus::Approved,
        ApplicationStatus::Rejected => pb::ApplicationStatus::Rejected,
        ApplicationStatus::Active => pb::ApplicationStatus::Active,
        ApplicationStatus::Completed => pb::ApplicationStatus::Completed,
        ApplicationStatus::Breached => pb::ApplicationStatus::Breached,
    }
}

fn parse_stored_date(text: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(Error::internal)
}

fn stored_date(text: Option<&str>) -> Result<Option<Date>, Error> {
    text.map(|t| parse_stored_date(t).map(aimaq_proto::date_to_proto))
        .transpose()
}

fn status_of(model: &applications::Model) -> Result<ApplicationStatus, Error> {
    ApplicationStatus::parse(&model.status)
        .ok_or_else(|| Error::internal(format!("stored status {:?}", model.status)))
}

fn to_proto(model: &applications::Model) -> Result<Application, Error> {
    let status = status_of(model)?;
    let decided = model.decision_date.is_some()
        && !matches!(
            status,
            ApplicationStatus::Submitted | ApplicationStatus::Rejected
        );
    Ok(Application {
        name: name(model.id),
        iin: model.iin.clone(),
        full_name: model.full_name.clone(),
        field: Field::parse(&model.field).map_or(pb::Field::Unspecified, field_to_proto) as i32,
        diploma: Some(Diploma {
            level: model.diploma_level,
            speciality: model.diploma_speciality.clone(),
            year: model.diploma_year,
            institution: model.diploma_institution.clone(),
        }),
        settlement_kato: model.settlement_kato.clone(),
        region_kato: model.region_kato.clone(),
        employer: model.employer.clone(),
        start_date: stored_date(Some(&model.start_date))?,
        allowance_requested: model.allowance_requested,
        loan_requested: (model.loan_requested_tiyn > 0).then_some(LoanRequest {
            amount_tiyn: model.loan_requested_tiyn,
            term_months: model.loan_requested_months,
        }),
        status: status_to_proto(status) as i32,
        terms: if decided {
            Some(GrantTerms {
                decision_date: stored_date(model.decision_date.as_deref())?,
                allowance_tiyn: model.allowance_tiyn,
                loan_amount_tiyn: model.loan_amount_tiyn,
                loan_term_months: model.loan_term_months,
                loan_rate_bp: model.loan_rate_bp,
                obligation_months: model.obligation_months,
                mci_tiyn: model.mci_tiyn,
                policy_effective_from: stored_date(model.policy_effective_from.as_deref())?,
            })
        } else {
            None
        },
        rejection_reason: model.rejection_reason.clone(),
        allowance_paid: model.allowance_paid,
        loan_disbursed: model.loan_disbursed_on.is_some(),
        departure_date: stored_date(model.departure_date.as_deref())?,
        breach: (status == ApplicationStatus::Breached).then_some(BreachSettlement {
            served_months: model.served_months,
            unserved_months: model.unserved_months,
            allowance_refund_tiyn: model.allowance_refund_tiyn,
            loan_principal_due_tiyn: model.loan_principal_due_tiyn,
        }),
        version: model.version,
        submit_time: Some(aimaq_proto::timestamp_from_micros(
            model.submitted_at_micros,
        )),
    })
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn application_change(model: &applications::Model) -> Change {
    Change::versioned("application", name(model.id), model.version)
}

async fn save_person(
    tx: &impl ConnectionTrait,
    person: persons::Model,
    created: bool,
) -> Result<(), Error> {
    aimaq_storage::save(tx, persons::ActiveModel::from(person), created).await
}

async fn save_application(
    tx: &impl ConnectionTrait,
    application: applications::Model,
) -> Result<(), Error> {
    aimaq_storage::save(tx, applications::ActiveModel::from(application), false).await
}

pub async fn submit(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &Request<SubmitApplicationRequest>,
) -> Result<SubmitApplicationResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::GrantsWrite)?;
    let body = request.get_ref();
    let today = today();
    let mut violations = Violations::new();
    let iin = violations.take("iin", check_applicant(&body.iin, today));
    check_text(&mut violations, "full_name", &body.full_name);
    let field = field_from_proto(body.field);
    violations.check(field.is_some(), "field", "required");
    match &body.diploma {
        None => violations.add("diploma", "required"),
        Some(diploma) => {
            violations.check(
                pb::DiplomaLevel::try_from(diploma.level)
                    .is_ok_and(|l| l != pb::DiplomaLevel::Unspecified),
                "diploma.level",
                "required",
            );
            check_text(&mut violations, "diploma.speciality", &diploma.speciality);
            check_length(&mut violations, "diploma.institution", &diploma.institution);
            violations.check(
                (OLDEST_DIPLOMA..=today.year()).contains(&diploma.year),
                "diploma.year",
                format!("between {OLDEST_DIPLOMA} and this year"),
            );
        }
    }
    let settlement = violations.take("settlement_kato", Kato::parse(&body.settlement_kato));
    check_text(&mut violations, "employer", &body.employer);
    let start = super::required_date(&mut violations, "start_date", body.start_date.as_ref());
    violations.check(
        body.allowance_requested || body.loan_requested.is_some(),
        "allowance_requested",
        "request the allowance, a housing loan, or both",
    );
    let db = records.database().connection();
    let (policy, mci) = terms_on(db, today).await?;
    let terms = policy_of(&policy);
    let mci = Money::from_tiyn(mci.value_tiyn);
    if let Some(field) = field {
        check_field(&mut violations, field, &terms);
    }
    if let Some(loan) = &body.loan_requested {
        let cap = in_money(terms.loan_cap_mci, mci)?;
        let loan = Loan {
            amount: Money::from_tiyn(loan.amount_tiyn),
            months: loan.term_months,
        };
        check_loan(&mut violations, "loan_requested", loan, &terms, cap);
    }
    let (iin, field, settlement, start, diploma) =
        violations.then(|| Some((iin?, field?, settlement?, start?, body.diploma.as_ref()?)))?;
    caller.require_write_at(settlement)?;
    let facts = directory.facts(settlement, &OnBehalf::of(request)?).await?;
    if !(facts.is_settlement() && facts.rural) {
        return Err(Error::invalid(
            "settlement_kato",
            format!("{settlement} is not a rural settlement"),
        ));
    }
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let now = chrono::Utc::now().timestamp_micros();
    let application = applications::Model {
        id: 0,
        iin: iin.to_string(),
        full_name: body.full_name.trim().to_owned(),
        field: field.as_str().to_owned(),
        diploma_level: diploma.level,
        diploma_speciality: diploma.speciality.trim().to_owned(),
        diploma_year: diploma.year,
        diploma_institution: diploma.institution.trim().to_owned(),
        settlement_kato: settlement.to_string(),
        region_kato: settlement.region().to_string(),
        employer: body.employer.trim().to_owned(),
        start_date: start.to_string(),
        allowance_requested: body.allowance_requested,
        loan_requested_tiyn: body.loan_requested.as_ref().map_or(0, |l| l.amount_tiyn),
        loan_requested_months: body.loan_requested.as_ref().map_or(0, |l| l.term_months),
        status: ApplicationStatus::Submitted.as_str().to_owned(),
        submitted_year: today.year(),
        decision_date: None,
        decision_year: None,
        allowance_tiyn: 0,
        loan_amount_tiyn: 0,
        loan_term_months: 0,
        loan_rate_bp: 0,
        obligation_months: 0,
        mci_tiyn: 0,
        policy_effective_from: None,
        age_band: None,
        rejection_reason: String::new(),
        allowance_paid: false,
        loan_disbursed_on: None,
        departure_date: None,
        served_months: 0,
        unserved_months: 0,
        allowance_refund_tiyn: 0,
        loan_principal_due_tiyn: 0,
        version: 1,
        submitted_at_micros: now,
        updated_at_micros: now,
    };
    let application = &application;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let (mut person, new_person) =
                    store::application::person_for_update(tx, &application.iin).await?;
                if let Some(open) = person.open_application {
                    return Err(Error::precondition(
                        "OPEN_APPLICATION",
                        name(open),
                        format!(
                            "{} already has an open application, {}",
                            application.iin,
                            name(open)
                        ),
                    ));
                }
                if let (true, Some(earlier)) = (
                    application.allowance_requested,
                    person.allowance_application,
                ) {
                    return Err(Error::precondition(
                        "ALLOWANCE_GRANTED",
                        name(earlier),
                        format!(
                            "the allowance is granted once per person: {} received it with {}",
                            application.iin,
                            name(earlier)
                        ),
                    ));
                }
                let stored = store::application::insert(tx, application.clone()).await?;
                person.open_application = Some(stored.id);
                save_person(tx, person, new_person).await?;
                Ok((
                    SubmitApplicationResponse {
                        application: Some(to_proto(&stored)?),
                    },
                    vec![Change {
                        resource_type: "application",
                        resource_name: name(stored.id),
                        action: ChangeAction::Created,
                        version: 1,
                    }],
                ))
            })
        })
        .await
}

/// The application, locked, after checking the caller may write where it is and
/// read the version it expects.
async fn application_for_update(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
    expected_version: i64,
) -> Result<applications::Model, Error> {
    let application = store::application::find(tx, id, true)
        .await?
        .ok_or_else(|| Error::not_found("application", name(id)))?;
    writable(caller, application, expected_version)
}

/// As [`application_for_update`], with the applicant's row, locked too (the
/// `bool` says it is new).
async fn application_and_person_for_update(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
    expected_version: i64,
) -> Result<(applications::Model, persons::Model, bool), Error> {
    let (application, person, new_person) = store::application::find_with_person(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("application", name(id)))?;
    Ok((
        writable(caller, application, expected_version)?,
        person,
        new_person,
    ))
}

/// The application, if the caller may write where it is and read the version it
/// expects.
fn writable(
    caller: &Caller,
    application: applications::Model,
    expected_version: i64,
) -> Result<applications::Model, Error> {
    let this = name(application.id);
    caller.require_write_at(Kato::parse(&application.settlement_kato).map_err(Error::internal)?)?;
    if application.version != expected_version {
        return Err(Error::stale_version(
            &this,
            expected_version,
            application.version,
        ));
    }
    Ok(application)
}

fn wrong_status(this: &str, status: ApplicationStatus, action: &str) -> Error {
    Error::precondition(
        "APPLICATION_STATUS",
        this,
        format!("{this} is {}: it cannot be {action}", status.as_str()),
    )
}

/// Draws an approval on the region's quota for the year. Called last in the
/// transaction: the quota row, shared by every approval in the region, stays
/// locked only from here to commit.
async fn take_from_quota(
    tx: &impl ConnectionTrait,
    region: &str,
    year: i32,
    allowance: bool,
    loan: Money,
) -> Result<Change, Error> {
    let asked = i32::from(allowance);
    match store::application::draw_on_quota(tx, (region, year), asked, loan.tiyn()).await? {
        Some(version) => Ok(quota_change(region, year, version)),
        None => Err(quota_refusal(tx, region, year, allowance, loan).await),
    }
}

/// The resource name of a region's quota for a year.
fn quota_name(region: &str, year: i32) -> String {
    format!("quotas/{region}/{year}")
}

fn quota_change(region: &str, year: i32, version: i64) -> Change {
    Change::versioned("quota", quota_name(region, year), version)
}

/// Why the quota refused an approval: not set, or the figures that would be
/// exceeded.
async fn quota_refusal(
    tx: &impl ConnectionTrait,
    region: &str,
    year: i32,
    allowance: bool,
    loan: Money,
) -> Error {
    let quota_name = quota_name(region, year);
    let quota = match store::application::quota(tx, region, year).await {
        Ok(Some(quota)) => quota,
        Ok(None) => {
            return Error::precondition("QUOTA", &quota_name, format!("{quota_name} is not set"));
        }
        Err(error) => return error,
    };
    Error::precondition(
        "QUOTA",
        &quota_name,
        format!(
            "{quota_name} is exhausted: {} of {} allowances and {} of {} for loans approved; this approval asks {} allowance(s) and {loan}",
            quota.allowances_approved,
            quota.allowance_count,
            Money::from_tiyn(quota.loans_approved_tiyn),
            Money::from_tiyn(quota.loan_amount_tiyn),
            i32::from(allowance),
        ),
    )
}

/// Writes a decision on rows read outside the transaction, in one round trip:
/// the application and its applicant while they are as read, and the draw on
/// the quota. `None` when either row has changed since it was read (nothing
/// stays written then, once the caller rolls back); otherwise the quota's
/// change, if it was drawn on.
async fn write_seen_decision(
    tx: &impl ConnectionTrait,
    (read, decided): (applications::Model, &applications::Model),
    (person_read, person): (persons::Model, persons::Model),
    (year, quota_draw): (i32, Option<(bool, Money)>),
) -> Result<Option<Option<Change>>, Error> {
    use sea_orm::sea_query::Expr;
    let region = decided.region_kato.as_str();
    let planned = [
        aimaq_storage::changes_if_unchanged::<applications::ActiveModel>(
            read,
            decided.clone(),
            &[applications::Column::Version],
        )?
        .map(|update| (update, Expr::val(1))),
        aimaq_storage::changes_if_unchanged::<persons::ActiveModel>(
            person_read,
            person,
            &[
                persons::Column::OpenApplication,
                persons::Column::AllowanceApplication,
            ],
        )?
        .map(|update| (update, Expr::val(1))),
        quota_draw.map(|(allowance, loan)| {
            let draw =
                store::application::quota_draw((region, year), i32::from(allowance), loan.tiyn());
            (draw, Expr::col(quotas::Column::Version))
        }),
    ];
    let sent = planned.each_ref().map(Option::is_some);
    let mut returned = aimaq_storage::update_together(tx, planned.into_iter().flatten().collect())
        .await?
        .into_iter();
    // For each planned update: not sent, or what it returned (`None`: no row).
    let [application, person, quota] = sent.map(|sent| sent.then(|| returned.next().flatten()));
    if matches!(application, Some(None)) || matches!(person, Some(None)) {
        return Ok(None);
    }
    match (quota, quota_draw) {
        (Some(Some(version)), _) => Ok(Some(Some(quota_change(region, year, version)))),
        (Some(None), Some((allowance, loan))) => {
            Err(quota_refusal(tx, region, year, allowance, loan).await)
        }
        _ => Ok(Some(None)),
    }
}

/// What a decision needs, read in one query: the application with its
/// applicant as they are now, when that is what the decision expects (it is
/// written back only if it is still so; otherwise the transaction reads the rows
/// locked), and the terms and MCI in force on the decision date (an error here
/// is reported where the approval needs them).
async fn decision_inputs(
    db: &impl ConnectionTrait,
    caller: &Caller,
    body: &DecideApplicationRequest,
    id: i64,
    date: NaiveDate,
) -> (
    Option<(applications::Model, persons::Model)>,
    Result<(policies::Model, mci_rates::Model), Error>,
) {
    let (seen, in_force) =
        match store::application::decision_inputs(db, id, &date.to_string()).await {
            Ok(inputs) => match inputs.terms {
                Some(terms) => (inputs.seen, Ok(terms)),
                // Read again, to name what is missing.
                None => (inputs.seen, terms_one_by_one(db, date).await),
            },
            Err(error) => (None, Err(error)),
        };
    let seen = seen
        .filter(|(application, _)| application.status == ApplicationStatus::Submitted.as_str())
        .and_then(|(application, person)| {
            let application = writable(caller, application, body.expected_version).ok()?;
            Some((application, person))
        });
    (seen, in_force)
}

pub async fn decide(
    records: &Records,
    request: &Request<DecideApplicationRequest>,
) -> Result<DecideApplicationResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::GrantsDecide)?;
    let body = request.get_ref();
    let id = parse_name(&body.application)?;
    let decision = pb::Decision::try_from(body.decision).unwrap_or(pb::Decision::Unspecified);
    let mut violations = Violations::new();
    violations.check(
        decision != pb::Decision::Unspecified,
        "decision",
        "required: approve or reject",
    );
    let date = super::required_date(
        &mut violations,
        "decision_date",
        body.decision_date.as_ref(),
    );
    violations.require_version(body.expected_version);
    if decision == pb::Decision::Reject {
        check_text(&mut violations, "reason", &body.reason);
    }
    let date = violations.then(|| date)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    // On SQLite what the decision reads goes before its transaction, off the one
    // write turn every writer waits on (a change of terms committing meanwhile
    // comes after this decision). On PostgreSQL it is read in the transaction,
    // on the connection the transaction holds anyway: one pool checkout fewer.
    let database = records.database();
    let read_before = if database.backend() == DatabaseBackend::Sqlite {
        Some(decision_inputs(database.connection(), caller, body, id, date).await)
    } else {
        None
    };
    let seen_changed = &AtomicBool::new(false);
    records
        .apply(&mutation, |tx| {
            let read_before = read_before.clone();
            within(tx, async move |tx| {
                let (seen, in_force) = match read_before {
                    Some(read) => read,
                    None => decision_inputs(tx, caller, body, id, date).await,
                };
                let in_force = &in_force;
                let seen = seen.filter(|_| !seen_changed.load(Ordering::Relaxed));
                let unlocked = seen.is_some();
                let (current, mut person, new_person) = match seen {
                    Some((application, person)) => (application, person, false),
                    None => {
                        application_and_person_for_update(tx, caller, id, body.expected_version)
                            .await?
                    }
                };
                let (read, person_read) = (current.clone(), person.clone());
                let this = name(id);
                let status = status_of(&current)?;
                if status != ApplicationStatus::Submitted {
                    return Err(wrong_status(&this, status, "decided"));
                }
                let now = chrono::Utc::now().timestamp_micros();
                let mut quota_draw = None;
                let decided = if decision == pb::Decision::Reject {
                    person.open_application = None;
                    applications::Model {
                        status: ApplicationStatus::Rejected.as_str().to_owned(),
                        rejection_reason: body.reason.trim().to_owned(),
                        decision_date: Some(date.to_string()),
                        decision_year: Some(date.year()),
                        version: current.version + 1,
                        updated_at_micros: now,
                        ..current
                    }
                } else {
                    let (policy, mci) = in_force.as_ref().map_err(Clone::clone)?;
                    let terms = policy_of(policy);
                    let mci = Money::from_tiyn(mci.value_tiyn);
                    let mut violations = Violations::new();
                    violations.check(
                        !body.grant_allowance || current.allowance_requested,
                        "grant_allowance",
                        "the allowance was not requested",
                    );
                    let loan = body.grant_loan.as_ref().map(|l| Loan {
                        amount: Money::from_tiyn(l.amount_tiyn),
                        months: l.term_months,
                    });
                    if let Some(loan) = loan {
                        violations.check(
                            loan.amount.tiyn() <= current.loan_requested_tiyn,
                            "grant_loan.amount_tiyn",
                            "at most what was requested",
                        );
                        violations.check(
                            loan.months <= current.loan_requested_months,
                            "grant_loan.term_months",
                            "at most the term requested",
                        );
                        let cap = in_money(terms.loan_cap_mci, mci)?;
                        check_loan(&mut violations, "grant_loan", loan, &terms, cap);
                    }
                    violations.check(
                        body.grant_allowance || loan.is_some(),
                        "grant_allowance",
                        "an approval grants the allowance, a loan, or both",
                    );
                    violations.into_result()?;
                    if let (true, Some(earlier)) =
                        (body.grant_allowance, person.allowance_application)
                    {
                        return Err(Error::precondition(
                            "ALLOWANCE_GRANTED",
                            name(earlier),
                            format!(
                                "the allowance is granted once per person: {} received it with {}",
                                current.iin,
                                name(earlier)
                            ),
                        ));
                    }
                    let allowance = if body.grant_allowance {
                        allowance(&terms, mci)?
                    } else {
                        Money::ZERO
                    };
                    let loan = loan.unwrap_or(Loan {
                        amount: Money::ZERO,
                        months: 0,
                    });
                    quota_draw = Some((body.grant_allowance, loan.amount));
                    if body.grant_allowance {
                        person.allowance_application = Some(id);
                    }
                    let age = Iin::parse(&current.iin)
                        .map_err(Error::internal)?
                        .age_on(date);
                    applications::Model {
                        status: ApplicationStatus::Approved.as_str().to_owned(),
                        decision_date: Some(date.to_string()),
                        decision_year: Some(date.year()),
                        allowance_tiyn: allowance.tiyn(),
                        loan_amount_tiyn: loan.amount.tiyn(),
                        loan_term_months: loan.months,
                        loan_rate_bp: if loan.amount > Money::ZERO {
                            terms.loan_rate_bp
                        } else {
                            0
                        },
                        obligation_months: terms.obligation_months,
                        mci_tiyn: mci.tiyn(),
                        policy_effective_from: Some(policy.effective_from.clone()),
                        age_band: Some(age_band(age).to_owned()),
                        version: current.version + 1,
                        updated_at_micros: now,
                        ..current
                    }
                };
                let mut changes = vec![application_change(&decided)];
                if unlocked {
                    let Some(quota_change) = write_seen_decision(
                        tx,
                        (read, &decided),
                        (person_read, person),
                        (date.year(), quota_draw),
                    )
                    .await?
                    else {
                        // Run again, reading the rows locked this time.
                        seen_changed.store(true, Ordering::Relaxed);
                        return Err(Error::Conflict(format!(
                            "{this} changed while being decided"
                        )));
                    };
                    changes.extend(quota_change);
                } else {
                    aimaq_storage::save_changes::<applications::ActiveModel>(
                        tx,
                        read,
                        decided.clone(),
                    )
                    .await?;
                    if new_person {
                        save_person(tx, person, true).await?;
                    } else {
                        aimaq_storage::save_changes::<persons::ActiveModel>(
                            tx,
                            person_read,
                            person,
                        )
                        .await?;
                    }
                    if let Some((allowance, loan)) = quota_draw {
                        let region = &decided.region_kato;
                        changes
                            .push(take_from_quota(tx, region, date.year(), allowance, loan).await?);
                    }
                }
                Ok((
                    DecideApplicationResponse {
                        application: Some(to_proto(&decided)?),
                    },
                    changes,
                ))
            })
        })
        .await
}

pub async fn pay(
    records: &Records,
    request: &Request<RecordPaymentRequest>,
) -> Result<RecordPaymentResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::GrantsWrite)?;
    let body = request.get_ref();
    let id = parse_name(&body.application)?;
    let kind = pb::PaymentKind::try_from(body.kind).unwrap_or(pb::PaymentKind::Unspecified);
    let mut violations = Violations::new();
    violations.check(kind != pb::PaymentKind::Unspecified, "kind", "required");
    let date = super::required_date(&mut violations, "payment_date", body.payment_date.as_ref());
    check_text(
        &mut violations,
        "payment_reference",
        &body.payment_reference,
    );
    violations.require_version(body.expected_version);
    let date = violations.then(|| date)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let current = application_for_update(tx, caller, id, body.expected_version).await?;
                let this = name(id);
                let status = status_of(&current)?;
                if !matches!(
                    status,
                    ApplicationStatus::Approved | ApplicationStatus::Active
                ) {
                    return Err(wrong_status(&this, status, "paid"));
                }
                let mut paid = current.clone();
                let refused =
                    |what: &str| Error::precondition("PAYMENT", &this, format!("{this}: {what}"));
                if kind == pb::PaymentKind::Allowance {
                    if current.allowance_tiyn == 0 {
                        return Err(refused("no allowance was granted"));
                    }
                    if current.allowance_paid {
                        return Err(refused("the allowance is already paid"));
                    }
                    paid.allowance_paid = true;
                } else {
                    if current.loan_amount_tiyn == 0 {
                        return Err(refused("no loan was granted"));
                    }
                    if current.loan_disbursed_on.is_some() {
                        return Err(refused("the loan is already disbursed"));
                    }
                    paid.loan_disbursed_on = Some(date.to_string());
                }
                let paid = applications::Model {
                    status: ApplicationStatus::Active.as_str().to_owned(),
                    version: current.version + 1,
                    updated_at_micros: chrono::Utc::now().timestamp_micros(),
                    ..paid
                };
                save_application(tx, paid.clone()).await?;
                Ok((
                    RecordPaymentResponse {
                        application: Some(to_proto(&paid)?),
                    },
                    vec![application_change(&paid)],
                ))
            })
        })
        .await
}

/// The loan's schedule: from its disbursement, or from the decision until then.
fn loan_schedule(model: &applications::Model) -> Result<Vec<crate::domain::loan::Line>, Error> {
    let start = model
        .loan_disbursed_on
        .as_deref()
        .or(model.decision_date.as_deref())
        .ok_or_else(|| Error::internal("a granted loan without a decision date"))?;
    schedule(
        model.loan_amount_tiyn,
        model.loan_rate_bp,
        model.loan_term_months,
        parse_stored_date(start)?,
    )
    .ok_or_else(|| Error::internal("a granted loan outside the schedule's bounds"))
}

pub async fn loan_schedule_of(
    records: &Records,
    request: &GetLoanScheduleRequest,
) -> Result<GetLoanScheduleResponse, Error> {
    let id = parse_name(&request.application)?;
    let model = store::application::find(records.database().connection(), id, false)
        .await?
        .ok_or_else(|| Error::not_found("application", name(id)))?;
    if model.loan_amount_tiyn == 0 {
        return Err(Error::precondition(
            "LOAN",
            name(id),
            format!("{} has no granted loan", name(id)),
        ));
    }
    let lines = loan_schedule(&model)?;
    Ok(GetLoanScheduleResponse {
        application: name(id),
        loan_amount_tiyn: model.loan_amount_tiyn,
        loan_rate_bp: model.loan_rate_bp,
        term_months: model.loan_term_months,
        total_interest_tiyn: lines.iter().map(|l| l.interest).sum(),
        lines: lines
            .iter()
            .map(|line| LoanScheduleLine {
                number: line.number,
                due_date: Some(aimaq_proto::date_to_proto(line.due_date)),
                payment_tiyn: line.payment,
                interest_tiyn: line.interest,
                principal_tiyn: line.principal,
                remaining_tiyn: line.remaining,
            })
            .collect(),
    })
}

pub async fn depart(
    records: &Records,
    request: &Request<RecordDepartureRequest>,
) -> Result<RecordDepartureResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::GrantsWrite)?;
    let body = request.get_ref();
    let id = parse_name(&body.application)?;
    let mut violations = Violations::new();
    let date = super::required_date(
        &mut violations,
        "departure_date",
        body.departure_date.as_ref(),
    );
    check_text(&mut violations, "reason", &body.reason);
    violations.require_version(body.expected_version);
    let date = violations.then(|| date)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let (current, mut person, new_person) =
                    application_and_person_for_update(tx, caller, id, body.expected_version)
                        .await?;
                let this = name(id);
                let status = status_of(&current)?;
                if !matches!(
                    status,
                    ApplicationStatus::Approved | ApplicationStatus::Active
                ) {
                    return Err(wrong_status(&this, status, "ended by a departure"));
                }
                let start = parse_stored_date(&current.start_date)?;
                if date < start {
                    return Err(Error::invalid(
                        "departure_date",
                        format!("before the work started on {start}"),
                    ));
                }
                let served = whole_months(start, date);
                let paid = if current.allowance_paid {
                    Money::from_tiyn(current.allowance_tiyn)
                } else {
                    Money::ZERO
                };
                let outstanding = if current.loan_disbursed_on.is_some() {
                    let lines = loan_schedule(&current)?;
                    Money::from_tiyn(outstanding_on(&lines, current.loan_amount_tiyn, date))
                } else {
                    Money::ZERO
                };
                let settlement = settle(served, current.obligation_months, paid, outstanding);
                let ended = applications::Model {
                    status: match settlement {
                        Some(_) => ApplicationStatus::Breached,
                        None => ApplicationStatus::Completed,
                    }
                    .as_str()
                    .to_owned(),
                    departure_date: Some(date.to_string()),
                    served_months: served,
                    unserved_months: settlement.map_or(0, |s| s.unserved_months),
                    allowance_refund_tiyn: settlement.map_or(0, |s| s.allowance_refund.tiyn()),
                    loan_principal_due_tiyn: settlement.map_or(0, |s| s.loan_principal_due.tiyn()),
                    version: current.version + 1,
                    updated_at_micros: chrono::Utc::now().timestamp_micros(),
                    ..current
                };
                save_application(tx, ended.clone()).await?;
                person.open_application = None;
                save_person(tx, person, new_person).await?;
                Ok((
                    RecordDepartureResponse {
                        application: Some(to_proto(&ended)?),
                    },
                    vec![application_change(&ended)],
                ))
            })
        })
        .await
}

pub async fn get(
    records: &Records,
    request: &GetApplicationRequest,
) -> Result<GetApplicationResponse, Error> {
    let id = parse_name(&request.application)?;
    let model = store::application::find(records.database().connection(), id, false)
        .await?
        .ok_or_else(|| Error::not_found("application", name(id)))?;
    Ok(GetApplicationResponse {
        application: Some(to_proto(&model)?),
    })
}

pub async fn list(
    records: &Records,
    request: &ListApplicationsRequest,
) -> Result<ListApplicationsResponse, Error> {
    let mut violations = Violations::new();
    let prefix = violations
        .take(
            "territory_kato",
            Kato::parse_subtree(&request.territory_kato),
        )
        .flatten();
    let status = status_from_proto(request.status);
    violations.check(
        request.status == 0 || status.is_some(),
        "status",
        "not an application status",
    );
    let field = field_from_proto(request.field);
    violations.check(
        request.field == 0 || field.is_some(),
        "field",
        "not a field",
    );
    violations.into_result()?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let filter = Filter {
        status: status.map(ApplicationStatus::as_str),
        kato_prefix: prefix,
        field: field.map(Field::as_str),
        year: (request.year != 0).then_some(request.year),
        iin: (!request.iin.is_empty()).then(|| request.iin.clone()),
    };
    let (rows, next_page_token) =
        store::application::list(records.database().connection(), filter, &page).await?;
    Ok(ListApplicationsResponse {
        applications: rows.iter().map(to_proto).collect::<Result<_, _>>()?,
        next_page_token,
    })
}

fn quota_to_proto(model: &quotas::Model) -> Quota {
    Quota {
        region_kato: model.region_kato.clone(),
        year: model.year,
        allowance_count: model.allowance_count,
        loan_amount_tiyn: model.loan_amount_tiyn,
        allowances_approved: model.allowances_approved,
        loans_approved_tiyn: model.loans_approved_tiyn,
        version: model.version,
    }
}

fn parse_region(text: &str) -> Result<Kato, Error> {
    let region = Kato::parse(text).map_err(|e| Error::invalid("region_kato", e.to_string()))?;
    if region.level() != 1 {
        return Err(Error::invalid(
            "region_kato",
            "must be a region (top level)",
        ));
    }
    Ok(region)
}

pub async fn set_quota(
    records: &Records,
    request: &Request<SetQuotaRequest>,
) -> Result<SetQuotaResponse, Error> {
    Caller::of(request)?.require_national(Scope::GrantsWrite, "quotas")?;
    let body = request.get_ref();
    let region = parse_region(&body.region_kato)?.to_string();
    let mut violations = Violations::new();
    violations.check(
        (2009..=2100).contains(&body.year),
        "year",
        "between 2009 and 2100",
    );
    violations.take(
        "allowance_count",
        aimaq_types::bounds::people(i64::from(body.allowance_count)),
    );
    violations.check(
        body.loan_amount_tiyn >= 0,
        "loan_amount_tiyn",
        "must not be negative",
    );
    violations.check(
        body.expected_version >= 0,
        "expected_version",
        "must not be negative",
    );
    violations.into_result()?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let region = &region;
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                let quota_name = quota_name(region, body.year);
                let current =
                    store::application::quota_for_update(tx, region, body.year).await?;
                let version = next_version(
                    "quota",
                    &quota_name,
                    current.as_ref().map(|c| c.version),
                    body.expected_version,
                )?;
                let (allowances, loans) = current
                    .as_ref()
                    .map_or((0, 0), |c| (c.allowances_approved, c.loans_approved_tiyn));
                if body.allowance_count < allowances || body.loan_amount_tiyn < loans {
                    return Err(Error::precondition(
                        "QUOTA",
                        &quota_name,
                        format!(
                            "{quota_name} cannot go below what is approved: {allowances} allowances and {} for loans",
                            Money::from_tiyn(loans)
                        ),
                    ));
                }
                let quota = quotas::Model {
                    region_kato: region.clone(),
                    year: body.year,
                    allowance_count: body.allowance_count,
                    loan_amount_tiyn: body.loan_amount_tiyn,
                    allowances_approved: allowances,
                    loans_approved_tiyn: loans,
                    version,
                };
                aimaq_storage::save(tx, quotas::ActiveModel::from(quota.clone()), current.is_none())
                    .await?;
                Ok((
                    SetQuotaResponse {
                        quota: Some(quota_to_proto(&quota)),
                    },
                    vec![Change::versioned("quota", quota_name, version)],
                ))
            })
        })
        .await
}

pub async fn get_quota(
    records: &Records,
    request: &GetQuotaRequest,
) -> Result<GetQuotaResponse, Error> {
    let region = parse_region(&request.region_kato)?.to_string();
    let quota = store::application::quota(records.database().connection(), &region, request.year)
        .await?
        .ok_or_else(|| Error::not_found("quota", quota_name(&region, request.year)))?;
    Ok(GetQuotaResponse {
        quota: Some(quota_to_proto(&quota)),
    })
}
