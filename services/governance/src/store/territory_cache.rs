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

#[derive(Default)]
pub struct TerritoryCache(Mutex<HashMap<Kato, (Instant, Territory)>>);

impl TerritoryCache {
    pub fn get(&self, kato: Kato) -> Option<Territory> {
        let remembered = self.0.lock().ok()?;
        let (since, territory) = remembered.get(&kato)?;
        (since.elapsed() < TTL).then(|| territory.clone())
    }

    pub fn put(&self, territory: &Territory) {
        if let Ok(mut remembered) = self.0.lock() {
            if remembered.len() >= CAPACITY {
                remembered.retain(|_, (since, _)| since.elapsed() < TTL);
                if remembered.len() >= CAPACITY {
                    remembered.clear();
                }
            }
            remembered.insert(territory.draft.kato, (Instant::now(), territory.clone()));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut remembered) = self.0.lock() {
            remembered.clear();
        }
    }
}
