use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rand_core::OsRng;

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

/// A development Ed25519 key pair, generated fresh: for the local stack and tests.
/// Never committed; the stack keeps it in its data directory.
#[derive(Clone, Debug)]
pub struct DevKeys {
    pub private_pem: SecretPem,
    pub public_pem: String,
}

const PRIVATE_FILE: &str = "token-signing-key.pem";
const PUBLIC_FILE: &str = "token-public-key.pem";

impl DevKeys {
    pub fn generate() -> Result<DevKeys, KeyError> {
        let signing = SigningKey::generate(&mut OsRng);
        let private_pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        let public_pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        Ok(DevKeys {
            private_pem: SecretPem(private_pem.to_string()),
            public_pem,
        })
    }

    /// Loads the pair from `dir`, generating and storing it on first use (private
    /// key readable by the owner only).
    pub fn load_or_generate(dir: &Path) -> Result<DevKeys, KeyError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { path, source }
        };
        let private_path = dir.join(PRIVATE_FILE);
        let public_path = dir.join(PUBLIC_FILE);
        if private_path.exists() && public_path.exists() {
            return Ok(DevKeys {
                private_pem: SecretPem(
                    std::fs::read_to_string(&private_path).map_err(io(&private_path))?,
                ),
                public_pem: std::fs::read_to_string(&public_path).map_err(io(&public_path))?,
            });
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let keys = DevKeys::generate()?;
        write_private(&private_path, keys.private_pem.expose()).map_err(io(&private_path))?;
        std::fs::write(&public_path, &keys.public_pem).map_err(io(&public_path))?;
        Ok(keys)
    }

    pub fn public_key_path(dir: &Path) -> PathBuf {
        dir.join(PUBLIC_FILE)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(pem.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    std::fs::write(path, pem)
}
