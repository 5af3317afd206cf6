//! The stored state of a service's resources, as its change events commit to it.
//!
//! Every change event of a resource type a service describes here carries the
//! digest of that resource's rows right after the change, read back in the
//! mutation's own transaction; the audit record's leaf commits to its events,
//! so the log commits to the state each request left. `VerifyAuditLog` reads
//! every resource's rows again and compares them with the digest of its last
//! change (see `statecheck.rs`): a row edited, inserted or deleted past the
//! service is found and named.
//!
//! A row is encoded as its table's name, then each column's name and value
//! (as an SQL literal), each length-prefixed; the state digest is the hex
//! SHA-256 of the resource type and of its rows' hashes in sorted order, so
//! a resource whose rows are gone has the digest of no rows (the hashes are
//! defined in `aimaq_tlog::state`, which the verifier shares).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aimaq_error::Error;
use aimaq_proto::common::v1::{StateColumn, StateRow};
use aimaq_tlog::state::state_digest;
use futures::TryStreamExt;
use sea_orm::sea_query::{QueryBuilder, SqliteQueryBuilder};
use sea_orm::{
    Condition, DatabaseTransaction, EntityTrait, IdenStatic, Iterable, ModelTrait,
    PrimaryKeyToColumn, QueryFilter, QueryOrder,
};

use crate::mutation::Change;
use crate::resources::{Held, ResourceMessages};

/// Names of the resources asked for at once, so that the condition stays well
/// under SQLite's expression depth.
const NAMES_PER_QUERY: usize = 100;

/// The rows of one table that make up resources of one type.
pub struct StateTable<E: EntityTrait> {
    pub resource_type: &'static str,
    /// The resource a row belongs to.
    pub name_of: fn(&E::Model) -> String,
    /// The condition selecting the rows of the resource named; None when the
    /// name is not one of this type's.
    pub rows_of: fn(&str) -> Option<Condition>,
    /// Columns that changes of other resources move (a count kept on a
    /// parent, a pointer to the latest child): left out of the state.
    pub skip: &'static [&'static str],
}

type Pinned<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;
type Rows<'a> = Pinned<'a, Vec<StateOfRow>>;

/// A row's resource name and hash, with the resource's message when the row
/// makes one.
type StateOfRow = (String, [u8; 32], Option<prost_types::Any>);

/// A held row's hash, with the resource's message when the row makes one.
type HeldRow = ([u8; 32], Option<prost_types::Any>);

/// A table's rows as row hashes with the name of their resource.
trait StateSource: Send + Sync {
    fn resource_type(&self) -> &'static str;

    /// The rows of the resources named, or of every resource when `None`;
    /// with `messages`, each with the message it makes.
    fn rows<'a>(
        &'a self,
        transaction: &'a DatabaseTransaction,
        names: Option<&'a [String]>,
        messages: Option<&'a ResourceMessages>,
    ) -> Rows<'a>;

    /// The row an operation held out with its change of `name`, when it is
    /// a row of this table: its hash, with the message it makes.
    fn held_row(
        &self,
        held: &Held,
        name: &str,
        messages: &ResourceMessages,
    ) -> Option<Result<HeldRow, Error>>;

    /// The rows of the resource named, as the digest encodes them.
    fn literal_rows<'a>(
        &'a self,
        transaction: &'a DatabaseTransaction,
        name: &'a str,
    ) -> Pinned<'a, Vec<StateRow>>;
}

impl<E> StateSource for StateTable<E>
where
    E: EntityTrait + Sync,
    E::Model: Sync + 'static,
{
    fn resource_type(&self) -> &'static str {
        self.resource_type
    }

    fn rows<'a>(
        &'a self,
        transaction: &'a DatabaseTransaction,
        names: Option<&'a [String]>,
        messages: Option<&'a ResourceMessages>,
    ) -> Rows<'a> {
        Box::pin(async move {
            let mut select = E::find();
            let hashed = |model: &E::Model| -> Result<StateOfRow, Error> {
                let message = messages
                    .and_then(|messages| messages.encode(self.resource_type, model))
                    .transpose()?;
                let name = (self.name_of)(model);
                Ok((name, row_hash(&self.row(model)), message))
            };
            if let Some(names) = names {
                let mut any = Condition::any();
                for name in names {
                    let rows = (self.rows_of)(name).ok_or_else(|| {
                        Error::internal(format!("{name} is not a {} name", self.resource_type))
                    })?;
                    any = any.add(rows);
                }
                // A few rows, inside a write: one plain query.
                let models = E::find().filter(any).all(transaction).await?;
                return models.iter().map(hashed).collect();
            }
            // Every row of the table: one at a time, not all in memory.
            for key in E::PrimaryKey::iter() {
                select = select.order_by_asc(key.into_column());
            }
            let mut stream = select.stream(transaction).await?;
            let mut rows = Vec::new();
            while let Some(model) = stream.try_next().await? {
                rows.push(hashed(&model)?);
            }
            Ok(rows)
        })
    }

    fn held_row(
        &self,
        held: &Held,
        name: &str,
        messages: &ResourceMessages,
    ) -> Option<Result<HeldRow, Error>> {
        let model = held.row().downcast_ref::<E::Model>()?;
        Some((|| {
            if (self.name_of)(model) != name {
                return Err(Error::internal(format!(
                    "a change of {name} held the row of {}",
                    (self.name_of)(model)
                )));
            }
            let message = messages
                .encode_held(self.resource_type, held)
                .or_else(|| messages.encode(self.resource_type, model))
                .transpose()?;
            Ok((row_hash(&self.row(model)), message))
        })())
    }

    fn literal_rows<'a>(
        &'a self,
        transaction: &'a DatabaseTransaction,
        name: &'a str,
    ) -> Pinned<'a, Vec<StateRow>> {
        Box::pin(async move {
            let rows = (self.rows_of)(name).ok_or_else(|| {
                Error::internal(format!("{name} is not a {} name", self.resource_type))
            })?;
            let mut select = E::find().filter(rows);
            for key in E::PrimaryKey::iter() {
                select = select.order_by_asc(key.into_column());
            }
            let models = select.all(transaction).await?;
            Ok(models.iter().map(|model| self.row(model)).collect())
        })
    }
}

impl<E: EntityTrait> StateTable<E> {
    fn row(&self, model: &E::Model) -> StateRow {
        let columns = E::Column::iter()
            .filter(|column| !self.skip.contains(&column.as_str()))
            .map(|column| StateColumn {
                name: column.as_str().to_owned(),
                value: SqliteQueryBuilder.value_to_string(&model.get(column)),
            })
            .collect();
        StateRow {
            table: E::default().table_name().to_owned(),
            columns,
        }
    }
}

/// The hash of a row as a state digest encodes it.
pub(crate) fn row_hash(row: &StateRow) -> [u8; 32] {
    let columns = row.columns.iter();
    aimaq_tlog::state::row_hash(
        &row.table,
        columns.map(|c| (c.name.as_str(), c.value.as_str())),
    )
}

/// The resource types a service describes, each by the tables of its rows.
#[derive(Clone, Default)]
pub struct ResourceStates {
    sources: Vec<Arc<dyn StateSource>>,
}

/// A resource's state right after a change.
#[derive(Debug, Clone, Default)]
pub(crate) struct StateAfter {
    /// Its state digest; empty for a type whose state is not described.
    pub digest: String,
    /// Its message, when the service makes one for its type.
    pub resource: Option<prost_types::Any>,
}

/// The rows of the resources a mutation changed, as held or read back: their
/// hashes, and the message each resource's row made.
#[derive(Default)]
struct ReadBack {
    rows: HashMap<ResourceKey, Vec<[u8; 32]>>,
    made: HashMap<ResourceKey, prost_types::Any>,
}

impl ReadBack {
    fn add(&mut self, key: ResourceKey, hash: [u8; 32], message: Option<prost_types::Any>) {
        if let Some(message) = message {
            self.made.insert(key.clone(), message);
        }
        self.rows.entry(key).or_default().push(hash);
    }
}

/// A resource: its type and name.
pub(crate) type ResourceKey = (String, String);

fn key_of(change: &Change) -> ResourceKey {
    (
        change.resource_type.to_owned(),
        change.resource_name.clone(),
    )
}

impl ResourceStates {
    /// Adds a table to the resources of its type.
    pub fn with<E>(mut self, table: StateTable<E>) -> ResourceStates
    where
        E: EntityTrait + Sync,
        E::Model: Sync + 'static,
    {
        self.sources.push(Arc::new(table));
        self
    }

    /// Whether changes of this type carry a state digest.
    pub(crate) fn covers(&self, resource_type: &str) -> bool {
        self.sources
            .iter()
            .any(|source| source.resource_type() == resource_type)
    }

    /// The state of each change's resource as the transaction now holds it:
    /// its digest (empty for types not described) and its message (see
    /// `resources.rs`).
    pub(crate) async fn after(
        &self,
        transaction: &DatabaseTransaction,
        changes: &[Change],
        messages: &ResourceMessages,
    ) -> Result<Vec<StateAfter>, Error> {
        // A resource of one table whose row the operation held out (the row
        // it just wrote, as the database returned it) costs no query.
        let mut held_rows: HashMap<ResourceKey, HeldRow> = HashMap::new();
        let mut names: HashMap<&'static str, Vec<String>> = HashMap::new();
        for change in changes.iter().filter(|c| self.covers(c.resource_type)) {
            match self.held_row(change, messages)? {
                Some(row) => {
                    held_rows.insert(key_of(change), row);
                }
                None => names
                    .entry(change.resource_type)
                    .or_default()
                    .push(change.resource_name.clone()),
            }
        }
        // A resource also changed without its row is read back whole.
        held_rows.retain(|(resource_type, name), _| {
            names
                .get(resource_type.as_str())
                .is_none_or(|wanted| !wanted.contains(name))
        });
        let mut read = ReadBack::default();
        for (key, (hash, message)) in &held_rows {
            read.add(key.clone(), *hash, message.clone());
        }
        for (resource_type, mut wanted) in names {
            wanted.sort_unstable();
            wanted.dedup();
            for chunk in wanted.chunks(NAMES_PER_QUERY) {
                for source in self.of_type(Some(resource_type)) {
                    let found = source.rows(transaction, Some(chunk), Some(messages));
                    for (name, hash, message) in found.await? {
                        read.add((resource_type.to_owned(), name), hash, message);
                    }
                }
            }
        }
        let ReadBack { rows, made } = read;
        changes
            .iter()
            .map(|change| {
                let key = key_of(change);
                let held = change
                    .resource
                    .as_ref()
                    .filter(|_| !held_rows.contains_key(&key))
                    .and_then(|held| messages.encode_held(change.resource_type, held));
                Ok(StateAfter {
                    digest: if self.covers(change.resource_type) {
                        state_digest(
                            change.resource_type,
                            rows.get(&key).cloned().unwrap_or_default(),
                        )
                    } else {
                        String::new()
                    },
                    resource: match held {
                        Some(message) => Some(message?),
                        None => made.get(&key).cloned(),
                    },
                })
            })
            .collect()
    }

    /// The state digest of every resource that has rows.
    pub(crate) async fn current(
        &self,
        transaction: &DatabaseTransaction,
    ) -> Result<HashMap<ResourceKey, String>, Error> {
        let mut rows: HashMap<ResourceKey, Vec<[u8; 32]>> = HashMap::new();
        for source in self.of_type(None) {
            for (name, hash, _) in source.rows(transaction, None, None).await? {
                rows.entry((source.resource_type().to_owned(), name))
                    .or_default()
                    .push(hash);
            }
        }
        Ok(rows
            .into_iter()
            .map(|((resource_type, name), hashes)| {
                let digest = state_digest(&resource_type, hashes);
                ((resource_type, name), digest)
            })
            .collect())
    }

    /// The rows of one resource as the digest encodes them, with their
    /// state digest.
    pub(crate) async fn literal_rows(
        &self,
        transaction: &DatabaseTransaction,
        resource_type: &str,
        name: &str,
    ) -> Result<(Vec<StateRow>, String), Error> {
        let mut rows = Vec::new();
        for source in self.sources.iter() {
            if source.resource_type() == resource_type {
                rows.extend(source.literal_rows(transaction, name).await?);
            }
        }
        let digest = state_digest(resource_type, rows.iter().map(row_hash).collect());
        Ok((rows, digest))
    }

    /// The digest of a resource without rows (deleted, or never written).
    pub(crate) fn absent(resource_type: &str) -> String {
        state_digest(resource_type, Vec::new())
    }

    /// The row `change` holds, when its type has one table and the row is
    /// of it.
    fn held_row(
        &self,
        change: &Change,
        messages: &ResourceMessages,
    ) -> Result<Option<HeldRow>, Error> {
        let Some(held) = &change.resource else {
            return Ok(None);
        };
        let mut tables = self.of_type(Some(change.resource_type));
        let (Some(table), None) = (tables.next(), tables.next()) else {
            return Ok(None);
        };
        table
            .held_row(held, &change.resource_name, messages)
            .transpose()
    }

    /// The tables of resources of `resource_type`, or every table.
    fn of_type<'a>(
        &'a self,
        resource_type: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Arc<dyn StateSource>> + 'a {
        self.sources.iter().filter(move |source| {
            resource_type.is_none_or(|wanted| source.resource_type() == wanted)
        })
    }
}

/// The variable segments of a resource name of the shape `shape`, whose
/// segments are literal or `*`: `fields("projects/7", "projects/*")` is `["7"]`.
pub fn name_fields<'a>(name: &'a str, shape: &str) -> Option<Vec<&'a str>> {
    let (mut segments, mut wanted) = (name.split('/'), shape.split('/'));
    let mut fields = Vec::new();
    loop {
        match (segments.next(), wanted.next()) {
            (None, None) => return Some(fields),
            (Some(segment), Some("*")) if !segment.is_empty() => fields.push(segment),
            (Some(segment), Some(literal)) if segment == literal => {}
            _ => return None,
        }
    }
}

/// A number segment of a resource name.
pub fn name_number<T: std::str::FromStr>(segment: &str) -> Option<T> {
    segment.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_by_their_shape() {
        let shape = "allocations/*/*/*";
        assert_eq!(
            name_fields("allocations/AE/2026/61", shape),
            Some(vec!["AE", "2026", "61"])
        );
        for other in [
            "allocations/AE/2026",
            "allocations/AE/2026/61/x",
            "projects/AE/2026/61",
            "allocations//2026/61",
        ] {
            assert_eq!(name_fields(other, shape), None, "{other}");
        }
    }
}
