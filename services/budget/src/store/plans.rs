//! Every read scoped to a KATO subtree is answered from an index, on SQLite
//! and on PostgreSQL: the store's own functions run on a recording
//! connection, and the planner is asked about exactly the SQL they sent.

#![allow(clippy::unwrap_used)]

use aimaq_storage::paging::Page;
use aimaq_testing::plan::{Recorder, SUBTREE_PREFIXES};
use aimaq_testing::{TestDatabase, on_both_backends};

use super::report::{Grouping, Scope};
use super::{Migrator, allocation, project, report, standard, sufficiency};

async fn subtree_reads_use_indexes(database: TestDatabase) {
    let recorder = Recorder::migrated::<Migrator>(&database).await;
    let db = recorder.db();
    let page = Page {
        size: 50,
        after: None,
    };
    for prefix in SUBTREE_PREFIXES {
        standard::counts(db, Some(prefix)).await.unwrap();
        recorder.assert_indexed("sufficiency counts").await;
        let filter = project::Filter {
            kato_prefix: Some(prefix.into()),
            ..project::Filter::default()
        };
        project::list(db, filter, &page).await.unwrap();
        recorder
            .assert_uses("projects of a subtree", "projects_by_place")
            .await;
        let years = 2019..=2027;
        allocation::list(db, "P", years, Some(prefix.into()), &page)
            .await
            .unwrap();
        recorder.assert_indexed("allocations of a subtree").await;
    }
    // A settlement summary's reads: a settlement's or a rural district's.
    for prefix in ["613633100", "613633"] {
        allocation::of_place(db, prefix).await.unwrap();
        recorder
            .assert_uses("allocations of a place", "allocations_by_place")
            .await;
        project::tally_of_place(db, prefix).await.unwrap();
        recorder
            .assert_uses("projects of a place counted", "projects_by_place")
            .await;
    }
    for scope in ["", "610000000", "613600000"] {
        sufficiency::of_scope(db, scope).await.unwrap();
        recorder.assert_indexed("kept sufficiency counts").await;
    }
    for grouping in [Grouping::Region, Grouping::DistrictOf("610000000")] {
        let scope = Scope {
            program: "P",
            from_year: 2019,
            to_year: 2027,
            grouping,
        };
        report::allocations(db, scope).await.unwrap();
        recorder.assert_indexed("report allocations").await;
        report::status_counts(db, scope).await.unwrap();
        recorder.assert_indexed("report project counts").await;
        report::coverage(db, scope).await.unwrap();
        recorder.assert_indexed("report coverage").await;
        report::payments(db, scope).await.unwrap();
        recorder.assert_indexed("report payments").await;
    }
}

on_both_backends!(subtree_reads_use_indexes);
