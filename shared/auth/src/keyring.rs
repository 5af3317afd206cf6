//! The keys that verify tokens, by key id (`kid`), read from a JWKS file or a
//! directory of PEM files (`{kid}.pem`), and read again when those files change
//! ([`Reloading`]), so that keys rotate without a restart. A token whose `kid`
//! is not in the set is refused.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use aimaq_config::files::Reloading;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};

use crate::KeyError;

pub type Keys = Arc<HashMap<String, DecodingKey>>;

pub struct KeyRing(Reloading<HashMap<String, DecodingKey>>);

impl KeyRing {
    /// Reads the key set at `path`: a directory of `{kid}.pem` files, a JWKS
    /// (`.json`) file, or one PEM file (its name without `.pem` is the key id).
    pub fn load(path: &Path) -> Result<KeyRing, KeyError> {
        Reloading::load(vec![path.to_path_buf()], |paths| {
            read(&paths[0]).map_err(|error| error.to_string())
        })
        .map(KeyRing)
        .map_err(|message| KeyError::KeySet {
            path: path.to_path_buf(),
            message,
        })
    }

    /// The keys now, and whether they were read again on this call.
    pub fn current(&self) -> (Keys, bool) {
        self.0.current()
    }
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
