use aimaq_records::CreateRecordTables;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, string, string_len, string_len_null};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateRecordTables),
            Box::new(CreatePrograms),
            Box::new(CreateAllocations),
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
