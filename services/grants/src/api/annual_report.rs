//! GetAnnualReport: the programme's annual report, as a ministry files it.

use aimaq_auth::OnBehalf;
use aimaq_error::{Error, Violations};
use aimaq_proto::grants::v1::*;
use aimaq_records::Records;
use aimaq_territories::TerritoryDirectory;
use aimaq_types::Kato;

use super::statistics::totals_to_proto;
use super::terms::field_to_proto;
use crate::domain::annual_report::AnnualRow as Row;
use crate::domain::statistics::{FIRST_YEAR, LAST_YEAR};
use crate::ops;

fn row_to_proto(row: &Row) -> AnnualReportRow {
    AnnualReportRow {
        region_kato: row.region_kato.clone(),
        field: row.field.map_or(0, |field| field_to_proto(field) as i32),
        approved: row.approved,
        rejected: row.rejected,
        granted: Some(totals_to_proto(&row.granted)),
        paid: Some(totals_to_proto(&row.paid)),
        departures: row.departures,
        allowance_refund_tiyn: row.allowance_refund_tiyn,
        loan_principal_due_tiyn: row.loan_principal_due_tiyn,
    }
}

/// A report of a territory is of a year it existed in under its code (asked
/// of governance on the caller's behalf): before, its settlements' decisions
/// were another territory's.
async fn require_existing(
    directory: &TerritoryDirectory,
    caller: &OnBehalf,
    territory: &str,
    year: i32,
) -> Result<(), Error> {
    let kato = Kato::parse(territory)
        .map_err(|reason| Error::invalid("territory_kato", reason.to_string()))?;
    if !directory.facts(kato, caller).await?.existed_in(year) {
        return Err(Error::invalid(
            "territory_kato",
            format!(
                "{kato} did not exist under this code in {year}: report on the years it existed"
            ),
        ));
    }
    Ok(())
}

pub async fn annual_report(
    records: &Records,
    directory: &TerritoryDirectory,
    request: &tonic::Request<GetAnnualReportRequest>,
) -> Result<GetAnnualReportResponse, Error> {
    let caller = OnBehalf::of(request)?;
    let request = request.get_ref();
    let mut violations = Violations::new();
    violations.check(
        (FIRST_YEAR..=LAST_YEAR).contains(&request.year),
        "year",
        format!("must be a year from {FIRST_YEAR} to {LAST_YEAR}"),
    );
    let prefix = violations
        .take(
            "territory_kato",
            Kato::parse_subtree(&request.territory_kato),
        )
        .flatten();
    violations.into_result()?;
    if prefix.is_some() {
        require_existing(directory, &caller, &request.territory_kato, request.year).await?;
    }
    let report = ops::statistics::annual_report(records, request.year, prefix.as_deref()).await?;
    Ok(GetAnnualReportResponse {
        year: request.year,
        regions: report
            .regions
            .iter()
            .map(|(sum, quota)| RegionAnnualReport {
                region_kato: sum.region_kato.clone(),
                allowance_quota: quota.as_ref().map_or(0, |q| q.allowance_count),
                loan_quota_tiyn: quota.as_ref().map_or(0, |q| q.loan_amount.tiyn()),
                total: Some(row_to_proto(sum)),
            })
            .collect(),
        rows: report.rows.iter().map(row_to_proto).collect(),
        total: Some(row_to_proto(&report.total)),
    })
}
