//! Migrations that fill what they add from data already there.

#![allow(clippy::unwrap_used)]

use aimaq_testing::{TestDatabase, on_both_backends};
use sea_orm::ConnectionTrait;
use sea_orm_migration::{MigrationName, MigratorTrait};

use super::Migrator;
use crate::domain::statistics::Totals;
use crate::store::{granted_counts, statistics};

async fn the_country_counts_are_its_regions_summed(database: TestDatabase) {
    let database = aimaq_storage::Database::connect(&database.url)
        .await
        .unwrap();
    let db = database.connection();
    let the_country = Migrator::migrations()
        .iter()
        .position(|migration| migration.name() == super::KeepNationalCounts.name())
        .unwrap();
    let before_the_country = u32::try_from(the_country).unwrap();
    Migrator::up(db, Some(before_the_country)).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO granted_counts
             (level, scope_kato, year, field, age_band,
              allowances, allowances_tiyn, loans, loans_tiyn)
         VALUES (1, '610000000', 2024, 'healthcare', '', 2, 200, 1, 50),
                (1, '630000000', 2024, 'healthcare', '', 3, 300, 0, 0),
                (1, '630000000', 2025, 'education', '', 1, 100, 1, 70),
                (2, '613600000', 2024, 'healthcare', '', 2, 200, 1, 50)",
    )
    .await
    .unwrap();
    Migrator::up(db, None).await.unwrap();
    let national = |years| statistics::national(db, years);
    let totals = |allowances, loans, loans_tiyn| Totals {
        allowances,
        allowances_tiyn: allowances * 100,
        loans,
        loans_tiyn,
    };
    assert_eq!(national((2009, 2026)).await.unwrap(), totals(6, 2, 120));
    assert_eq!(national((2024, 2024)).await.unwrap(), totals(5, 1, 50));
    assert_eq!(national((2010, 2011)).await.unwrap(), Totals::default());
    let country = granted_counts::kept(db, (2024, 2024), None, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(country.len(), 1);
    assert_eq!(country[0].totals, totals(5, 1, 50));
    assert_eq!(country[0].region_kato, "");
}

on_both_backends!(the_country_counts_are_its_regions_summed);
