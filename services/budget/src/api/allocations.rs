//! Allocate, AdjustAllocation, GetAllocation, ListAllocations: the allocation tree.

use aimaq_auth::{Caller, OnBehalf, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::budget::v1::*;
use aimaq_records::{Mutation, Records};
use aimaq_storage::paging::Page;
use aimaq_types::{Kato, Money};
use tonic::Request;

use crate::domain::allocation::Allocation as Kept;
use crate::ops;
use crate::store::allocation::{name, parse_name};
use aimaq_territories::TerritoryDirectory;

pub(super) fn to_proto(allocation: &Kept) -> Allocation {
    let (program, year) = (allocation.program_code.as_str(), allocation.fiscal_year);
    Allocation {
        name: name((program, year, allocation.territory)),
        program_code: program.to_owned(),
        fiscal_year: year,
        territory_kato: allocation.territory.to_string(),
        parent: allocation
            .parent
            .map(|parent| name((program, year, parent)))
            .unwrap_or_default(),
        amount_tiyn: allocation.amount.tiyn(),
        approved_tiyn: allocation.approved.tiyn(),
        committed_tiyn: allocation.committed.tiyn(),
        disbursed_tiyn: allocation.disbursed.tiyn(),
        headroom_tiyn: allocation
            .amount
            .tiyn()
            .saturating_sub(allocation.committed.tiyn()),
        version: allocation.version,
        update_time: Some(aimaq_proto::timestamp_from_micros(
            allocation.updated_at_micros,
        )),
    }
}

pub async fn allocate(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &Request<AllocateRequest>,
) -> Result<AllocateResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let mut violations = Violations::new();
    violations.check(!body.program_code.is_empty(), "program_code", "required");
    let kato = violations.take("territory_kato", Kato::parse(&body.territory_kato));
    violations.check(body.amount_tiyn > 0, "amount_tiyn", "must be positive");
    let kato = violations.then(|| kato)?;
    caller.require_write_at(kato)?;
    // Asked before the transaction: no lock is held while governance answers.
    let facts = directory.facts(kato, &OnBehalf::of(request)?).await?;
    if !facts.existed_in(body.fiscal_year) {
        return Err(Error::invalid(
            "territory_kato",
            format!(
                "{kato} did not exist under this code in {}: its money belongs to the territory that held it then",
                body.fiscal_year
            ),
        ));
    }
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let asked = ops::allocations::Allocate {
        program_code: &body.program_code,
        fiscal_year: body.fiscal_year,
        territory: kato,
        parent: facts.parent,
        amount: Money::from_tiyn(body.amount_tiyn),
    };
    ops::allocations::allocate(records, &mutation, asked, |allocation| AllocateResponse {
        allocation: Some(to_proto(allocation)),
    })
    .await
}

pub async fn adjust(
    records: &Records,
    request: &Request<AdjustAllocationRequest>,
) -> Result<AdjustAllocationResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::BudgetWrite)?;
    let body = request.get_ref();
    let (program, year, kato) = parse_name(&body.allocation)?;
    let mut violations = Violations::new();
    violations.check(body.delta_tiyn != 0, "delta_tiyn", "must not be zero");
    violations.require_version(body.expected_version);
    violations.into_result()?;
    caller.require_write_at(kato)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let asked = ops::allocations::Adjust {
        key: (&program, year, kato),
        delta: Money::from_tiyn(body.delta_tiyn),
        expected_version: body.expected_version,
    };
    ops::allocations::adjust(records, &mutation, asked, |allocation| {
        AdjustAllocationResponse {
            allocation: Some(to_proto(allocation)),
        }
    })
    .await
}

pub async fn get(
    records: &Records,
    request: &GetAllocationRequest,
) -> Result<GetAllocationResponse, Error> {
    let (program, year, kato) = parse_name(&request.allocation)?;
    let allocation = ops::allocations::get(records, (&program, year, kato)).await?;
    Ok(GetAllocationResponse {
        allocation: Some(to_proto(&allocation)),
    })
}

pub async fn list(
    records: &Records,
    request: &ListAllocationsRequest,
) -> Result<ListAllocationsResponse, Error> {
    if request.program_code.is_empty() {
        return Err(Error::invalid("program_code", "required"));
    }
    let prefix = Kato::parse_subtree(&request.territory_kato)
        .map_err(|e| Error::invalid("territory_kato", e.to_string()))?;
    let page = Page::from_request(request.page_size, &request.page_token)?;
    let years = match request.fiscal_year {
        0 => i32::MIN..=i32::MAX,
        year => year..=year,
    };
    let (allocations, next_page_token) =
        ops::allocations::list(records, &request.program_code, years, prefix, &page).await?;
    Ok(ListAllocationsResponse {
        allocations: allocations.iter().map(to_proto).collect(),
        next_page_token,
    })
}
