//! SetQuota and GetQuota: the regions' yearly quotas.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::grants::v1::*;
use aimaq_records::{Mutation, Records};
use aimaq_types::{Kato, Money};
use tonic::Request;

use crate::domain::application::Quota as Kept;
use crate::ops;
use crate::ops::quotas::SetQuota;

pub(super) fn to_proto(quota: &Kept) -> Quota {
    Quota {
        region_kato: quota.region.to_string(),
        year: quota.year,
        allowance_count: quota.allowance_count,
        loan_amount_tiyn: quota.loan_amount.tiyn(),
        allowances_approved: quota.allowances_approved,
        loans_approved_tiyn: quota.loans_approved.tiyn(),
        version: quota.version,
    }
}

fn parse_region(text: &str) -> Result<Kato, Error> {
    let region = aimaq_error::fields::kato("region_kato", text)?;
    if region.level() != 1 {
        return Err(Error::invalid(
            "region_kato",
            "must be a region (top level)",
        ));
    }
    Ok(region)
}

pub async fn set(
    records: &Records,
    request: &Request<SetQuotaRequest>,
) -> Result<SetQuotaResponse, Error> {
    Caller::of(request)?.require_national(Scope::GrantsWrite, "quotas")?;
    let body = request.get_ref();
    let region = parse_region(&body.region_kato)?;
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
    let asked = SetQuota {
        region,
        year: body.year,
        allowance_count: body.allowance_count,
        loan_amount: Money::from_tiyn(body.loan_amount_tiyn),
        expected_version: body.expected_version,
    };
    ops::quotas::set(records, &mutation, &asked, |quota| SetQuotaResponse {
        quota: Some(to_proto(quota)),
    })
    .await
}

pub async fn get(records: &Records, request: &GetQuotaRequest) -> Result<GetQuotaResponse, Error> {
    let region = parse_region(&request.region_kato)?;
    let quota = ops::quotas::get(records, region, request.year).await?;
    Ok(GetQuotaResponse {
        quota: Some(to_proto(&quota)),
    })
}
