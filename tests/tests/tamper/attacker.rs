//! A database administrator who knows how Aimaq keeps its records (the
//! documented chain hash and leaf encoding) and writes to its tables
//! directly, on SQLite or PostgreSQL.

use aimaq_tlog::hash::root_of;
use aimaq_tlog::{AuditLeaf, Hash};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, StatementBuilder};
use sha2::{Digest, Sha256};

pub struct Attacker {
    pub db: DatabaseConnection,
}

/// An audit row as the attacker reads it.
#[derive(Clone)]
pub struct Row {
    pub sequence: i64,
    pub occurred_at_micros: i64,
    pub texts: [String; 8],
    pub certificate: String,
    pub first_change_sequence: i64,
    pub change_count: i32,
    pub events_digest: String,
}

const TEXTS: [&str; 8] = [
    "actor",
    "agency",
    "method",
    "resource_type",
    "resource_name",
    "request_id",
    "request_digest",
    "certificate",
];

impl Row {
    fn of(row: &QueryResult) -> Row {
        let text = |name: &str| row.try_get::<String>("", name).unwrap();
        Row {
            sequence: row.try_get("", "sequence").unwrap(),
            occurred_at_micros: row.try_get("", "occurred_at_micros").unwrap(),
            texts: TEXTS.map(text),
            certificate: text("certificate"),
            first_change_sequence: row.try_get("", "first_change_sequence").unwrap(),
            change_count: row.try_get("", "change_count").unwrap(),
            events_digest: text("events_digest"),
        }
    }

    /// The chain hash, as `aimaq-records` documents it.
    fn chain_hash(&self, previous: &str) -> String {
        let mut hasher = Sha256::new();
        let sequence = self.sequence.to_string();
        let occurred = self.occurred_at_micros.to_string();
        let mut parts = vec![previous, &sequence, &occurred];
        parts.extend(self.texts[..7].iter().map(String::as_str));
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        if !self.certificate.is_empty() {
            hasher.update(b"certificate");
            hasher.update((self.certificate.len() as u64).to_be_bytes());
            hasher.update(self.certificate.as_bytes());
        }
        hex::encode(hasher.finalize())
    }

    /// The leaf hash, as `aimaq-tlog` documents it.
    fn leaf(&self) -> Hash {
        AuditLeaf {
            sequence: self.sequence as u64,
            occurred_at_micros: self.occurred_at_micros,
            actor: &self.texts[0],
            agency: &self.texts[1],
            method: &self.texts[2],
            resource_type: &self.texts[3],
            resource_name: &self.texts[4],
            request_id: &self.texts[5],
            request_digest: &self.texts[6],
            certificate: &self.certificate,
            first_change_sequence: self.first_change_sequence as u64,
            change_count: self.change_count as u32,
            events_digest: &self.events_digest,
        }
        .hash()
    }
}

impl Attacker {
    pub async fn on(url: &str) -> Attacker {
        Attacker {
            db: sea_orm::Database::connect(url).await.unwrap(),
        }
    }

    async fn run(&self, statement: Statement) {
        self.db.execute_raw(statement).await.unwrap();
    }

    fn build<S: StatementBuilder>(&self, query: &S) -> Statement {
        StatementBuilder::build(query, &self.db.get_database_backend())
    }

    pub async fn rows(&self) -> Vec<Row> {
        let select = Query::select()
            .expr(Expr::cust("*"))
            .from(Alias::new("audit_log"))
            .order_by(Alias::new("sequence"), sea_orm::sea_query::Order::Asc)
            .to_owned();
        let rows = self.db.query_all_raw(self.build(&select)).await.unwrap();
        rows.iter().map(Row::of).collect()
    }

    /// The head row's checkpoint note.
    pub async fn checkpoint(&self) -> String {
        let select = Query::select()
            .column(Alias::new("checkpoint"))
            .from(Alias::new("record_heads"))
            .to_owned();
        let row = self
            .db
            .query_one_raw(self.build(&select))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "checkpoint").unwrap()
    }

    pub async fn set_checkpoint(&self, note: &str) {
        let update = Query::update()
            .table(Alias::new("record_heads"))
            .value(Alias::new("checkpoint"), note)
            .to_owned();
        self.run(self.build(&update)).await;
    }

    /// Changes one column of record `sequence`, then makes the chain and its
    /// head agree again: what the plain chain could not detect.
    pub async fn rewrite_record(&self, sequence: i64, column: &str, value: &str) {
        let update = Query::update()
            .table(Alias::new("audit_log"))
            .value(Alias::new(column), value)
            .and_where(Expr::col(Alias::new("sequence")).eq(sequence))
            .to_owned();
        self.run(self.build(&update)).await;
        self.rechain().await;
    }

    /// Recomputes every chain hash and the head from the rows as they are.
    pub async fn rechain(&self) {
        let mut previous = String::new();
        let rows = self.rows().await;
        for row in &rows {
            let hash = row.chain_hash(&previous);
            let update = Query::update()
                .table(Alias::new("audit_log"))
                .values([
                    (Alias::new("prev_hash"), previous.clone().into()),
                    (Alias::new("hash"), hash.clone().into()),
                ])
                .and_where(Expr::col(Alias::new("sequence")).eq(row.sequence))
                .to_owned();
            self.run(self.build(&update)).await;
            previous = hash;
        }
        let head = Query::update()
            .table(Alias::new("record_heads"))
            .values([
                (Alias::new("audit_sequence"), (rows.len() as i64).into()),
                (Alias::new("audit_hash"), previous.into()),
                (Alias::new("tree_size"), (rows.len() as i64).into()),
            ])
            .to_owned();
        self.run(self.build(&head)).await;
    }

    /// Rebuilds the whole Merkle tree from the rows as they are: a rewrite
    /// the service's own checks cannot tell from the truth.
    pub async fn rebuild_tree(&self) {
        let delete = Query::delete()
            .from_table(Alias::new("log_nodes"))
            .to_owned();
        self.run(self.build(&delete)).await;
        let leaves: Vec<Hash> = self.rows().await.iter().map(Row::leaf).collect();
        let n = leaves.len();
        let mut level = 0i32;
        while (1usize << level) <= n {
            let width = 1usize << level;
            for position in 0..n / width {
                let hash = root_of(&leaves[position * width..(position + 1) * width]);
                let insert = Query::insert()
                    .into_table(Alias::new("log_nodes"))
                    .columns([
                        Alias::new("level"),
                        Alias::new("position"),
                        Alias::new("hash"),
                    ])
                    .values_panic([level.into(), (position as i64).into(), hash.to_vec().into()])
                    .to_owned();
                self.run(self.build(&insert)).await;
            }
            level += 1;
        }
    }

    /// Deletes the records after `keep` (and their change events), then makes
    /// chain, head and tree agree with what is left.
    pub async fn truncate(&self, keep: i64) {
        for table in ["audit_log", "change_events"] {
            let delete = Query::delete()
                .from_table(Alias::new(table))
                .and_where(Expr::col(Alias::new("sequence")).gt(keep))
                .to_owned();
            self.run(self.build(&delete)).await;
        }
        self.rechain().await;
        self.rebuild_tree().await;
    }

    /// Writes a pending record as if a request had been made: every column
    /// but a MAC it cannot compute.
    pub async fn forge_pending(&self, request_id: &str, mac: &str) {
        let insert = Query::insert()
            .into_table(Alias::new("pending_records"))
            .columns(
                [
                    "occurred_at_micros",
                    "actor",
                    "agency",
                    "method",
                    "resource_type",
                    "resource_name",
                    "request_id",
                    "request_digest",
                    "changes",
                    "certificate",
                    "mac",
                ]
                .map(Alias::new),
            )
            .values_panic([
                1_700_000_000_000_000i64.into(),
                "akimat-61".into(),
                "Turkestan region akimat".into(),
                "/aimaq.governance.v1.GovernanceService/UpsertTerritory".into(),
                "territory".into(),
                "territories/619999999".into(),
                request_id.into(),
                "ab".repeat(32).into(),
                Vec::<u8>::new().into(),
                "".into(),
                mac.into(),
            ])
            .to_owned();
        self.run(self.build(&insert)).await;
    }

    /// Renames the resource of change event `sequence`.
    pub async fn edit_event(&self, sequence: i64, resource_name: &str) {
        let update = Query::update()
            .table(Alias::new("change_events"))
            .value(Alias::new("resource_name"), resource_name)
            .and_where(Expr::col(Alias::new("sequence")).eq(sequence))
            .to_owned();
        self.run(self.build(&update)).await;
    }

    /// Runs SQL the same on both backends, as an administrator at a console would.
    pub async fn sql(&self, text: &str) -> u64 {
        self.db
            .execute_unprepared(text)
            .await
            .unwrap()
            .rows_affected()
    }
}
