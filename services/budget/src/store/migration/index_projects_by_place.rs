//! Projects by settlement and then by id: a subtree's projects are listed in
//! that order, so a page of a district's or a region's is read off the index
//! rather than sorted from all of them.

use sea_orm_migration::prelude::*;

pub struct IndexProjectsByPlace;

impl MigrationName for IndexProjectsByPlace {
    fn name(&self) -> &str {
        "m0009_index_projects_by_place"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for IndexProjectsByPlace {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("projects_by_place")
                    .table("projects")
                    .col("settlement_kato")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        // The new index begins with the old one's column: it serves whatever
        // the old one did.
        manager
            .drop_index(
                Index::drop()
                    .name("projects_by_settlement")
                    .table("projects")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
            .drop_index(
                Index::drop()
                    .name("projects_by_place")
                    .table("projects")
                    .to_owned(),
            )
            .await
    }
}
