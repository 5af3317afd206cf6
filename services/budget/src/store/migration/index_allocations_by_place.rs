//! Allocations by territory, then programme and year: a settlement summary
//! reads every allocation of a rural district's subtree, whatever its
//! programme, and the primary key begins with the programme.

use sea_orm_migration::prelude::*;

pub struct IndexAllocationsByPlace;

impl MigrationName for IndexAllocationsByPlace {
    fn name(&self) -> &str {
        "m0010_index_allocations_by_place"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for IndexAllocationsByPlace {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("allocations_by_place")
                    .table("allocations")
                    .col("territory_kato")
                    .col("program_code")
                    .col("fiscal_year")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("allocations_by_place")
                    .table("allocations")
                    .to_owned(),
            )
            .await
    }
}
