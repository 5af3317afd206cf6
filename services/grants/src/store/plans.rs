//! Every read scoped to a KATO subtree is answered from an index, on SQLite
//! and on PostgreSQL: the store's own functions run on a recording
//! connection, and the planner is asked about exactly the SQL they sent.

#![allow(clippy::unwrap_used)]

use aimaq_storage::paging::Page;
use aimaq_testing::plan::{Recorder, SUBTREE_PREFIXES};
use aimaq_testing::{TestDatabase, on_both_backends};

use super::{Migrator, annual_report, application, granted_counts, statistics};

async fn subtree_reads_use_indexes(database: TestDatabase) {
    let recorder = Recorder::migrated::<Migrator>(&database).await;
    let db = recorder.db();
    let page = Page {
        size: 50,
        after: None,
    };
    for prefix in SUBTREE_PREFIXES {
        statistics::granted(db, (2009, 2026), Some(prefix), false)
            .await
            .unwrap();
        recorder.assert_indexed("grants statistics").await;
        annual_report::decided(db, 2024, Some(prefix))
            .await
            .unwrap();
        recorder.assert_indexed("annual report decisions").await;
        let filter = application::Filter {
            kato_prefix: Some(prefix.into()),
            ..application::Filter::default()
        };
        application::list(db, filter, &page).await.unwrap();
        recorder.assert_indexed("applications of a subtree").await;
    }
    // A village's or rural district's own range of the settlement index, not
    // every granted application of the years.
    for prefix in ["613633100", "613633"] {
        statistics::granted(db, (2009, 2026), Some(prefix), false)
            .await
            .unwrap();
        recorder
            .assert_uses(
                "grants statistics of a small subtree",
                "applications_by_settlement",
            )
            .await;
    }
    for (scope, by_region) in [
        (None, false),
        (None, true),
        (Some("61"), false),
        (Some("6136"), false),
    ] {
        granted_counts::kept(db, (2009, 2026), scope, by_region)
            .await
            .unwrap();
        recorder.assert_indexed("kept grant counts").await;
    }
    statistics::national(db, (2009, 2026)).await.unwrap();
    recorder.assert_indexed("the national total").await;
    for region in ["61", "6136"] {
        statistics::historical(db, (2009, 2026), Some(region))
            .await
            .unwrap();
        recorder
            .assert_indexed("published aggregates of a region")
            .await;
        annual_report::quotas_of(db, 2024, Some(region))
            .await
            .unwrap();
        recorder.assert_indexed("quotas of a region").await;
    }
}

on_both_backends!(subtree_reads_use_indexes);
