use aimaq_records::CreateRecordTables;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, integer, string, string_len, string_len_null,
};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateRecordTables), Box::new(CreateTerritories)]
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
