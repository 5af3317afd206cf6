//! Who is calling and whether the services are up: `whoami`, `health`, and
//! development tokens (`token mint`).

use std::io::Write;
use std::str::FromStr;

use aimaq_auth::{DevKeys, Scope, TokenIssuer, TokenSpec};
use aimaq_proto::gateway::v1::GetCallerIdentityRequest;
use aimaq_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use serde_json::json;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::args::MintArgs;
use crate::output::{Printer, to_json};
use crate::{CliError, Connection};

/// The services whose health the gateway reports, as it names them.
const SERVICES: [&str; 4] = [
    "aimaq.gateway.v1.GatewayService",
    "aimaq.governance.v1.GovernanceService",
    "aimaq.budget.v1.BudgetService",
    "aimaq.grants.v1.GrantsService",
];

pub async fn whoami(
    connection: &Connection,
    printer: &Printer,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let request = connection.request(GetCallerIdentityRequest {})?;
    let answer = GatewayServiceClient::new(connection.channel.clone())
        .get_caller_identity(request)
        .await
        .map_err(|status| CliError::of_call(connection, status))?;
    printer.one(&to_json(answer.get_ref())?, out)
}

/// The gateway's own health, then each service's behind it. Fails (exit 4)
/// when any is not serving.
pub async fn health(
    connection: &Connection,
    printer: &Printer,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut client = HealthClient::new(connection.channel.clone());
    let mut rows = Vec::new();
    let mut down = Vec::new();
    for service in std::iter::once("").chain(SERVICES) {
        let request = connection.request(HealthCheckRequest {
            service: service.to_string(),
        })?;
        let status = match client.check(request).await {
            Ok(answer) => answer.get_ref().status().as_str_name().to_string(),
            Err(status) if status.code() == tonic::Code::NotFound => "UNKNOWN".to_string(),
            Err(status) => return Err(CliError::of_call(connection, status)),
        };
        if status != "SERVING" {
            down.push(if service.is_empty() {
                "gateway"
            } else {
                service
            });
        }
        let name = if service.is_empty() {
            "(the gateway, all backends)"
        } else {
            service
        };
        rows.push(json!({ "service": name, "status": status }));
    }
    printer.rows(&rows, out)?;
    if down.is_empty() {
        Ok(())
    } else {
        Err(CliError::Refused(tonic::Status::unavailable(format!(
            "not serving: {}",
            down.join(", ")
        ))))
    }
}

/// Mints a token with the development key of a stack's data directory.
pub fn mint(args: &MintArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if !DevKeys::has_signing_key(&args.data_dir) {
        return Err(CliError::Usage(format!(
            "{} holds no development signing key: aimaq mints tokens only with a stack's \
             development key; production tokens come from the agencies' identity provider",
            args.data_dir.display()
        )));
    }
    let keys = DevKeys::load_or_generate(&args.data_dir)
        .map_err(|error| CliError::Usage(format!("the development key: {error}")))?;
    let scopes = args
        .scopes
        .iter()
        .map(|scope| {
            Scope::from_str(scope).map_err(|_| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                CliError::Usage(format!("--scope {scope:?}: one of {}", known.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bound_to = match &args.bound_to {
        Some(path) => Some(
            aimaq_tls::thumbprint_of(path)
                .map_err(|error| CliError::Usage(format!("--bound-to: {error}")))?,
        ),
        None => None,
    };
    let issuer = TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq")
        .map_err(|error| CliError::Usage(format!("the development key: {error}")))?;
    let token = issuer
        .mint(&TokenSpec {
            subject: args.subject.clone(),
            agency: args.agency.clone(),
            scopes,
            kato_prefix: args.kato_prefix.clone(),
            ttl: args.valid_for,
            bound_to,
        })
        .map_err(|error| CliError::Usage(format!("minting: {error}")))?;
    writeln!(out, "{token}")?;
    Ok(())
}
