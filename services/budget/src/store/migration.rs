use aimaq_records::{
    CreatePendingRecords, CreateRecordTables, RecordCertificates, StateDigests, TransparencyLog,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, integer, pk_auto, string, string_len, string_len_null,
};

mod index_allocations_by_place;
mod index_projects_by_place;
use index_allocations_by_place::IndexAllocationsByPlace;
use index_projects_by_place::IndexProjectsByPlace;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateRecordTables),
            Box::new(CreatePrograms),
            Box::new(CreateAllocations),
            Box::new(CreateProjects),
            Box::new(CountProjectsOnAllocations),
            Box::new(CreatePendingRecords),
            Box::new(RecordCertificates),
            Box::new(CreateProgramTargets),
            Box::new(RecordPlansAndCodes),
            Box::new(IndexProjectsByAllocation),
            Box::new(KeepSufficiencyCounts),
            Box::new(IndexProjectsByPlace),
            Box::new(IndexAllocationsByPlace),
            Box::new(TransparencyLog),
            Box::new(StateDigests),
            Box::new(aimaq_runtime::FeedRelays),
            Box::new(aimaq_records::TraceParents),
            Box::new(aimaq_records::ChangeResources),
            Box::new(aimaq_records::LogCosignatures),
        ]
    }
}

struct CreatePrograms;

impl MigrationName for CreatePrograms {
    fn name(&self) -> &str {
        "m0001_create_programs_and_envelopes"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreatePrograms {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("programs")
                    .col(string_len("code", 64).primary_key())
                    .col(string("title_kk"))
                    .col(string("title_ru"))
                    .col(string("title_en"))
                    .col(string_len("kind", 40))
                    .col(string_len("funding_source", 20))
                    .col(integer("first_year"))
                    .col(integer("last_year"))
                    .col(big_integer("version"))
                    .col(big_integer("created_at_micros"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("envelopes")
                    .col(string_len("program_code", 64))
                    .col(integer("fiscal_year"))
                    .col(big_integer("amount_tiyn"))
                    .col(big_integer("allocated_tiyn"))
                    .col(big_integer("version"))
                    .primary_key(Index::create().col("program_code").col("fiscal_year"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("envelopes", "program_code")
                            .to("programs", "code"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["envelopes", "programs"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct CreateAllocations;

impl MigrationName for CreateAllocations {
    fn name(&self) -> &str {
        "m0002_create_allocations"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateAllocations {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("allocations")
                    .col(string_len("program_code", 64))
                    .col(integer("fiscal_year"))
                    .col(string_len("territory_kato", 9))
                    .col(string_len_null("parent_kato", 9))
                    .col(big_integer("amount_tiyn"))
                    .col(big_integer("committed_tiyn"))
                    .col(big_integer("disbursed_tiyn"))
                    .col(big_integer("version"))
                    .col(big_integer("updated_at_micros"))
                    .primary_key(
                        Index::create()
                            .col("program_code")
                            .col("fiscal_year")
                            .col("territory_kato"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("allocations", ("program_code", "fiscal_year"))
                            .to("envelopes", ("program_code", "fiscal_year")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("allocations").to_owned())
            .await
    }
}

struct CreateProjects;

impl MigrationName for CreateProjects {
    fn name(&self) -> &str {
        "m0003_create_projects_standard_statuses_and_coverage"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateProjects {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("projects")
                    .col(pk_auto("id").big_integer())
                    .col(string_len("program_code", 64))
                    .col(integer("fiscal_year"))
                    .col(string_len("allocation_kato", 9))
                    .col(string_len("settlement_kato", 9))
                    .col(string_len("region_kato", 9))
                    .col(string_len("district_kato", 9))
                    .col(string_len("category", 40))
                    .col(string_len("title", 300))
                    .col(string_len("borrower_id", 12))
                    .col(big_integer("cost_tiyn"))
                    .col(big_integer("disbursed_tiyn"))
                    .col(string_len("status", 20))
                    .col(string_len("standard_codes", 400))
                    .col(big_integer("version"))
                    .col(big_integer("created_at_micros"))
                    .col(big_integer("updated_at_micros"))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                "projects",
                                ("program_code", "fiscal_year", "allocation_kato"),
                            )
                            .to(
                                "allocations",
                                ("program_code", "fiscal_year", "territory_kato"),
                            ),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("projects_by_settlement")
                    .table("projects")
                    .col("settlement_kato")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("disbursements")
                    .col(pk_auto("id").big_integer())
                    .col(big_integer("project_id"))
                    .col(big_integer("amount_tiyn"))
                    .col(string_len("payment_date", 10))
                    .col(string_len("payment_reference", 100))
                    .col(big_integer("recorded_at_micros"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("disbursements", "project_id")
                            .to("projects", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("disbursements_by_project")
                    .table("disbursements")
                    .col("project_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("standard_statuses")
                    .col(string_len("settlement_kato", 9))
                    .col(string_len("standard_code", 40))
                    .col(boolean("applicable"))
                    .col(boolean("met"))
                    .col(big_integer_null("project_id"))
                    .col(big_integer("version"))
                    .col(big_integer("updated_at_micros"))
                    .primary_key(Index::create().col("settlement_kato").col("standard_code"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("settlement_coverage")
                    .col(string_len("program_code", 64))
                    .col(integer("fiscal_year"))
                    .col(string_len("settlement_kato", 9))
                    .col(big_integer("live_projects"))
                    .primary_key(
                        Index::create()
                            .col("program_code")
                            .col("fiscal_year")
                            .col("settlement_kato"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("district_coverage")
                    .col(string_len("program_code", 64))
                    .col(integer("fiscal_year"))
                    .col(string_len("district_kato", 9))
                    .col(string_len("region_kato", 9))
                    .col(big_integer("settlements"))
                    .primary_key(
                        Index::create()
                            .col("program_code")
                            .col("fiscal_year")
                            .col("district_kato"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "district_coverage",
            "settlement_coverage",
            "standard_statuses",
            "disbursements",
            "projects",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct CountProjectsOnAllocations;

/// The columns of each project status an allocation counts.
const PROJECT_COUNTS: [&str; 5] = [
    "projects_planned",
    "projects_approved",
    "projects_in_progress",
    "projects_completed",
    "projects_cancelled",
];

impl MigrationName for CountProjectsOnAllocations {
    fn name(&self) -> &str {
        "m0004_count_projects_on_allocations"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CountProjectsOnAllocations {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for column in PROJECT_COUNTS {
            manager
                .alter_table(
                    Table::alter()
                        .table("allocations")
                        .add_column(big_integer(column).default(0))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in PROJECT_COUNTS {
            manager
                .alter_table(
                    Table::alter()
                        .table("allocations")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

struct CreateProgramTargets;

impl MigrationName for CreateProgramTargets {
    fn name(&self) -> &str {
        "m0005_create_program_targets"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateProgramTargets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("program_targets")
                    .col(string_len("name", 160).primary_key())
                    .col(string_len("program_code", 64))
                    .col(string_len("metric", 20))
                    .col(integer("from_year"))
                    .col(integer("to_year"))
                    .col(big_integer("value"))
                    .col(string_len("source", 2000))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("program_targets").to_owned())
            .await
    }
}

struct RecordPlansAndCodes;

impl MigrationName for RecordPlansAndCodes {
    fn name(&self) -> &str {
        "m0006_record_approved_plans_and_budget_codes"
    }
}

/// The columns m0006 adds, by table.
const PLANS_AND_CODES: [(&str, &str); 3] = [
    ("allocations", "approved_tiyn"),
    ("programs", "budget_code"),
    ("programs", "budget_code_source"),
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for RecordPlansAndCodes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            big_integer("approved_tiyn").default(0).to_owned(),
            string_len("budget_code", 11).default("").to_owned(),
            string_len("budget_code_source", 2000)
                .default("")
                .to_owned(),
        ];
        for ((table, _), mut column) in PLANS_AND_CODES.into_iter().zip(columns) {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Allocations made before plans were kept: their amount is the best
        // record of what was approved.
        manager
            .get_connection()
            .execute_unprepared("UPDATE allocations SET approved_tiyn = amount_tiyn")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in PLANS_AND_CODES {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct IndexProjectsByAllocation;

impl MigrationName for IndexProjectsByAllocation {
    fn name(&self) -> &str {
        "m0007_index_projects_by_allocation"
    }
}

/// The report's payments by quarter read a programme's projects of some years
/// under a region: this index answers them without a scan.
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for IndexProjectsByAllocation {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("projects_by_allocation")
                    .table("projects")
                    .col("program_code")
                    .col("fiscal_year")
                    .col("allocation_kato")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("projects_by_allocation")
                    .table("projects")
                    .to_owned(),
            )
            .await
    }
}

struct KeepSufficiencyCounts;

impl MigrationName for KeepSufficiencyCounts {
    fn name(&self) -> &str {
        "m0008_keep_sufficiency_counts"
    }
}

/// The counts of the statuses there are, for the republic (empty scope), each
/// region and each district.
const COUNT_STATUSES: &str = "
    INSERT INTO sufficiency_counts (scope_kato, standard_code, applicable, met)
    SELECT scope_kato, standard_code,
           CAST(SUM(CASE WHEN applicable THEN 1 ELSE 0 END) AS BIGINT),
           CAST(SUM(CASE WHEN applicable AND met THEN 1 ELSE 0 END) AS BIGINT)
    FROM (SELECT '' AS scope_kato, standard_code, applicable, met FROM standard_statuses
          UNION ALL
          SELECT SUBSTR(settlement_kato, 1, 2) || '0000000', standard_code, applicable, met
          FROM standard_statuses
          UNION ALL
          SELECT SUBSTR(settlement_kato, 1, 4) || '00000', standard_code, applicable, met
          FROM standard_statuses) AS scoped
    GROUP BY scope_kato, standard_code";

const COUNT_SETTLEMENTS: &str = "
    INSERT INTO sufficiency_settlements (scope_kato, settlements)
    SELECT scope_kato, COUNT(DISTINCT settlement_kato)
    FROM (SELECT '' AS scope_kato, settlement_kato FROM standard_statuses
          UNION ALL
          SELECT SUBSTR(settlement_kato, 1, 2) || '0000000', settlement_kato FROM standard_statuses
          UNION ALL
          SELECT SUBSTR(settlement_kato, 1, 4) || '00000', settlement_kato FROM standard_statuses)
          AS scoped
    GROUP BY scope_kato";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for KeepSufficiencyCounts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("sufficiency_counts")
                    .col(string_len("scope_kato", 9))
                    .col(string_len("standard_code", 40))
                    .col(big_integer("applicable"))
                    .col(big_integer("met"))
                    .primary_key(Index::create().col("scope_kato").col("standard_code"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sufficiency_settlements")
                    .col(string_len("scope_kato", 9).primary_key())
                    .col(big_integer("settlements"))
                    .to_owned(),
            )
            .await?;
        // The statuses recorded before the counts were kept.
        let db = manager.get_connection();
        db.execute_unprepared(COUNT_STATUSES).await?;
        db.execute_unprepared(COUNT_SETTLEMENTS).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["sufficiency_settlements", "sufficiency_counts"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
