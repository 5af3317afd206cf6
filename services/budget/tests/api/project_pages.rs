//! A subtree's projects page by settlement and then in the order created:
//! every project once, whatever the page size.

use aimaq_proto::budget::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};

use super::projects::project;
use super::{PROGRAM, start};

async fn a_subtree_pages_by_settlement_then_creation(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.tree().await;
    // Created alternating between the two villages of the rural district.
    let mut created = Vec::new();
    for n in 0..7 {
        let village = ["613633200", "613633100"][n % 2];
        let made = harness
            .create_project(project(&format!("p-{n}"), village, 1, &[]))
            .await
            .unwrap();
        created.push((made.settlement_kato.clone(), made.name.clone()));
    }
    created.sort_by_key(|(village, _)| village.clone());
    let token = harness.tokens.admin();
    for page_size in [1, 2, 3, 50] {
        let mut listed = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = ListProjectsRequest {
                program_code: PROGRAM.into(),
                territory_kato: "613633000".into(),
                page_size,
                page_token,
                ..ListProjectsRequest::default()
            };
            let page = harness
                .client
                .list_projects(with_token(request, &token))
                .await
                .unwrap()
                .into_inner();
            listed.extend(
                page.projects
                    .into_iter()
                    .map(|p| (p.settlement_kato, p.name)),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(listed, created, "pages of {page_size}");
    }
}

on_both_backends!(a_subtree_pages_by_settlement_then_creation);
