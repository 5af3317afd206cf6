//! What the logs prove of the demo's data: every resource in the state its
//! last change committed to, a certified election recounted from its bundle,
//! and rows edited past the services found.

use std::path::Path;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    ElectionStatus, GetElectionResultsBundleRequest, ListElectionsRequest, VerifyAuditLogRequest,
};
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_stack::Stack;

use crate::authorized;

/// After the whole demo was written, every service's log verifies, and every
/// resource's rows are in the state its last change committed to.
pub async fn every_resource_is_in_its_committed_state(stack: &Stack, token: &str) {
    for (service, verification) in verifications(stack, token).await {
        assert!(verification.intact, "{service}: {}", verification.reason);
        assert_eq!(verification.resources_without_digest, 0, "{service}");
        assert!(
            verification.resources_checked > 100,
            "{service}: {verification:?}"
        );
    }
}

/// Each service's own check of its log and of its resources' state.
async fn verifications(
    stack: &Stack,
    token: &str,
) -> [(&'static str, aimaq_proto::common::v1::AuditVerification); 3] {
    use aimaq_proto::budget::v1::VerifyAuditLogRequest as BudgetVerify;
    use aimaq_proto::grants::v1::VerifyAuditLogRequest as GrantsVerify;
    let governance = GovernanceServiceClient::new(stack.channel("governance").await.unwrap())
        .verify_audit_log(authorized(VerifyAuditLogRequest {}, token))
        .await
        .unwrap()
        .into_inner();
    let budget = BudgetServiceClient::new(stack.channel("budget").await.unwrap())
        .verify_audit_log(authorized(BudgetVerify {}, token))
        .await
        .unwrap()
        .into_inner();
    let grants = GrantsServiceClient::new(stack.channel("grants").await.unwrap())
        .verify_audit_log(authorized(GrantsVerify {}, token))
        .await
        .unwrap()
        .into_inner();
    [
        ("governance", governance.verification.unwrap()),
        ("budget", budget.verification.unwrap()),
        ("grants", grants.verification.unwrap()),
    ]
}

/// A certified election's results bundle, through the gateway.
pub async fn results_bundle(
    stack: &Stack,
    token: &str,
    election: &str,
) -> Result<aimaq_proto::governance::v1::ElectionResultsBundle, tonic::Status> {
    let request = GetElectionResultsBundleRequest {
        election: election.to_owned(),
        ..GetElectionResultsBundleRequest::default()
    };
    let answer = GovernanceServiceClient::new(stack.channel("gateway").await.unwrap())
        .get_election_results_bundle(authorized(request, token))
        .await?
        .into_inner();
    assert_eq!(answer.next_page_token, "", "a demo election fits one page");
    Ok(answer.bundle.unwrap())
}

/// The demo's first certified election: its bundle, fetched through the
/// gateway, checks against governance's published log key and recounts to
/// the certified result. Its name, for the edits after.
pub async fn a_certified_election_recounts(stack: &Stack, token: &str) -> String {
    let elections = GovernanceServiceClient::new(stack.channel("governance").await.unwrap())
        .list_elections(authorized(
            ListElectionsRequest {
                status: ElectionStatus::Certified as i32,
                ..ListElectionsRequest::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .elections;
    let mut names: Vec<String> = elections.into_iter().map(|e| e.name).collect();
    names.sort_by_key(|name| {
        name.trim_start_matches("elections/")
            .parse::<i64>()
            .unwrap_or(0)
    });
    let first = names.first().expect("the demo certifies elections").clone();
    let bundle = results_bundle(stack, token, &first).await.unwrap();
    let (_, key) = stack
        .log_keys
        .iter()
        .find(|(service, _)| *service == "governance")
        .unwrap();
    let key = aimaq_tlog::NoteVerifier::parse(key).unwrap();
    let recount = aimaq_verify::verify_bundle(&bundle, &key).unwrap();
    assert!(recount.stations_counted > 0, "{recount:?}");
    first
}

/// What a database administrator could change unseen before the log
/// committed to state: an allocation's amount, a decided grant, a polling
/// station's protocol. Each service names the resource.
pub async fn edited_rows_are_found(stack: &Stack, token: &str, data_dir: &Path) {
    use sea_orm::ConnectionTrait;
    let edits = [
        (
            "governance",
            "UPDATE protocols SET against_all = against_all + 7 \
             WHERE election_id = (SELECT MIN(election_id) FROM protocols) \
             AND station_number = (SELECT MIN(station_number) FROM protocols \
             WHERE election_id = (SELECT MIN(election_id) FROM protocols))",
            "elections/",
        ),
        (
            "budget",
            "UPDATE allocations SET amount_tiyn = amount_tiyn + 100000000 \
             WHERE territory_kato = (SELECT MIN(territory_kato) FROM allocations)",
            "allocations/",
        ),
        (
            "grants",
            "UPDATE applications SET allowance_tiyn = allowance_tiyn * 2 \
             WHERE id = (SELECT MIN(id) FROM applications WHERE allowance_tiyn > 0)",
            "applications/",
        ),
    ];
    for (service, edit, _) in edits {
        let file = data_dir.join(format!("{service}.sqlite"));
        let database = sea_orm::Database::connect(format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let edited = database.execute_unprepared(edit).await.unwrap();
        assert!(edited.rows_affected() >= 1, "{service}: {edit}");
        database.close().await.unwrap();
    }
    for ((service, verification), (_, _, resource)) in
        verifications(stack, token).await.into_iter().zip(edits)
    {
        assert!(!verification.intact, "{service}");
        assert!(
            verification.altered_resource.starts_with(resource),
            "{service}: {verification:?}"
        );
        assert!(
            verification.reason.contains("differ"),
            "{service}: {}",
            verification.reason
        );
    }
}
