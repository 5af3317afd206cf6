//! A short-lived memory of territories for `GetTerritory`, the hottest read of the
//! service: the registry changes rarely and is read on nearly every call of the
//! other services. A write through this process clears it at once; writes
//! through another replica are seen after at most [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aimaq_types::Kato;

use crate::domain::territory::Territory;

/// How long a remembered territory is served.
pub const TTL: Duration = Duration::from_secs(5);
/// Territories remembered at most (the national classifier has 16,264).
const CAPACITY: usize = 50_000;

/// A territory as remembered, with its ancestors once they have been asked for.
struct Remembered {
    since: Instant,
    territory: Territory,
    ancestors: Option<Vec<Territory>>,
}

#[derive(Default)]
pub struct TerritoryCache(Mutex<HashMap<Kato, Remembered>>);

impl TerritoryCache {
    pub fn get(&self, kato: Kato) -> Option<Territory> {
        self.fresh(kato, |r| Some(r.territory.clone()))
    }

    /// The territory's ancestors, nearest first, if remembered.
    pub fn ancestors(&self, kato: Kato) -> Option<Vec<Territory>> {
        self.fresh(kato, |r| r.ancestors.clone())
    }

    fn fresh<T>(&self, kato: Kato, read: impl FnOnce(&Remembered) -> Option<T>) -> Option<T> {
        let remembered = self.0.lock().ok()?;
        let entry = remembered.get(&kato)?;
        if entry.since.elapsed() < TTL {
            read(entry)
        } else {
            None
        }
    }

    pub fn put(&self, territory: &Territory) {
        self.remember(territory, None);
    }

    /// Remembers the territory with its ancestors, nearest first.
    pub fn put_with_ancestors(&self, territory: &Territory, ancestors: &[Territory]) {
        self.remember(territory, Some(ancestors.to_vec()));
    }

    fn remember(&self, territory: &Territory, ancestors: Option<Vec<Territory>>) {
        if let Ok(mut remembered) = self.0.lock() {
            if remembered.len() >= CAPACITY {
                remembered.retain(|_, entry| entry.since.elapsed() < TTL);
                if remembered.len() >= CAPACITY {
                    remembered.clear();
                }
            }
            let entry = Remembered {
                since: Instant::now(),
                territory: territory.clone(),
                ancestors,
            };
            remembered.insert(territory.draft.kato, entry);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut remembered) = self.0.lock() {
            remembered.clear();
        }
    }
}
