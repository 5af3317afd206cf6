use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, blob, blob_null, integer, string, string_len, text,
};

/// Creates the record-keeping tables; every service lists it first in its migrator.
pub struct CreateRecordTables;

impl MigrationName for CreateRecordTables {
    fn name(&self) -> &str {
        "m0000_create_record_tables"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateRecordTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(string_len("request_id", 128).primary_key())
                    .col(string("method"))
                    .col(string_len("request_digest", 64))
                    .col(blob("response"))
                    .col(string("actor"))
                    .col(big_integer("created_at_micros"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(big_integer("sequence").primary_key())
                    .col(big_integer("occurred_at_micros"))
                    .col(string("actor"))
                    .col(string("agency"))
                    .col(string("method"))
                    .col(string("resource_type"))
                    .col(string("resource_name"))
                    .col(string_len("request_id", 128))
                    .col(string_len("request_digest", 64))
                    .col(string_len("prev_hash", 64))
                    .col(string_len("hash", 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("change_events")
                    .col(big_integer("sequence").primary_key())
                    .col(string("resource_type"))
                    .col(string("resource_name"))
                    .col(integer("action"))
                    .col(big_integer("resource_version"))
                    .col(string("method"))
                    .col(string_len("request_id", 128))
                    .col(string("actor"))
                    .col(big_integer("commit_time_micros"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("record_heads")
                    .col(integer("id").primary_key())
                    .col(big_integer("audit_sequence"))
                    .col(string_len("audit_hash", 64))
                    .col(big_integer("change_sequence"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("record_heads")
                    .columns(["id", "audit_sequence", "audit_hash", "change_sequence"])
                    .values_panic([1.into(), 0i64.into(), "".into(), 0i64.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "record_heads",
            "change_events",
            "audit_log",
            "idempotency_keys",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Creates the table where mutations leave their records for the sequencer; every
/// service lists it after its own migrations (it came later).
pub struct CreatePendingRecords;

impl MigrationName for CreatePendingRecords {
    fn name(&self) -> &str {
        "m0000_create_pending_records"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreatePendingRecords {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("pending_records")
                    .col(big_pk_auto("id"))
                    .col(big_integer("occurred_at_micros"))
                    .col(string("actor"))
                    .col(string("agency"))
                    .col(string("method"))
                    .col(string("resource_type"))
                    .col(string("resource_name"))
                    .col(string_len("request_id", 128))
                    .col(string_len("request_digest", 64))
                    .col(blob("changes"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("pending_records").to_owned())
            .await
    }
}

/// Adds the subject of the caller's client certificate to audit records (and to
/// the pending rows they come from); every service lists it after
/// [`CreatePendingRecords`]. Records written before hold an empty subject.
pub struct RecordCertificates;

impl MigrationName for RecordCertificates {
    fn name(&self) -> &str {
        "m0000_record_certificates"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for RecordCertificates {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_log", "pending_records"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(string("certificate").default(""))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_log", "pending_records"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column("certificate")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Makes the audit log a transparency log (see `log.rs`): the stored nodes of
/// its Merkle tree, the signed checkpoint with the head, what each record
/// commits to of the change feed, the MAC of pending rows, and the rows
/// refused for lack of one. Every service lists it last of these; the tree
/// of records written before is built by the sequencer's next pass.
pub struct TransparencyLog;

impl MigrationName for TransparencyLog {
    fn name(&self) -> &str {
        "m0000_transparency_log"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for TransparencyLog {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            big_integer("first_change_sequence")
                .default(0i64)
                .to_owned(),
            integer("change_count").default(0).to_owned(),
            string("events_digest").default("").to_owned(),
        ] {
            add_column(manager, "audit_log", column).await?;
        }
        add_column(
            manager,
            "pending_records",
            string("mac").default("").to_owned(),
        )
        .await?;
        for column in [
            big_integer("tree_size").default(0i64).to_owned(),
            text("checkpoint").default("").to_owned(),
        ] {
            add_column(manager, "record_heads", column).await?;
        }
        // The sequencer looks up request ids, to refuse a copied pending row.
        manager
            .create_index(
                Index::create()
                    .name("audit_log_by_request_id")
                    .table("audit_log")
                    .col("request_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("log_nodes")
                    .col(integer("level"))
                    .col(big_integer("position"))
                    .col(blob("hash"))
                    .primary_key(Index::create().col("level").col("position"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("refused_records")
                    .col(big_integer("id").primary_key())
                    .col(big_integer("occurred_at_micros"))
                    .col(string("actor"))
                    .col(string("method"))
                    .col(string("resource_name"))
                    .col(string_len("request_id", 128))
                    .col(string("reason"))
                    .col(big_integer("refused_at_micros"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("audit_log_by_request_id")
                    .table("audit_log")
                    .to_owned(),
            )
            .await?;
        for table in ["refused_records", "log_nodes"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for (table, columns) in [
            (
                "audit_log",
                &["first_change_sequence", "change_count", "events_digest"][..],
            ),
            ("pending_records", &["mac"][..]),
            ("record_heads", &["tree_size", "checkpoint"][..]),
        ] {
            for column in columns {
                manager
                    .alter_table(Table::alter().table(table).drop_column(*column).to_owned())
                    .await?;
            }
        }
        Ok(())
    }
}

/// One column at a time: SQLite alters a table one column per statement.
async fn add_column(
    manager: &SchemaManager<'_>,
    table: &'static str,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).to_owned())
        .await
}

/// Change events carry the digest of their resource's state after the change,
/// and a resource's last change is found by its name.
pub struct StateDigests;

impl MigrationName for StateDigests {
    fn name(&self) -> &str {
        "m0000_state_digests"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for StateDigests {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            "change_events",
            string("state_digest").default("").to_owned(),
        )
        .await?;
        // The last change of a resource, for the evidence of its state.
        manager
            .create_index(
                Index::create()
                    .name("change_events_by_resource")
                    .table("change_events")
                    .col("resource_name")
                    .col("sequence")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("change_events_by_resource")
                    .table("change_events")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("change_events")
                    .drop_column("state_digest")
                    .to_owned(),
            )
            .await
    }
}

/// Change events carry the trace of the request that made them.
pub struct TraceParents;

impl MigrationName for TraceParents {
    fn name(&self) -> &str {
        "m0000_trace_parents"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for TraceParents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            "change_events",
            string("trace_parent").default("").to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("change_events")
                    .drop_column("trace_parent")
                    .to_owned(),
            )
            .await
    }
}

/// Change events carry their resource as it stood after the change.
pub struct ChangeResources;

impl MigrationName for ChangeResources {
    fn name(&self) -> &str {
        "m0000_change_resources"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for ChangeResources {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The encoded `google.protobuf.Any`; NULL when the event carries none.
        add_column(manager, "change_events", blob_null("resource")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("change_events")
                    .drop_column("resource")
                    .to_owned(),
            )
            .await
    }
}

/// The witnesses' cosignatures the log serves back: the latest checkpoint
/// each witness cosigned.
pub struct LogCosignatures;

impl MigrationName for LogCosignatures {
    fn name(&self) -> &str {
        "m0000_log_cosignatures"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for LogCosignatures {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("log_cosignatures")
                    .col(string("witness").primary_key())
                    .col(big_integer("tree_size"))
                    .col(text("note"))
                    .col(big_integer("added_at_micros"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("log_cosignatures").to_owned())
            .await
    }
}
