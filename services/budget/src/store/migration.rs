use aimaq_records::CreateRecordTables;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, string, string_len};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateRecordTables), Box::new(CreatePrograms)]
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
