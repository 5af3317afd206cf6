use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rand_core::OsRng;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("token key: {0}")]
    Jwt(jsonwebtoken::errors::Error),
    #[error("encoding the key: {0}")]
    Encode(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    KeySet { path: PathBuf, message: String },
}

/// A PEM-encoded private key that never prints itself.
#[derive(Clone)]
pub struct SecretPem(String);

impl SecretPem {
    pub fn new(pem: String) -> SecretPem {
        SecretPem(pem)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretPem(..)")
    }
}

/// The key id of an Ed25519 public key: `ed25519-` and the first 8 bytes of its
/// SHA-256, in hex. Issuer and verifiers derive it alike, so a development key
/// set needs no registry of ids.
pub fn key_id(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    format!("ed25519-{}", hex::encode(&digest[..8]))
}

/// The key id of an Ed25519 public key in PEM (SubjectPublicKeyInfo).
pub fn key_id_of_pem(public_pem: &str) -> Result<String, KeyError> {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(public_pem)
        .map_err(|e| KeyError::Encode(format!("not an Ed25519 public key: {e}")))?;
    Ok(key_id(key.as_bytes()))
}

/// A development Ed25519 key pair, generated fresh: for the local stack and tests.
/// Never committed; the stack keeps it in its data directory.
#[derive(Clone, Debug)]
pub struct DevKeys {
    pub private_pem: SecretPem,
    pub public_pem: String,
    /// The key's id in a key set, and in the `kid` of the tokens it signs.
    pub kid: String,
}

const PRIVATE_FILE: &str = "token-signing-key.pem";
const KEY_SET_DIR: &str = "token-keys";

impl DevKeys {
    pub fn generate() -> Result<DevKeys, KeyError> {
        DevKeys::from_signing_key(&SigningKey::generate(&mut OsRng))
    }

    fn from_signing_key(signing: &SigningKey) -> Result<DevKeys, KeyError> {
        let private_pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        let verifying = signing.verifying_key();
        let public_pem = verifying
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        Ok(DevKeys {
            private_pem: SecretPem(private_pem.to_string()),
            public_pem,
            kid: key_id(verifying.as_bytes()),
        })
    }

    /// The pair whose private key is `pem` (PKCS#8).
    pub fn from_private_pem(pem: &SecretPem) -> Result<DevKeys, KeyError> {
        let signing = SigningKey::from_pkcs8_pem(pem.expose())
            .map_err(|e| KeyError::Encode(format!("the signing key is not Ed25519 PKCS#8: {e}")))?;
        DevKeys::from_signing_key(&signing)
    }

    /// Loads the pair from `dir`, generating and storing it on first use: the
    /// private key readable by the owner only, the public key in the key set
    /// directory ([`DevKeys::key_set_path`]) as `{kid}.pem`.
    pub fn load_or_generate(dir: &Path) -> Result<DevKeys, KeyError> {
        let private_path = dir.join(PRIVATE_FILE);
        let keys = if private_path.exists() {
            let pem = std::fs::read_to_string(&private_path).map_err(io(&private_path))?;
            DevKeys::from_private_pem(&SecretPem(pem))?
        } else {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let keys = DevKeys::generate()?;
            aimaq_config::files::write_private(&private_path, keys.private_pem.expose())
                .map_err(io(&private_path))?;
            keys
        };
        keys.publish(&DevKeys::key_set_path(dir))?;
        Ok(keys)
    }

    /// Whether `dir` holds a development signing key: a data directory of the
    /// stack does, a production key set (public keys only) never.
    pub fn has_signing_key(dir: &Path) -> bool {
        dir.join(PRIVATE_FILE).is_file()
    }

    /// Writes the public key into the key set directory `dir` as `{kid}.pem`.
    pub fn publish(&self, dir: &Path) -> Result<PathBuf, KeyError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(format!("{}.pem", self.kid));
        std::fs::write(&path, &self.public_pem).map_err(io(&path))?;
        Ok(path)
    }

    /// The key set directory of a data directory: what verifiers read.
    pub fn key_set_path(dir: &Path) -> PathBuf {
        dir.join(KEY_SET_DIR)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError {
    let path = path.to_path_buf();
    move |source| KeyError::Io { path, source }
}
