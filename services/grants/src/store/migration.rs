use aimaq_records::CreateRecordTables;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, string, string_len};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateRecordTables), Box::new(CreateTerms)]
    }
}

struct CreateTerms;

impl MigrationName for CreateTerms {
    fn name(&self) -> &str {
        "m0001_create_mci_rates_and_policies"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateTerms {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("mci_rates")
                    // ISO dates sort as they compare.
                    .col(string_len("effective_from", 10).primary_key())
                    .col(big_integer("value_tiyn"))
                    .col(string("source"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("policies")
                    .col(string_len("effective_from", 10).primary_key())
                    .col(integer("allowance_mci"))
                    .col(integer("loan_cap_mci"))
                    .col(integer("loan_rate_bp"))
                    .col(integer("max_term_months"))
                    .col(integer("obligation_months"))
                    .col(string_len("eligible_fields", 200))
                    .col(string("source"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["policies", "mci_rates"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
