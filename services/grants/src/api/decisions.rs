//! DecideApplication.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::grants::v1::{self as pb, *};
use aimaq_records::{Mutation, Records};
use aimaq_types::Money;
use tonic::Request;

use super::applications::to_proto;
use crate::domain::application::{Loan, check_text};
use crate::domain::decision::Approval;
use crate::ops;
use crate::ops::decisions::{Decide, Verdict};
use crate::store::application::parse_name;

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
    let verdict = if decision == pb::Decision::Reject {
        Verdict::Reject(&body.reason)
    } else {
        Verdict::Approve(Approval {
            allowance: body.grant_allowance,
            loan: body.grant_loan.as_ref().map(|loan| Loan {
                amount: Money::from_tiyn(loan.amount_tiyn),
                months: loan.term_months,
            }),
        })
    };
    let asked = Decide {
        id,
        date,
        expected_version: body.expected_version,
        verdict,
    };
    let may_write = |settlement| caller.require_write_at(settlement);
    ops::decisions::decide(records, &mutation, &asked, may_write, |application| {
        DecideApplicationResponse {
            application: Some(to_proto(application)),
        }
    })
    .await
}
