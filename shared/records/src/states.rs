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
//! a resource whose rows are gone has the digest of no rows.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aimaq_error::Error;
use futures::TryStreamExt;
use sea_orm::sea_query::{QueryBuilder, SqliteQueryBuilder};
use sea_orm::{
    Condition, DatabaseTransaction, EntityTrait, IdenStatic, Iterable, ModelTrait,
    PrimaryKeyToColumn, QueryFilter, QueryOrder,
};
use sha2::{Digest, Sha256};

use crate::mutation::Change;

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

type Rows<'a> = Pin<Box<dyn Future<Output = Result<Vec<(String, [u8; 32])>, Error>> + Send + 'a>>;

/// A table's rows as row hashes with the name of their resource.
trait StateSource: Send + Sync {
    fn resource_type(&self) -> &'static str;

    /// The rows of the resources named, or of every resource when `None`.
    fn rows<'a>(
        &'a self,
        transaction: &'a DatabaseTransaction,
        names: Option<&'a [String]>,
    ) -> Rows<'a>;
}

impl<E> StateSource for StateTable<E>
where
    E: EntityTrait + Sync,
    E::Model: Sync,
{
    fn resource_type(&self) -> &'static str {
        self.resource_type
    }

    fn rows<'a>(
        &'a self,
        transaction: &'a DatabaseTransaction,
        names: Option<&'a [String]>,
    ) -> Rows<'a> {
        Box::pin(async move {
            let mut select = E::find();
            for key in E::PrimaryKey::iter() {
                select = select.order_by_asc(key.into_column());
            }
            if let Some(names) = names {
                let mut any = Condition::any();
                for name in names {
                    let rows = (self.rows_of)(name).ok_or_else(|| {
                        Error::internal(format!("{name} is not a {} name", self.resource_type))
                    })?;
                    any = any.add(rows);
                }
                select = select.filter(any);
            }
            let mut stream = select.stream(transaction).await?;
            let mut rows = Vec::new();
            while let Some(model) = stream.try_next().await? {
                rows.push(((self.name_of)(&model), self.row_hash(&model)));
            }
            Ok(rows)
        })
    }
}

impl<E: EntityTrait> StateTable<E> {
    fn row_hash(&self, model: &E::Model) -> [u8; 32] {
        let mut encoded = Vec::new();
        put(&mut encoded, E::default().table_name().as_bytes());
        for column in E::Column::iter() {
            let name = column.as_str();
            if self.skip.contains(&name) {
                continue;
            }
            put(&mut encoded, name.as_bytes());
            let value = SqliteQueryBuilder.value_to_string(&model.get(column));
            put(&mut encoded, value.as_bytes());
        }
        Sha256::digest(&encoded).into()
    }
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u64).to_be_bytes());
    out.extend_from_slice(field);
}

/// The state digest of a resource from its rows' hashes, in any order.
fn state_digest(resource_type: &str, mut rows: Vec<[u8; 32]>) -> String {
    rows.sort_unstable();
    let mut hasher = Sha256::new();
    hasher.update((resource_type.len() as u64).to_be_bytes());
    hasher.update(resource_type.as_bytes());
    for row in rows {
        hasher.update(row);
    }
    hex::encode(hasher.finalize())
}

/// The resource types a service describes, each by the tables of its rows.
#[derive(Clone, Default)]
pub struct ResourceStates {
    sources: Vec<Arc<dyn StateSource>>,
}

/// A resource: its type and name.
pub(crate) type ResourceKey = (String, String);

impl ResourceStates {
    /// Adds a table to the resources of its type.
    pub fn with<E>(mut self, table: StateTable<E>) -> ResourceStates
    where
        E: EntityTrait + Sync,
        E::Model: Sync,
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

    /// The state digest of each change's resource as the transaction now
    /// holds it; empty for types not described.
    pub(crate) async fn digests(
        &self,
        transaction: &DatabaseTransaction,
        changes: &[Change],
    ) -> Result<Vec<String>, Error> {
        let mut names: HashMap<&'static str, Vec<String>> = HashMap::new();
        for change in changes.iter().filter(|c| self.covers(c.resource_type)) {
            names
                .entry(change.resource_type)
                .or_default()
                .push(change.resource_name.clone());
        }
        let mut rows: HashMap<ResourceKey, Vec<[u8; 32]>> = HashMap::new();
        for (resource_type, mut wanted) in names {
            wanted.sort_unstable();
            wanted.dedup();
            for chunk in wanted.chunks(NAMES_PER_QUERY) {
                self.gather(transaction, Some(resource_type), Some(chunk), &mut rows)
                    .await?;
            }
        }
        Ok(changes
            .iter()
            .map(|change| {
                if !self.covers(change.resource_type) {
                    return String::new();
                }
                let key = (
                    change.resource_type.to_owned(),
                    change.resource_name.clone(),
                );
                state_digest(
                    change.resource_type,
                    rows.get(&key).cloned().unwrap_or_default(),
                )
            })
            .collect())
    }

    /// The state digest of every resource that has rows.
    pub(crate) async fn current(
        &self,
        transaction: &DatabaseTransaction,
    ) -> Result<HashMap<ResourceKey, String>, Error> {
        let mut rows: HashMap<ResourceKey, Vec<[u8; 32]>> = HashMap::new();
        self.gather(transaction, None, None, &mut rows).await?;
        Ok(rows
            .into_iter()
            .map(|((resource_type, name), hashes)| {
                let digest = state_digest(&resource_type, hashes);
                ((resource_type, name), digest)
            })
            .collect())
    }

    /// The digest of a resource without rows (deleted, or never written).
    pub(crate) fn absent(resource_type: &str) -> String {
        state_digest(resource_type, Vec::new())
    }

    async fn gather(
        &self,
        transaction: &DatabaseTransaction,
        resource_type: Option<&str>,
        names: Option<&[String]>,
        rows: &mut HashMap<ResourceKey, Vec<[u8; 32]>>,
    ) -> Result<(), Error> {
        let wanted = |source: &&Arc<dyn StateSource>| {
            resource_type.is_none_or(|wanted| source.resource_type() == wanted)
        };
        for source in self.sources.iter().filter(wanted) {
            for (name, hash) in source.rows(transaction, names).await? {
                rows.entry((source.resource_type().to_owned(), name))
                    .or_default()
                    .push(hash);
            }
        }
        Ok(())
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

    #[test]
    fn a_state_digest_does_not_depend_on_row_order() {
        let rows = vec![[1; 32], [2; 32]];
        let swapped = vec![[2; 32], [1; 32]];
        assert_eq!(
            state_digest("project", rows.clone()),
            state_digest("project", swapped)
        );
        assert_ne!(
            state_digest("project", rows.clone()),
            state_digest("allocation", rows)
        );
        assert_ne!(
            state_digest("project", vec![]),
            state_digest("project", vec![[1; 32]])
        );
    }
}
