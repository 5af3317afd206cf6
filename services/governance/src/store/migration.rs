use aimaq_records::{
    CreatePendingRecords, CreateRecordTables, RecordCertificates, StateDigests, TransparencyLog,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, date, date_null, integer, pk_auto, string, string_len,
    string_len_null, text,
};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateRecordTables),
            Box::new(CreateTerritories),
            Box::new(CreateElections),
            Box::new(CreateLocalBudgets),
            Box::new(CreatePendingRecords),
            Box::new(RecordCertificates),
            Box::new(MarkRepeatElections),
            Box::new(DateTerritories),
            Box::new(TransparencyLog),
            Box::new(StateDigests),
            Box::new(KeepCertifiedResults),
            Box::new(aimaq_runtime::FeedRelays),
            Box::new(aimaq_records::TraceParents),
            Box::new(aimaq_records::ChangeResources),
            Box::new(aimaq_records::LogCosignatures),
        ]
    }
}

struct CreateTerritories;

impl MigrationName for CreateTerritories {
    fn name(&self) -> &str {
        "m0001_create_territories"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateTerritories {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("territories")
                    .col(string_len("kato", 9).primary_key())
                    .col(string_len_null("parent_kato", 9))
                    .col(integer("level"))
                    .col(string_len("kind", 40))
                    .col(string("name_kk"))
                    .col(string("name_ru"))
                    .col(string("name_en"))
                    .col(boolean("rural"))
                    .col(big_integer("population"))
                    .col(string("agglomeration"))
                    .col(boolean("single_industry_town"))
                    .col(boolean("support_village"))
                    .col(boolean("special_economic_zone"))
                    .col(big_integer("version"))
                    .col(big_integer("updated_at_micros"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("territories_parent")
                    .table("territories")
                    .col("parent_kato")
                    .col("kato")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("territories").to_owned())
            .await
    }
}

struct CreateElections;

impl MigrationName for CreateElections {
    fn name(&self) -> &str {
        "m0002_create_elections_and_akims"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateElections {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("elections")
                    .col(pk_auto("id").big_integer())
                    .col(string_len("territory_kato", 9))
                    .col(string_len("office", 20))
                    .col(date("call_date"))
                    .col(date("voting_date"))
                    .col(date("nomination_close_date"))
                    .col(string_len("winner_rule", 20))
                    .col(boolean("pilot"))
                    .col(big_integer_null("previous_election"))
                    .col(integer("round"))
                    .col(string_len("status", 20))
                    .col(boolean("archival"))
                    .col(text("outcome"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("elections_territory")
                    .table("elections")
                    .col("territory_kato")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("polling_stations")
                    .col(big_integer("election_id"))
                    .col(integer("number"))
                    .col(string("address"))
                    .col(big_integer("registered_voters"))
                    .col(boolean("closed"))
                    .col(string("close_reason"))
                    .col(big_integer("protocol_version"))
                    .primary_key(Index::create().col("election_id").col("number"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("polling_stations", "election_id")
                            .to("elections", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("candidates")
                    .col(pk_auto("id").big_integer())
                    .col(big_integer("election_id"))
                    .col(string_len("iin", 12))
                    .col(string("full_name"))
                    .col(date("birth_date"))
                    .col(string_len("nomination", 10))
                    .col(string("party"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("candidates", "election_id")
                            .to("elections", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("candidates_once_per_election")
                    .table("candidates")
                    .col("election_id")
                    .col("iin")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("protocols")
                    .col(big_integer("election_id"))
                    .col(integer("station_number"))
                    .col(big_integer("version"))
                    .col(big_integer("ballots_issued"))
                    .col(big_integer("against_all"))
                    .col(big_integer("spoiled"))
                    .col(text("votes"))
                    .col(text("correction_reason"))
                    .col(string("submitted_by"))
                    .col(big_integer("submitted_at_micros"))
                    .primary_key(
                        Index::create()
                            .col("election_id")
                            .col("station_number")
                            .col("version"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("protocols", ("election_id", "station_number"))
                            .to("polling_stations", ("election_id", "number")),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("akims")
                    .col(pk_auto("id").big_integer())
                    .col(string_len("territory_kato", 9))
                    .col(string_len("iin", 12))
                    .col(string("full_name"))
                    .col(string_len("mandate", 10))
                    .col(date("term_start"))
                    .col(date_null("term_end"))
                    .col(date_null("left_office"))
                    .col(big_integer_null("election_id"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("akims_post")
                    .table("akims")
                    .col("territory_kato")
                    .col("term_start")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "akims",
            "protocols",
            "candidates",
            "polling_stations",
            "elections",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct CreateLocalBudgets;

impl MigrationName for CreateLocalBudgets {
    fn name(&self) -> &str {
        "m0003_create_revenues_and_indicators"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateLocalBudgets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("revenues")
                    .col(pk_auto("id").big_integer())
                    .col(string_len("territory_kato", 9))
                    .col(integer("fiscal_year"))
                    .col(string_len("source", 30))
                    .col(big_integer("amount_tiyn"))
                    .col(text("note"))
                    .col(big_integer("recorded_at_micros"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("revenues_territory_year")
                    .table("revenues")
                    .col("territory_kato")
                    .col("fiscal_year")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("indicators")
                    .col(string_len("territory_kato", 9))
                    .col(string_len("kind", 40))
                    .col(string_len("figure", 10))
                    .col(integer("year"))
                    .col(big_integer("value_bp"))
                    .col(text("source"))
                    .col(big_integer("version"))
                    .primary_key(
                        Index::create()
                            .col("territory_kato")
                            .col("kind")
                            .col("figure")
                            .col("year"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["indicators", "revenues"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct MarkRepeatElections;

impl MigrationName for MarkRepeatElections {
    fn name(&self) -> &str {
        "m0004_mark_repeat_elections"
    }
}

/// A repeat election had the round number a runoff has; it gets its own mark.
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for MarkRepeatElections {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("elections")
                    .add_column(boolean("is_repeat").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("elections")
                    .drop_column("is_repeat")
                    .to_owned(),
            )
            .await
    }
}

struct DateTerritories;

impl MigrationName for DateTerritories {
    fn name(&self) -> &str {
        "m0005_territory_validity"
    }
}

/// When a territory existed under its code (Abai, Zhetisu and Ulytau regions
/// from June 2022, say); empty for what the classifier has always held.
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for DateTerritories {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["valid_from", "valid_to"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("territories")
                        .add_column(date_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["valid_from", "valid_to"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("territories")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

struct KeepCertifiedResults;

impl MigrationName for KeepCertifiedResults {
    fn name(&self) -> &str {
        "m0006_certified_results"
    }
}

/// What certification counted and concluded, kept as a resource of its own
/// so that the log commits to it (see `store/results.rs`).
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for KeepCertifiedResults {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("certified_results")
                    .col(big_integer("election_id").primary_key())
                    .col(string("rule"))
                    .col(text("counted"))
                    .col(text("votes"))
                    .col(big_integer("against_all"))
                    .col(big_integer("spoiled"))
                    .col(big_integer("ballots_issued"))
                    .col(string("outcome"))
                    .col(text("reason"))
                    .col(big_integer("certified_at_micros"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("certified_results").to_owned())
            .await
    }
}
