//! A short-lived memory of territories for `GetTerritory`, the hottest read of the
//! service: the registry changes rarely and is read on nearly every call of the
//! other services. A write through this process clears it at once; writes
//! through another replica are seen after at most [`TTL`].
//!
//! What it holds stays near what was asked within the last [`TTL`]: stale
//! entries are swept out as it grows, and an ancestor is held once, shared by
//! every territory below it, not copied into each (a region is the ancestor of
//! thousands of villages).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aimaq_types::Kato;

use crate::domain::territory::Territory;

/// How long a remembered territory is served.
pub const TTL: Duration = Duration::from_secs(5);
/// Territories remembered at most (the national classifier has 16,264).
const CAPACITY: usize = 50_000;
/// Entries held before stale ones are first swept out.
const FIRST_SWEEP: usize = 1_024;

/// A territory as remembered, with its ancestors once they have been asked for.
struct Remembered {
    since: Instant,
    territory: Arc<Territory>,
    ancestors: Option<Arc<[Arc<Territory>]>>,
}

impl Remembered {
    fn is_fresh(&self) -> bool {
        self.since.elapsed() < TTL
    }
}

#[derive(Default)]
struct Memory {
    entries: HashMap<Kato, Remembered>,
    /// Twice the entries the last sweep left: sweeping then costs each
    /// insertion O(1) on average, and at most half of what is held is stale.
    sweep_at: usize,
}

#[derive(Default)]
pub struct TerritoryCache(Mutex<Memory>);

impl TerritoryCache {
    pub fn get(&self, kato: Kato) -> Option<Territory> {
        self.fresh(kato, |r| Some(Territory::clone(&r.territory)))
    }

    /// The territory's ancestors, nearest first, if remembered.
    pub fn ancestors(&self, kato: Kato) -> Option<Vec<Territory>> {
        self.fresh(kato, |r| {
            let ancestors = r.ancestors.as_ref()?;
            Some(ancestors.iter().map(|a| Territory::clone(a)).collect())
        })
    }

    fn fresh<T>(&self, kato: Kato, read: impl FnOnce(&Remembered) -> Option<T>) -> Option<T> {
        let memory = self.0.lock().ok()?;
        let entry = memory.entries.get(&kato)?;
        if entry.is_fresh() { read(entry) } else { None }
    }

    pub fn put(&self, territory: &Territory) {
        if let Ok(mut memory) = self.0.lock() {
            memory.remember(Arc::new(territory.clone()), None);
        }
    }

    /// Remembers the territory with its ancestors, nearest first.
    pub fn put_with_ancestors(&self, territory: &Territory, ancestors: &[Territory]) {
        if let Ok(mut memory) = self.0.lock() {
            let ancestors = ancestors.iter().map(|a| memory.shared(a)).collect();
            memory.remember(Arc::new(territory.clone()), Some(ancestors));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut memory) = self.0.lock() {
            *memory = Memory::default();
        }
    }
}

impl Memory {
    /// The remembered copy of `territory` when it is fresh and the same;
    /// otherwise `territory`, remembered from now on.
    fn shared(&mut self, territory: &Territory) -> Arc<Territory> {
        if let Some(entry) = self.entries.get(&territory.draft.kato)
            && entry.is_fresh()
            && *entry.territory == *territory
        {
            return Arc::clone(&entry.territory);
        }
        let shared = Arc::new(territory.clone());
        self.remember(Arc::clone(&shared), None);
        shared
    }

    fn remember(&mut self, territory: Arc<Territory>, ancestors: Option<Arc<[Arc<Territory>]>>) {
        if self.entries.len() >= self.sweep_at.clamp(FIRST_SWEEP, CAPACITY) {
            self.entries.retain(|_, entry| entry.is_fresh());
            if self.entries.len() >= CAPACITY {
                self.entries.clear();
            }
            self.sweep_at = 2 * self.entries.len();
            self.entries.shrink_to(self.sweep_at);
        }
        let entry = Remembered {
            since: Instant::now(),
            territory,
            ancestors,
        };
        self.entries.insert(entry.territory.draft.kato, entry);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::territory::{GrowthPoints, Names, TerritoryDraft, TerritoryKind, Validity};

    fn territory(code: &str, kind: TerritoryKind, parent: Option<&str>) -> Territory {
        Territory {
            draft: TerritoryDraft {
                kato: Kato::parse(code).unwrap(),
                kind,
                names: Names {
                    kk: format!("{code} kk"),
                    ru: format!("{code} ru"),
                    en: String::new(),
                },
                rural: true,
                population: 1_000,
                growth_points: GrowthPoints::default(),
                validity: Validity::default(),
            },
            parent: parent.map(|code| Kato::parse(code).unwrap()),
            version: 1,
            updated_at_micros: 0,
        }
    }

    /// A district and its region, nearest first.
    fn ancestors() -> Vec<Territory> {
        vec![
            territory("611000000", TerritoryKind::District, Some("610000000")),
            territory("610000000", TerritoryKind::Region, None),
        ]
    }

    fn village(code: &str) -> Territory {
        territory(code, TerritoryKind::Village, Some("611000000"))
    }

    fn held(cache: &TerritoryCache, code: &str) -> Arc<Territory> {
        let memory = cache.0.lock().unwrap();
        Arc::clone(&memory.entries[&Kato::parse(code).unwrap()].territory)
    }

    #[test]
    fn a_territory_is_served_with_its_ancestors_as_put() {
        let cache = TerritoryCache::default();
        let first = village("611010001");
        cache.put(&first);
        assert_eq!(cache.get(first.draft.kato), Some(first.clone()));
        assert_eq!(cache.ancestors(first.draft.kato), None);
        cache.put_with_ancestors(&first, &ancestors());
        assert_eq!(cache.ancestors(first.draft.kato), Some(ancestors()));
        // Each ancestor is remembered as itself too.
        assert_eq!(
            cache.get(ancestors()[1].draft.kato),
            Some(ancestors()[1].clone())
        );
        cache.clear();
        assert_eq!(cache.get(first.draft.kato), None);
    }

    #[test]
    fn villages_of_one_district_share_its_copy() {
        let cache = TerritoryCache::default();
        for code in ["611010001", "611010002", "611010003"] {
            cache.put_with_ancestors(&village(code), &ancestors());
        }
        let district = held(&cache, "611000000");
        let memory = cache.0.lock().unwrap();
        for code in ["611010001", "611010002", "611010003"] {
            let entry = &memory.entries[&Kato::parse(code).unwrap()];
            let held = entry.ancestors.as_ref().unwrap();
            assert!(Arc::ptr_eq(&held[0], &district), "{code} holds a copy");
        }
    }

    #[test]
    fn a_changed_ancestor_is_not_served_from_its_old_copy() {
        let cache = TerritoryCache::default();
        cache.put_with_ancestors(&village("611010001"), &ancestors());
        let mut renamed = ancestors();
        renamed[0].draft.names.ru = "renamed".into();
        renamed[0].version = 2;
        cache.put_with_ancestors(&village("611010002"), &renamed);
        let code = Kato::parse("611010002").unwrap();
        assert_eq!(cache.ancestors(code), Some(renamed.clone()));
        assert_eq!(cache.get(renamed[0].draft.kato), Some(renamed[0].clone()));
    }

    #[test]
    fn stale_entries_are_swept_out_as_it_grows() {
        let cache = TerritoryCache::default();
        let long_ago = Instant::now().checked_sub(2 * TTL).unwrap();
        {
            let mut memory = cache.0.lock().unwrap();
            for n in 0..FIRST_SWEEP {
                let code = format!("61101{:04}", n);
                memory.remember(Arc::new(village(&code)), None);
            }
            for entry in memory.entries.values_mut() {
                entry.since = long_ago;
            }
        }
        let fresh = village("611019999");
        cache.put(&fresh);
        assert_eq!(cache.0.lock().unwrap().entries.len(), 1);
        assert_eq!(cache.get(fresh.draft.kato), Some(fresh));
        // Fresh entries stay: the next sweep waits until the cache doubles.
        for n in 0..FIRST_SWEEP - 1 {
            cache.put(&village(&format!("61102{:04}", n)));
        }
        assert_eq!(cache.0.lock().unwrap().entries.len(), FIRST_SWEEP);
    }
}
