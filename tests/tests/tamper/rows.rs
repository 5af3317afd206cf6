//! Data rows changed past the service: edited, deleted, inserted. The log
//! commits to each resource's state after every change, so the service's own
//! check names the resource whose rows differ from it.

use aimaq_testing::{TestDatabase, TestTokens};

use crate::attacker::Attacker;
use crate::{governance, own_check, write};

const VILLAGE: &str = "613633301";

pub async fn edited_deleted_and_inserted_rows_are_found(database: TestDatabase) {
    let tokens = TestTokens::new();
    let server = governance(database, &tokens).await;
    write(&server, &tokens, 1).await;
    let before = own_check(&server, &tokens).await;
    assert!(before.intact, "{}", before.reason);
    assert!(before.resources_checked >= 14, "{before:?}");
    let attacker = Attacker::on(&server.database.url).await;

    // A population made larger, and put back: the state is exactly what was committed.
    let grown =
        format!("UPDATE territories SET population = population + 500 WHERE kato = '{VILLAGE}'");
    assert_eq!(attacker.sql(&grown).await, 1);
    let edited = own_check(&server, &tokens).await;
    assert!(!edited.intact);
    assert_eq!(edited.altered_resource, format!("territories/{VILLAGE}"));
    assert!(edited.reason.contains("rows differ"), "{}", edited.reason);
    let restored =
        format!("UPDATE territories SET population = population - 500 WHERE kato = '{VILLAGE}'");
    attacker.sql(&restored).await;
    assert!(own_check(&server, &tokens).await.intact);

    // A copy of the village under a new code: no change ever wrote it.
    let copied = format!(
        "INSERT INTO territories SELECT '613633399', parent_kato, level, kind, name_kk, \
         name_ru, name_en, rural, population, agglomeration, single_industry_town, \
         support_village, special_economic_zone, version, updated_at_micros, valid_from, \
         valid_to FROM territories WHERE kato = '{VILLAGE}'"
    );
    assert_eq!(attacker.sql(&copied).await, 1);
    let inserted = own_check(&server, &tokens).await;
    assert!(!inserted.intact);
    assert_eq!(inserted.altered_resource, "territories/613633399");
    assert!(
        inserted.reason.contains("no recorded change wrote it"),
        "{}",
        inserted.reason
    );
    attacker
        .sql("DELETE FROM territories WHERE kato = '613633399'")
        .await;

    // The village removed: no change deleted it.
    let removed = format!("DELETE FROM territories WHERE kato = '{VILLAGE}'");
    assert_eq!(attacker.sql(&removed).await, 1);
    let deleted = own_check(&server, &tokens).await;
    assert!(!deleted.intact);
    assert_eq!(deleted.altered_resource, format!("territories/{VILLAGE}"));
    assert!(deleted.reason.contains("gone"), "{}", deleted.reason);
}
