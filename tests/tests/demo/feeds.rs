//! Every change event of the demo carries its resource as the service's own
//! message, so that a consumer needs no call back: of the type its resource
//! type names, naming the resource at the event's version, and for the last
//! change of a resource the same message a read of it answers.

use std::time::Duration;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::{self as budget, GetAllocationRequest};
use aimaq_proto::common::v1::{ChangeAction, ChangeEvent};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{self as governance, GetTerritoryRequest};
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::grants::v1::{self as grants, GetApplicationRequest};
use aimaq_stack::Stack;
use prost_reflect::{DynamicMessage, Value};

use crate::authorized;

/// The message each resource type's events carry.
const MESSAGES: &[(&str, &str)] = &[
    ("territory", "aimaq.governance.v1.Territory"),
    ("akim", "aimaq.governance.v1.Akim"),
    ("election", "aimaq.governance.v1.Election"),
    ("polling_station", "aimaq.governance.v1.PollingStation"),
    ("candidate", "aimaq.governance.v1.Candidate"),
    ("protocol", "aimaq.governance.v1.Protocol"),
    ("election_results", "aimaq.governance.v1.ElectionResults"),
    ("revenue", "aimaq.governance.v1.RevenueRecord"),
    ("indicator", "aimaq.governance.v1.Indicator"),
    ("program", "aimaq.budget.v1.Program"),
    ("envelope", "aimaq.budget.v1.Envelope"),
    ("allocation", "aimaq.budget.v1.Allocation"),
    ("project", "aimaq.budget.v1.Project"),
    ("program_target", "aimaq.budget.v1.ProgramTarget"),
    ("standard_status", "aimaq.budget.v1.StandardStatus"),
    ("application", "aimaq.grants.v1.Application"),
    ("quota", "aimaq.grants.v1.Quota"),
    ("historical_aggregate", "aimaq.grants.v1.StatisticsRow"),
    ("mci_rate", "aimaq.grants.v1.MciRate"),
    ("policy", "aimaq.grants.v1.Policy"),
];

pub async fn every_event_carries_its_resource(stack: &Stack, token: &str) {
    let governance = feed_of_governance(stack, token).await;
    let budget = feed_of_budget(stack, token).await;
    let grants = feed_of_grants(stack, token).await;
    let mut types_seen = Vec::new();
    for (service, events) in [
        ("governance", &governance),
        ("budget", &budget),
        ("grants", &grants),
    ] {
        assert!(events.len() > 10, "{service}: {} events", events.len());
        for event in events {
            check_carried(service, event);
            types_seen.push(event.resource_type.clone());
        }
    }
    types_seen.sort();
    types_seen.dedup();
    assert!(types_seen.len() >= 15, "{types_seen:?}");
    same_as_read(stack, token, &governance, &budget, &grants).await;
}

/// The event's resource is the message of its type, naming the resource and
/// at its version where the message has them.
fn check_carried(service: &str, event: &ChangeEvent) {
    let what = format!(
        "{service} event {} ({})",
        event.sequence, event.resource_name
    );
    let Some(carried) = &event.resource else {
        assert_eq!(
            event.action,
            ChangeAction::Deleted as i32,
            "{what}: nothing carried"
        );
        return;
    };
    let wanted = MESSAGES
        .iter()
        .find(|(kind, _)| *kind == event.resource_type)
        .unwrap_or_else(|| panic!("{what}: a type without a message: {}", event.resource_type));
    assert_eq!(
        carried.type_url,
        format!("type.googleapis.com/{}", wanted.1),
        "{what}"
    );
    let pool = aimaq_proto::descriptor_pool().unwrap();
    let descriptor = pool.get_message_by_name(wanted.1).unwrap();
    let message = DynamicMessage::decode(descriptor, carried.value.as_slice())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    if let Some(Value::String(name)) = message.get_field_by_name("name").as_deref()
        && name.contains('/')
    {
        assert_eq!(name, &event.resource_name, "{what}");
    }
    if let Some(Value::I64(version)) = message.get_field_by_name("version").as_deref() {
        assert_eq!(*version, event.resource_version, "{what}");
    }
}

/// The last event of one resource of each service against a read of it now.
async fn same_as_read(
    stack: &Stack,
    token: &str,
    governance: &[ChangeEvent],
    budget: &[ChangeEvent],
    grants: &[ChangeEvent],
) {
    let (kato, territory) = last_of::<governance::Territory>(governance, "territory");
    let read = GovernanceServiceClient::new(stack.channel("governance").await.unwrap())
        .get_territory(authorized(
            GetTerritoryRequest {
                kato: kato.trim_start_matches("territories/").into(),
                include_ancestors: false,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.territory, Some(territory), "{kato}");

    let (name, allocation) = last_of::<budget::Allocation>(budget, "allocation");
    let read = BudgetServiceClient::new(stack.channel("budget").await.unwrap())
        .get_allocation(authorized(
            GetAllocationRequest {
                allocation: name.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.allocation, Some(allocation), "{name}");

    let (name, application) = last_of::<grants::Application>(grants, "application");
    let read = GrantsServiceClient::new(stack.channel("grants").await.unwrap())
        .get_application(authorized(
            GetApplicationRequest {
                application: name.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.application, Some(application), "{name}");
}

/// The resource of the last event of `resource_type`, with its name.
fn last_of<M: prost::Name + Default>(events: &[ChangeEvent], resource_type: &str) -> (String, M) {
    let event = events
        .iter()
        .rev()
        .find(|e| e.resource_type == resource_type)
        .unwrap_or_else(|| panic!("no {resource_type} event"));
    let carried = event.resource.as_ref().unwrap();
    (event.resource_name.clone(), carried.to_msg::<M>().unwrap())
}

/// Reads a whole feed: until it has been quiet for two seconds.
macro_rules! feed_of {
    ($name:ident, $client:ident, $package:ident, $service:literal) => {
        async fn $name(stack: &Stack, token: &str) -> Vec<ChangeEvent> {
            let mut stream = $client::new(stack.channel($service).await.unwrap())
                .watch_changes(authorized($package::WatchChangesRequest::default(), token))
                .await
                .unwrap()
                .into_inner();
            let mut events = Vec::new();
            while let Ok(next) =
                tokio::time::timeout(Duration::from_secs(2), stream.message()).await
            {
                match next.unwrap() {
                    Some(message) => events.extend(message.event),
                    None => break,
                }
            }
            events
        }
    };
}

feed_of!(
    feed_of_governance,
    GovernanceServiceClient,
    governance,
    "governance"
);
feed_of!(feed_of_budget, BudgetServiceClient, budget, "budget");
feed_of!(feed_of_grants, GrantsServiceClient, grants, "grants");
