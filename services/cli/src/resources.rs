//! `get` and `list`: the main resources of each service, every page read.

use std::future::Future;
use std::io::Write;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::Date;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::*;
use serde_json::Value;

use crate::args::{GetArgs, ListArgs, Resource};
use crate::output::{Format, Printer, to_json};
use crate::{CliError, Connection};

/// The message of an answer, or a refusal.
fn found<M: prost::Message + prost::Name>(message: Option<M>) -> Result<Value, CliError> {
    match message {
        Some(message) => to_json(&message),
        None => Err(CliError::Output(
            "the service answered without the resource".into(),
        )),
    }
}

pub fn jsons<M: prost::Message + prost::Name>(messages: &[M]) -> Result<Vec<Value>, CliError> {
    messages.iter().map(to_json).collect()
}

/// A date written `YYYY-MM-DD`.
fn date(text: &str) -> Result<Date, CliError> {
    let parsed = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| CliError::Usage(format!("{text:?} is not a date: write YYYY-MM-DD")))?;
    Ok(aimaq_proto::date_to_proto(parsed))
}

pub async fn get(
    connection: &Connection,
    printer: &Printer,
    args: &GetArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let channel = connection.channel.clone();
    let failed = |status| CliError::of_call(connection, status);
    let id = args.id.clone();
    let row = match args.resource {
        Resource::Territories => {
            let request = connection.request(GetTerritoryRequest {
                kato: id,
                include_ancestors: false,
            })?;
            let answer = GovernanceServiceClient::new(channel)
                .get_territory(request)
                .await;
            found(answer.map_err(failed)?.into_inner().territory)?
        }
        Resource::Elections => {
            let request = connection.request(GetElectionRequest { name: id })?;
            let answer = GovernanceServiceClient::new(channel)
                .get_election(request)
                .await;
            found(answer.map_err(failed)?.into_inner().election)?
        }
        Resource::Programs => {
            let request = connection.request(GetProgramRequest { code: id })?;
            let answer = BudgetServiceClient::new(channel).get_program(request).await;
            found(answer.map_err(failed)?.into_inner().program)?
        }
        Resource::Allocations => {
            let request = connection.request(GetAllocationRequest { allocation: id })?;
            let answer = BudgetServiceClient::new(channel)
                .get_allocation(request)
                .await;
            found(answer.map_err(failed)?.into_inner().allocation)?
        }
        Resource::Projects => {
            let request = connection.request(GetProjectRequest { project: id })?;
            let answer = BudgetServiceClient::new(channel).get_project(request).await;
            found(answer.map_err(failed)?.into_inner().project)?
        }
        Resource::Applications => {
            let request = connection.request(GetApplicationRequest { application: id })?;
            let answer = GrantsServiceClient::new(channel)
                .get_application(request)
                .await;
            found(answer.map_err(failed)?.into_inner().application)?
        }
        Resource::MciRates => {
            let request = connection.request(GetMciRateRequest {
                date: Some(date(&id)?),
            })?;
            let answer = GrantsServiceClient::new(channel)
                .get_mci_rate(request)
                .await;
            found(answer.map_err(failed)?.into_inner().rate)?
        }
        Resource::Terms => {
            let request = connection.request(GetPolicyRequest {
                date: Some(date(&id)?),
            })?;
            let answer = GrantsServiceClient::new(channel).get_policy(request).await;
            to_json(&answer.map_err(failed)?.into_inner())?
        }
    };
    let mut rows = [row];
    if matches!(printer.format, Format::Table | Format::Csv)
        && args.resource != Resource::Territories
    {
        crate::names::annotate(connection, &mut rows, printer.language).await?;
    }
    printer.one(&rows[0], out)
}

/// Every page of a list: `page` is called with each page's token until the
/// answer has no next one.
async fn every_page<F, Fut>(page: F) -> Result<Vec<Value>, CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<Value>, String), CliError>>,
{
    let mut rows = Vec::new();
    each_page(page, |mut got| {
        rows.append(&mut got);
        Ok(())
    })
    .await?;
    Ok(rows)
}

/// Each page of a list handed to `take` as it comes.
pub async fn each_page<F, Fut>(
    mut page: F,
    mut take: impl FnMut(Vec<Value>) -> Result<(), CliError>,
) -> Result<(), CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<Value>, String), CliError>>,
{
    let mut token = String::new();
    loop {
        let (got, next) = page(token).await?;
        take(got)?;
        if next.is_empty() {
            return Ok(());
        }
        token = next;
    }
}

pub async fn list(
    connection: &Connection,
    printer: &Printer,
    args: &ListArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let rows = match args.resource {
        Resource::Territories | Resource::Elections => governance_list(connection, args).await?,
        Resource::Programs | Resource::Allocations | Resource::Projects => {
            budget_list(connection, args).await?
        }
        Resource::Applications | Resource::MciRates | Resource::Terms => {
            grants_list(connection, args).await?
        }
    };
    let mut rows = rows;
    if matches!(printer.format, Format::Table | Format::Csv)
        && args.resource != Resource::Territories
    {
        crate::names::annotate(connection, &mut rows, printer.language).await?;
    }
    printer.rows(&rows, out)
}

async fn governance_list(connection: &Connection, args: &ListArgs) -> Result<Vec<Value>, CliError> {
    let client = GovernanceServiceClient::new(connection.channel.clone());
    let failed = |status| CliError::of_call(connection, status);
    let territory = args.territory.clone().unwrap_or_default();
    if args.resource == Resource::Territories {
        return every_page(|page_token| {
            let request = connection.request(ListTerritoriesRequest {
                parent_kato: territory.clone(),
                page_size: args.page_size,
                page_token,
                ..Default::default()
            });
            let mut client = client.clone();
            async move {
                let answer = client.list_territories(request?).await.map_err(failed)?;
                let answer = answer.into_inner();
                Ok((jsons(&answer.territories)?, answer.next_page_token))
            }
        })
        .await;
    }
    every_page(|page_token| {
        let request = connection.request(ListElectionsRequest {
            territory_kato: territory.clone(),
            year: args.year.unwrap_or_default(),
            page_size: args.page_size,
            page_token,
            ..Default::default()
        });
        let mut client = client.clone();
        async move {
            let answer = client.list_elections(request?).await.map_err(failed)?;
            let answer = answer.into_inner();
            Ok((jsons(&answer.elections)?, answer.next_page_token))
        }
    })
    .await
}

async fn budget_list(connection: &Connection, args: &ListArgs) -> Result<Vec<Value>, CliError> {
    let client = BudgetServiceClient::new(connection.channel.clone());
    let failed = |status| CliError::of_call(connection, status);
    let program = args.program.clone().unwrap_or_default();
    let territory = args.territory.clone().unwrap_or_default();
    let year = args.year.unwrap_or_default();
    every_page(|page_token| {
        let mut client = client.clone();
        let (program, territory) = (program.clone(), territory.clone());
        let page_size = args.page_size;
        let resource = args.resource;
        async move {
            match resource {
                Resource::Programs => {
                    let request = connection.request(ListProgramsRequest {
                        year,
                        page_size,
                        page_token,
                        ..Default::default()
                    })?;
                    let answer = client
                        .list_programs(request)
                        .await
                        .map_err(failed)?
                        .into_inner();
                    Ok((jsons(&answer.programs)?, answer.next_page_token))
                }
                Resource::Allocations => {
                    let request = connection.request(ListAllocationsRequest {
                        program_code: program,
                        fiscal_year: year,
                        territory_kato: territory,
                        page_size,
                        page_token,
                    })?;
                    let answer = client
                        .list_allocations(request)
                        .await
                        .map_err(failed)?
                        .into_inner();
                    Ok((jsons(&answer.allocations)?, answer.next_page_token))
                }
                _ => {
                    let request = connection.request(ListProjectsRequest {
                        program_code: program,
                        fiscal_year: year,
                        territory_kato: territory,
                        page_size,
                        page_token,
                        ..Default::default()
                    })?;
                    let answer = client
                        .list_projects(request)
                        .await
                        .map_err(failed)?
                        .into_inner();
                    Ok((jsons(&answer.projects)?, answer.next_page_token))
                }
            }
        }
    })
    .await
}

async fn grants_list(connection: &Connection, args: &ListArgs) -> Result<Vec<Value>, CliError> {
    let mut client = GrantsServiceClient::new(connection.channel.clone());
    let failed = |status| CliError::of_call(connection, status);
    match args.resource {
        Resource::MciRates => {
            let request = connection.request(ListMciRatesRequest::default())?;
            let answer = client.list_mci_rates(request).await.map_err(failed)?;
            jsons(&answer.into_inner().rates)
        }
        Resource::Terms => Err(CliError::Usage(
            "terms are read for a date: aimaq get terms YYYY-MM-DD".into(),
        )),
        _ => {
            let territory = args.territory.clone().unwrap_or_default();
            let iin = args.iin.clone().unwrap_or_default();
            every_page(|page_token| {
                let request = connection.request(ListApplicationsRequest {
                    territory_kato: territory.clone(),
                    year: args.year.unwrap_or_default(),
                    iin: iin.clone(),
                    page_size: args.page_size,
                    page_token,
                    ..Default::default()
                });
                let mut client = client.clone();
                async move {
                    let answer = client.list_applications(request?).await.map_err(failed)?;
                    let answer = answer.into_inner();
                    Ok((jsons(&answer.applications)?, answer.next_page_token))
                }
            })
            .await
        }
    }
}
