//! Tables of the record keeping, one module per table.

pub mod idempotency_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub method: String,
        pub request_digest: String,
        pub response: Vec<u8>,
        pub actor: String,
        pub created_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence: i64,
        pub occurred_at_micros: i64,
        pub actor: String,
        pub agency: String,
        pub method: String,
        pub resource_type: String,
        pub resource_name: String,
        pub request_id: String,
        pub request_digest: String,
        pub prev_hash: String,
        pub hash: String,
        /// The subject of the caller's client certificate; empty without one.
        pub certificate: String,
        /// The change events the request emitted: their first sequence, how
        /// many, and the digest of their canonical encoding.
        pub first_change_sequence: i64,
        pub change_count: i32,
        pub events_digest: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod change_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "change_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence: i64,
        pub resource_type: String,
        pub resource_name: String,
        pub action: i32,
        pub resource_version: i64,
        pub method: String,
        pub request_id: String,
        pub actor: String,
        pub commit_time_micros: i64,
        pub state_digest: String,
        pub trace_parent: String,
        /// The encoded `google.protobuf.Any` of the resource after the change.
        pub resource: Option<Vec<u8>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A committed mutation's audit record and change events, waiting for the
/// sequencer to give them their sequences and hash.
pub mod pending_record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pending_records")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub occurred_at_micros: i64,
        pub actor: String,
        pub agency: String,
        pub method: String,
        pub resource_type: String,
        pub resource_name: String,
        pub request_id: String,
        pub request_digest: String,
        /// `PendingChanges`, encoded.
        pub changes: Vec<u8>,
        pub certificate: String,
        /// HMAC-SHA256 of the row under the log key's MAC key (hex): rows the
        /// service did not write carry none that verifies.
        pub mac: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The single row the sequencer locks: where the audit chain and the change
/// feed end.
pub mod record_head {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "record_heads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub audit_sequence: i64,
        pub audit_hash: String,
        pub change_sequence: i64,
        /// Leaves in the transparency log, and its latest signed checkpoint.
        pub tree_size: i64,
        pub checkpoint: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The stored nodes of the transparency log's Merkle tree: every complete
/// subtree, the leaves at level 0 (see `aimaq_tlog::layout`).
pub mod log_node {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "log_nodes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub level: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub position: i64,
        pub hash: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Pending rows the sequencer refused: their MAC did not verify.
pub mod refused_record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refused_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub occurred_at_micros: i64,
        pub actor: String,
        pub method: String,
        pub resource_name: String,
        pub request_id: String,
        pub reason: String,
        pub refused_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The latest checkpoint each witness cosigned, as the log serves it back:
/// the log's note with that witness's cosignature line.
pub mod log_cosignature {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "log_cosignatures")]
    pub struct Model {
        /// The witness's key name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub witness: String,
        pub tree_size: i64,
        pub note: String,
        pub added_at_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
