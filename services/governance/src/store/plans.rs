//! Every read scoped to a KATO subtree is answered from an index, on SQLite
//! and on PostgreSQL: the store's own functions run on a recording
//! connection, and the planner is asked about exactly the SQL they sent.

#![allow(clippy::unwrap_used)]

use aimaq_storage::paging::Page;
use aimaq_testing::plan::{Recorder, SUBTREE_PREFIXES};
use aimaq_testing::{TestDatabase, on_both_backends};
use aimaq_types::Kato;

use super::territory::TerritoryFilter;
use super::{Migrator, election, local_budget, territory};

async fn subtree_reads_use_indexes(database: TestDatabase) {
    let recorder = Recorder::migrated::<Migrator>(&database).await;
    let db = recorder.db();
    let page = Page {
        size: 50,
        after: None,
    };
    for prefix in SUBTREE_PREFIXES {
        local_budget::revenue_by_year_and_source(db, prefix, 2019, 2025)
            .await
            .unwrap();
        recorder.assert_indexed("revenue by year and source").await;
        local_budget::revenue_territory_page(db, prefix, (2019, 2025), &page)
            .await
            .unwrap();
        recorder
            .assert_indexed("rural districts with revenue")
            .await;
        local_budget::revenue_territories(db, prefix, 2019, 2025)
            .await
            .unwrap();
        recorder.assert_indexed("territories with revenue").await;
        election::list(db, Some(prefix.into()), None, None, false, &page)
            .await
            .unwrap();
        recorder.assert_indexed("elections of a subtree").await;
    }
    election::latest_of(db, "613633100").await.unwrap();
    recorder
        .assert_uses("the latest election of a territory", "elections_territory")
        .await;
    for parent in ["610000000", "613600000", "613633000"] {
        let filter = TerritoryFilter {
            parent: Some(Kato::parse(parent).unwrap()),
            subtree: true,
            ..TerritoryFilter::default()
        };
        territory::list(db, &filter, &page).await.unwrap();
        recorder.assert_indexed("territories of a subtree").await;
    }
}

on_both_backends!(subtree_reads_use_indexes);
