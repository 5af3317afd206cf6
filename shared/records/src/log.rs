//! The audit log as a transparency log: each record is a leaf of an RFC 9162
//! Merkle tree whose complete subtrees are stored (`log_nodes`), so that a
//! proof reads O(log n) nodes; the sequencer appends each batch's leaves and
//! signs a checkpoint of the new tree with a key the database does not hold.

use std::collections::HashMap;

use aimaq_error::Error;
use aimaq_proto::common::v1::{ConsistencyProof, InclusionProof, LogCheckpoint};
use aimaq_storage::chunks::in_powers_of_two;
use aimaq_tlog::hash::empty_root;
use aimaq_tlog::layout::{self, Node, Span};
use aimaq_tlog::{Checkpoint, Hash, Note, NoteVerifier};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Select,
    StatementBuilder,
};

use crate::entities::log_node;
use crate::keys::LogKeys;

/// Nodes of one multi-row insert at most (three columns each).
const NODES_PER_INSERT: usize = 2048;

/// The hashes of `nodes`, read in one statement; INTERNAL when one is missing
/// (the tree is stored incompletely: it was tampered with).
pub(crate) async fn read_nodes<C: ConnectionTrait>(
    connection: &C,
    nodes: &[Node],
) -> Result<HashMap<Node, Hash>, Error> {
    let mut found = HashMap::with_capacity(nodes.len());
    for chunk in nodes.chunks(256) {
        for row in nodes_query(connection.get_database_backend(), chunk)
            .all(connection)
            .await?
        {
            let hash: Hash = row.hash.as_slice().try_into().map_err(|_| {
                Error::internal(format!(
                    "log node {}/{} is not a hash",
                    row.level, row.position
                ))
            })?;
            let node = (
                u32::try_from(row.level).unwrap_or(u32::MAX),
                u64::try_from(row.position).unwrap_or(u64::MAX),
            );
            found.insert(node, hash);
        }
    }
    if let Some((level, position)) = nodes.iter().find(|node| !found.contains_key(node)) {
        return Err(Error::internal(format!(
            "the audit log's tree lacks node {level}/{position}"
        )));
    }
    Ok(found)
}

/// The query for `nodes`. On PostgreSQL one text parameter lists them, so
/// that every proof is the same prepared statement with a generic plan (a
/// disjunction of as many conditions as nodes is planned anew each time); on
/// SQLite the disjunction, which it answers from the primary key.
fn nodes_query(backend: DatabaseBackend, nodes: &[Node]) -> Select<log_node::Entity> {
    if backend == DatabaseBackend::Postgres {
        let listed: Vec<String> = nodes
            .iter()
            .map(|(level, position)| format!("{level}:{position}"))
            .collect();
        return log_node::Entity::find().filter(Expr::cust_with_values(
            "(level, position) IN (SELECT split_part(n, ':', 1)::int, split_part(n, ':', 2)::bigint \
             FROM unnest(string_to_array($1, ',')) AS n)",
            [listed.join(",")],
        ));
    }
    let mut any = Condition::any();
    for (level, position) in nodes {
        any = any.add(
            Condition::all()
                .add(log_node::Column::Level.eq(*level as i32))
                .add(log_node::Column::Position.eq(i64::try_from(*position).unwrap_or(i64::MAX))),
        );
    }
    log_node::Entity::find().filter(any)
}

/// The hashes of `spans`, from their stored nodes, and those of `more`
/// nodes: one statement.
async fn span_hashes<C: ConnectionTrait>(
    connection: &C,
    spans: &[Span],
    more: &[Node],
) -> Result<(Vec<Hash>, HashMap<Node, Hash>), Error> {
    let per_span: Vec<Vec<Node>> = spans.iter().map(|span| layout::span_nodes(*span)).collect();
    let all: Vec<Node> = per_span.iter().flatten().chain(more).copied().collect();
    let hashes = read_nodes(connection, &all).await?;
    let folded = per_span
        .iter()
        .map(|nodes| {
            let parts: Vec<Hash> = nodes.iter().map(|node| hashes[node]).collect();
            layout::fold_span(&parts).unwrap_or_else(empty_root)
        })
        .collect();
    Ok((folded, hashes))
}

/// The root of the stored tree of `size` leaves.
pub(crate) async fn root<C: ConnectionTrait>(connection: &C, size: u64) -> Result<Hash, Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    Ok(span_hashes(connection, &[(0, size)], &[]).await?.0[0])
}

/// The right edge of a tree: its largest complete subtrees, left to right,
/// onto which leaves are appended.
pub(crate) struct Frontier {
    size: u64,
    nodes: Vec<(Node, Hash)>,
    /// Nodes completed by the leaves appended, to be stored.
    pub completed: Vec<(Node, Hash)>,
}

impl Frontier {
    /// The frontier of the stored tree of `size` leaves.
    pub async fn read<C: ConnectionTrait>(connection: &C, size: u64) -> Result<Frontier, Error> {
        let nodes = layout::span_nodes((0, size));
        let hashes = read_nodes(connection, &nodes).await?;
        Ok(Frontier {
            size,
            nodes: nodes
                .into_iter()
                .map(|node| (node, hashes[&node]))
                .collect(),
            completed: Vec::new(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.nodes.iter().map(|(_, hash)| *hash).collect();
        layout::fold_span(&hashes).unwrap_or_else(empty_root)
    }

    /// Appends the leaf hash of the next record.
    pub fn append(&mut self, leaf: Hash) {
        let node = (0, self.size);
        self.nodes.push((node, leaf));
        self.completed.push((node, leaf));
        self.size += 1;
        while let [.., (left, left_hash), (right, right_hash)] = self.nodes[..] {
            if left.0 != right.0 {
                break;
            }
            let parent = (
                (left.0 + 1, right.1 >> 1),
                aimaq_tlog::node_hash(&left_hash, &right_hash),
            );
            self.nodes.truncate(self.nodes.len() - 2);
            self.nodes.push(parent);
            self.completed.push(parent);
        }
    }

    /// Stores the nodes the appended leaves completed.
    pub async fn store<C: ConnectionTrait>(&self, connection: &C) -> Result<(), Error> {
        let backend = connection.get_database_backend();
        for chunk in in_powers_of_two(&self.completed, NODES_PER_INSERT) {
            let mut insert = Query::insert();
            insert.into_table(log_node::Entity).columns([
                log_node::Column::Level,
                log_node::Column::Position,
                log_node::Column::Hash,
            ]);
            for ((level, position), hash) in chunk {
                insert.values_panic([
                    (*level as i32).into(),
                    i64::try_from(*position).unwrap_or(i64::MAX).into(),
                    hash.to_vec().into(),
                ]);
            }
            connection
                .execute_raw(StatementBuilder::build(&insert, &backend))
                .await?;
        }
        Ok(())
    }
}

/// A checkpoint of the tree of `size` leaves with `root`, signed.
pub(crate) fn sign(keys: &LogKeys, size: u64, root: Hash) -> Result<String, Error> {
    let checkpoint = Checkpoint {
        origin: keys.signer().name().to_owned(),
        size,
        root,
    };
    keys.signer()
        .sign(&checkpoint.text())
        .map_err(|error| Error::internal(format!("signing a checkpoint: {error}")))
}

/// The proto form of a signed checkpoint note.
pub(crate) fn to_proto(note: &str) -> Result<LogCheckpoint, Error> {
    let parsed = Note::parse(note)
        .and_then(|note| Checkpoint::parse(&note.text))
        .map_err(|error| Error::internal(format!("the stored checkpoint: {error}")))?;
    Ok(LogCheckpoint {
        note: note.to_owned(),
        origin: parsed.origin,
        tree_size: parsed.size,
        root_hash: parsed.root.to_vec(),
    })
}

/// Whether `note` is a checkpoint signed by `keys` (the current key).
pub(crate) fn signed_by(keys: &LogKeys, note: &str) -> Option<Checkpoint> {
    let verifier = NoteVerifier::parse(&keys.verifier_key()).ok()?;
    let note = Note::parse(note).ok()?;
    note.verified_by(&verifier).ok()?;
    Checkpoint::parse(&note.text).ok()
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub(crate) async fn inclusion_proof<C: ConnectionTrait>(
    connection: &C,
    index: u64,
    size: u64,
) -> Result<InclusionProof, Error> {
    let spans = layout::inclusion_spans(index, size);
    let (hashes, nodes) = span_hashes(connection, &spans, &[(0, index)]).await?;
    let leaf = nodes.get(&(0, index)).copied().unwrap_or_else(empty_root);
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        leaf_hash: leaf.to_vec(),
        hashes: hashes.iter().map(|hash| hash.to_vec()).collect(),
    })
}

/// The consistency proof from the tree of `from` leaves to that of `to`.
pub(crate) async fn consistency_proof<C: ConnectionTrait>(
    connection: &C,
    from: u64,
    to: u64,
) -> Result<ConsistencyProof, Error> {
    let hashes = if from == 0 || from == to {
        Vec::new()
    } else {
        span_hashes(connection, &layout::consistency_spans(from, to), &[])
            .await?
            .0
    };
    Ok(ConsistencyProof {
        from_size: from,
        to_size: to,
        hashes: hashes.iter().map(|hash| hash.to_vec()).collect(),
    })
}

/// The hashes of a proto proof, checked to be hashes.
pub(crate) fn hashes_of(list: &[Vec<u8>]) -> Option<Vec<Hash>> {
    list.iter()
        .map(|bytes| bytes.as_slice().try_into().ok())
        .collect()
}
