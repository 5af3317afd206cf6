//! The keys that verify tokens, by key id (`kid`), read from a JWKS file or a
//! directory of PEM files (`{kid}.pem`), and read again when those files change,
//! so that keys rotate without a restart (a Kubernetes Secret updates its files
//! in place). A token whose `kid` is not in the set is refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};

use crate::KeyError;

/// How often the files are looked at for a change.
const CHECK_EVERY: Duration = Duration::from_secs(1);

pub type Keys = Arc<HashMap<String, DecodingKey>>;

pub struct KeyRing {
    path: PathBuf,
    state: RwLock<State>,
}

struct State {
    keys: Keys,
    stamp: Stamp,
    checked: Instant,
}

/// What the files looked like when read: names, sizes and modification times.
type Stamp = Vec<(PathBuf, u64, Option<SystemTime>)>;

impl KeyRing {
    /// Reads the key set at `path`: a directory of `{kid}.pem` files, a JWKS
    /// (`.json`) file, or one PEM file (its name without `.pem` is the key id).
    pub fn load(path: &Path) -> Result<KeyRing, KeyError> {
        let stamp = stamp(path);
        let keys = read(path)?;
        Ok(KeyRing {
            path: path.to_path_buf(),
            state: RwLock::new(State {
                keys: Arc::new(keys),
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// The keys now, and whether they were read again since the last call that
    /// said so. A key set that cannot be read any more keeps the last good keys
    /// (and says so in the log): a half-written rotation does not lock callers out.
    pub fn current(&self) -> (Keys, bool) {
        let due = self
            .state
            .read()
            .map(|state| state.checked.elapsed() >= CHECK_EVERY)
            .unwrap_or(true);
        if due {
            let stamp = stamp(&self.path);
            let mut state = match self.state.write() {
                Ok(state) => state,
                Err(poisoned) => poisoned.into_inner(),
            };
            state.checked = Instant::now();
            if stamp != state.stamp {
                state.stamp = stamp;
                match read(&self.path) {
                    Ok(keys) => {
                        tracing::info!(path = %self.path.display(), keys = keys.len(), "token keys read again");
                        state.keys = Arc::new(keys);
                        return (Arc::clone(&state.keys), true);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "token keys changed but cannot be read; keeping the last ones");
                    }
                }
            }
            return (Arc::clone(&state.keys), false);
        }
        let keys = match self.state.read() {
            Ok(state) => Arc::clone(&state.keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().keys),
        };
        (keys, false)
    }
}

fn stamp(path: &Path) -> Stamp {
    let of = |path: PathBuf| {
        let meta = std::fs::metadata(&path).ok();
        let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
        let modified = meta.and_then(|m| m.modified().ok());
        (path, size, modified)
    };
    let mut stamp: Stamp = match std::fs::read_dir(path) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| is_pem(path))
            .map(of)
            .collect(),
        Err(_) => vec![of(path.to_path_buf())],
    };
    stamp.sort();
    stamp
}

fn is_pem(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "pem")
}

fn failed(path: &Path, message: impl Into<String>) -> KeyError {
    KeyError::KeySet {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read(path: &Path) -> Result<HashMap<String, DecodingKey>, KeyError> {
    let keys = if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut keys = HashMap::new();
        for entry in entries.filter_map(Result::ok) {
            let file = entry.path();
            if is_pem(&file) {
                let (kid, key) = read_pem(&file)?;
                keys.insert(kid, key);
            }
        }
        keys
    } else if path.extension().is_some_and(|ext| ext == "json") {
        read_jwks(path)?
    } else {
        HashMap::from([read_pem(path)?])
    };
    if keys.is_empty() {
        return Err(failed(path, "no Ed25519 public key in the key set"));
    }
    Ok(keys)
}

fn read_pem(path: &Path) -> Result<(String, DecodingKey), KeyError> {
    let pem = std::fs::read(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let kid = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .filter(|kid| !kid.is_empty())
        .ok_or_else(|| failed(path, "the file name (the key id) is not text"))?;
    let key = DecodingKey::from_ed_pem(&pem).map_err(|e| failed(path, e.to_string()))?;
    Ok((kid.to_owned(), key))
}

fn read_jwks(path: &Path) -> Result<HashMap<String, DecodingKey>, KeyError> {
    let text = std::fs::read(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let set: JwkSet = serde_json::from_slice(&text).map_err(|e| failed(path, e.to_string()))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| failed(path, "every key needs a kid"))?;
        let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else {
            return Err(failed(
                path,
                format!("key {kid} is not an Ed25519 (OKP) key"),
            ));
        };
        if params.curve != EllipticCurve::Ed25519 {
            return Err(failed(path, format!("key {kid} is not on Ed25519")));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| failed(path, format!("{kid}: {e}")))?;
        keys.insert(kid, key);
    }
    Ok(keys)
}
