//! SubmitApplication, GetApplication, ListApplications, RecordPayment,
//! GetLoanSchedule, RecordDeparture.

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::grants::v1::{self as pb, *};
use aimaq_records::{Mutation, Records};
use aimaq_storage::paging::Page;
use aimaq_territories::TerritoryDirectory;
use aimaq_types::{Iin, Kato, Money};
use chrono::{Datelike, NaiveDate};
use tonic::Request;

use super::terms::{field_from_proto, field_to_proto};
use crate::domain::application::{
    Application as Kept, ApplicationStatus, Diploma as KeptDiploma, Granted, Loan, check_applicant,
    check_field, check_length, check_loan, check_text,
};
use crate::domain::decision::Payment;
use crate::domain::terms::{Field, Policy, in_money};
use crate::ops;
use crate::store::application::{Filter, name, parse_name};

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

fn date(day: NaiveDate) -> aimaq_proto::common::v1::Date {
    aimaq_proto::date_to_proto(day)
}

fn terms_to_proto(application: &Kept) -> Option<GrantTerms> {
    let decided = application.decision_date.is_some()
        && !matches!(
            application.status,
            ApplicationStatus::Submitted | ApplicationStatus::Rejected
        );
    let granted = &application.granted;
    decided.then(|| GrantTerms {
        decision_date: application.decision_date.map(date),
        allowance_tiyn: granted.allowance.tiyn(),
        loan_amount_tiyn: granted.loan.amount.tiyn(),
        loan_term_months: granted.loan.months,
        loan_rate_bp: granted.loan_rate_bp,
        obligation_months: granted.obligation_months,
        mci_tiyn: granted.mci.tiyn(),
        policy_effective_from: granted.policy_effective_from.map(date),
    })
}

pub(super) fn to_proto(application: &Kept) -> Application {
    let diploma = &application.diploma;
    Application {
        name: name(application.id),
        iin: application.iin.to_string(),
        full_name: application.full_name.clone(),
        field: field_to_proto(application.field) as i32,
        diploma: Some(Diploma {
            level: diploma.level,
            speciality: diploma.speciality.clone(),
            year: diploma.year,
            institution: diploma.institution.clone(),
        }),
        settlement_kato: application.settlement.to_string(),
        region_kato: application.settlement.region().to_string(),
        employer: application.employer.clone(),
        start_date: Some(date(application.start_date)),
        allowance_requested: application.allowance_requested,
        loan_requested: application.loan_requested.map(|loan| LoanRequest {
            amount_tiyn: loan.amount.tiyn(),
            term_months: loan.months,
        }),
        status: status_to_proto(application.status) as i32,
        terms: terms_to_proto(application),
        rejection_reason: application.rejection_reason.clone(),
        allowance_paid: application.allowance_paid,
        loan_disbursed: application.loan_disbursed_on.is_some(),
        departure_date: application.departure_date.map(date),
        breach: application
            .settlement_due
            .filter(|_| application.status == ApplicationStatus::Breached)
            .map(|due| BreachSettlement {
                served_months: application.served_months,
                unserved_months: due.unserved_months,
                allowance_refund_tiyn: due.allowance_refund.tiyn(),
                loan_principal_due_tiyn: due.loan_principal_due.tiyn(),
            }),
        version: application.version,
        submit_time: Some(aimaq_proto::timestamp_from_micros(
            application.submitted_at_micros,
        )),
    }
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn check_diploma(violations: &mut Violations, diploma: Option<&Diploma>, today: NaiveDate) {
    let Some(diploma) = diploma else {
        return violations.add("diploma", "required");
    };
    violations.check(
        pb::DiplomaLevel::try_from(diploma.level).is_ok_and(|l| l != pb::DiplomaLevel::Unspecified),
        "diploma.level",
        "required",
    );
    check_text(violations, "diploma.speciality", &diploma.speciality);
    check_length(violations, "diploma.institution", &diploma.institution);
    violations.check(
        (OLDEST_DIPLOMA..=today.year()).contains(&diploma.year),
        "diploma.year",
        format!("between {OLDEST_DIPLOMA} and this year"),
    );
}

/// What SubmitApplication asks, checked against the terms in force `today`
/// (eligible field, loan within its cap); the settlement is checked after.
fn checked(
    body: &SubmitApplicationRequest,
    (policy, mci): (&Policy, Money),
    today: NaiveDate,
) -> Result<(Iin, Field, Kato, NaiveDate, KeptDiploma), Error> {
    let mut violations = Violations::new();
    let iin = violations.take("iin", check_applicant(&body.iin, today));
    check_text(&mut violations, "full_name", &body.full_name);
    let field = field_from_proto(body.field);
    violations.check(field.is_some(), "field", "required");
    check_diploma(&mut violations, body.diploma.as_ref(), today);
    let settlement = violations.take("settlement_kato", Kato::parse(&body.settlement_kato));
    check_text(&mut violations, "employer", &body.employer);
    let start = super::required_date(&mut violations, "start_date", body.start_date.as_ref());
    violations.check(
        body.allowance_requested || body.loan_requested.is_some(),
        "allowance_requested",
        "request the allowance, a housing loan, or both",
    );
    if let Some(field) = field {
        check_field(&mut violations, field, policy);
    }
    if let Some(loan) = &body.loan_requested {
        let cap = in_money(policy.loan_cap_mci, mci)?;
        check_loan(
            &mut violations,
            "loan_requested",
            loan_of(loan),
            policy,
            cap,
        );
    }
    let diploma = body.diploma.as_ref().map(|d| KeptDiploma {
        level: d.level,
        speciality: d.speciality.trim().to_owned(),
        year: d.year,
        institution: d.institution.trim().to_owned(),
    });
    violations.then(|| Some((iin?, field?, settlement?, start?, diploma?)))
}

fn loan_of(loan: &LoanRequest) -> Loan {
    Loan {
        amount: Money::from_tiyn(loan.amount_tiyn),
        months: loan.term_months,
    }
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
    let (policy, mci) = ops::terms::in_force(records, today).await?;
    let (iin, field, settlement, start_date, diploma) =
        checked(body, (&policy.terms, mci.value), today)?;
    caller.require_write_at(settlement)?;
    let facts = directory.facts(settlement, &OnBehalf::of(request)?).await?;
    if !(facts.is_settlement() && facts.rural) {
        return Err(Error::invalid(
            "settlement_kato",
            format!("{settlement} is not a rural settlement"),
        ));
    }
    let mutation = Mutation::of(request, body, &body.request_id)?;
    if body.validate_only {
        return Ok(SubmitApplicationResponse::default());
    }
    let now = chrono::Utc::now().timestamp_micros();
    let application = Kept {
        id: 0,
        iin,
        full_name: body.full_name.trim().to_owned(),
        field,
        diploma,
        settlement,
        employer: body.employer.trim().to_owned(),
        start_date,
        allowance_requested: body.allowance_requested,
        loan_requested: body.loan_requested.as_ref().map(loan_of),
        status: ApplicationStatus::Submitted,
        submitted_year: today.year(),
        decision_date: None,
        granted: Granted::default(),
        rejection_reason: String::new(),
        allowance_paid: false,
        loan_disbursed_on: None,
        departure_date: None,
        served_months: 0,
        settlement_due: None,
        version: 1,
        submitted_at_micros: now,
        updated_at_micros: now,
    };
    ops::applications::submit(records, &mutation, &application, |application| {
        SubmitApplicationResponse {
            application: Some(to_proto(application)),
        }
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
    let asked = ops::applications::Pay {
        id,
        payment: if kind == pb::PaymentKind::Allowance {
            Payment::Allowance
        } else {
            Payment::Loan(date)
        },
        expected_version: body.expected_version,
    };
    let may_write = |settlement| caller.require_write_at(settlement);
    ops::applications::pay(records, &mutation, &asked, may_write, |application| {
        RecordPaymentResponse {
            application: Some(to_proto(application)),
        }
    })
    .await
}

pub async fn loan_schedule_of(
    records: &Records,
    request: &GetLoanScheduleRequest,
) -> Result<GetLoanScheduleResponse, Error> {
    let id = parse_name(&request.application)?;
    let (application, lines) = ops::applications::loan_schedule_of(records, id).await?;
    let loan = &application.granted;
    Ok(GetLoanScheduleResponse {
        application: name(id),
        loan_amount_tiyn: loan.loan.amount.tiyn(),
        loan_rate_bp: loan.loan_rate_bp,
        term_months: loan.loan.months,
        total_interest_tiyn: lines.iter().map(|l| l.interest).sum(),
        lines: lines
            .iter()
            .map(|line| LoanScheduleLine {
                number: line.number,
                due_date: Some(date(line.due_date)),
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
    let asked = ops::applications::Depart {
        id,
        date,
        expected_version: body.expected_version,
    };
    let may_write = |settlement| caller.require_write_at(settlement);
    ops::applications::depart(records, &mutation, &asked, may_write, |application| {
        RecordDepartureResponse {
            application: Some(to_proto(application)),
        }
    })
    .await
}

pub async fn get(
    records: &Records,
    request: &GetApplicationRequest,
) -> Result<GetApplicationResponse, Error> {
    let id = parse_name(&request.application)?;
    let application = ops::applications::get(records, id).await?;
    Ok(GetApplicationResponse {
        application: Some(to_proto(&application)),
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
    // A filter is input like any other: a malformed IIN is refused, not
    // answered with an empty page.
    let iin = if request.iin.is_empty() {
        None
    } else {
        violations.take("iin", Iin::parse(&request.iin))
    };
    violations.into_result()?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let filter = Filter {
        status,
        kato_prefix: prefix,
        field,
        year: (request.year != 0).then_some(request.year),
        iin: iin.map(|iin| iin.to_string()),
    };
    let (applications, next_page_token) = ops::applications::list(records, filter, &page).await?;
    Ok(ListApplicationsResponse {
        applications: applications.iter().map(to_proto).collect(),
        next_page_token,
    })
}
