//! The keys of a service's transparency log. They live outside its database
//! (a file, in production a Kubernetes Secret), so that whoever can write the
//! database can neither sign a checkpoint nor forge a pending record.

use std::path::Path;

use aimaq_error::Error;
use aimaq_tlog::{KeyRole, NoteSigner, NoteVerifier};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation of the MAC key derived from a signing key.
const MAC_KEY_LABEL: &[u8] = b"aimaq/pending-record-mac/v1";

/// The log's signing key and the MAC keys of its pending records.
#[derive(Clone)]
pub struct LogKeys {
    signer: NoteSigner,
    /// The current key's MAC key first, then those of keys being retired.
    mac_keys: Vec<[u8; 32]>,
    /// The witnesses whose cosignatures the log keeps and serves back.
    cosigners: Vec<NoteVerifier>,
}

impl std::fmt::Debug for LogKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogKeys({:?}, redacted)", self.signer)
    }
}

impl LogKeys {
    /// Reads a key file: one `PRIVATE+KEY+<origin>+<id>+<key>` per line (as
    /// `aimaq-log-key` writes them). The first signs; the others are keys
    /// being rotated out, whose pending records are still accepted.
    pub fn load(path: &Path) -> Result<LogKeys, Error> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            Error::internal(format!("log signing key {}: {error}", path.display()))
        })?;
        LogKeys::parse(&text).map_err(|error| {
            Error::internal(format!("log signing key {}: {error}", path.display()))
        })
    }

    fn parse(text: &str) -> Result<LogKeys, aimaq_tlog::NoteError> {
        let signers = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(NoteSigner::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = signers.first() else {
            return Err(aimaq_tlog::NoteError::MalformedKey("the file holds no key"));
        };
        Ok(LogKeys {
            signer: first.clone(),
            mac_keys: signers.iter().map(mac_key).collect(),
            cosigners: Vec::new(),
        })
    }

    /// A key made for this process only: its checkpoints verify only until it
    /// stops, and pending records it leaves are refused by the next.
    pub fn ephemeral(origin: &str) -> Result<LogKeys, Error> {
        let signer = NoteSigner::generate(origin, KeyRole::Log)
            .map_err(|error| Error::internal(format!("log key: {error}")))?;
        Ok(LogKeys {
            mac_keys: vec![mac_key(&signer)],
            signer,
            cosigners: Vec::new(),
        })
    }

    /// Writes a new key for `origin` to `path` unless a key file is there
    /// (development: the stack and tests); returns the keys in the file.
    pub fn load_or_generate(path: &Path, origin: &str) -> Result<LogKeys, Error> {
        if !path.exists() {
            let keys = LogKeys::ephemeral(origin)?;
            aimaq_config::files::write_private(path, &format!("{}\n", keys.signer.private_key()))
                .map_err(|error| {
                Error::internal(format!("log signing key {}: {error}", path.display()))
            })?;
        }
        LogKeys::load(path)
    }

    /// The keys, accepting the cosignatures of the witnesses whose public
    /// keys (`<name>+<id>+<key>`, of a witness) are given.
    pub fn with_cosigners(mut self, keys: &[String]) -> Result<LogKeys, Error> {
        for key in keys {
            let refuse =
                |message: String| Error::internal(format!("--log-cosigner {key}: {message}"));
            let verifier = NoteVerifier::parse(key).map_err(|e| refuse(e.to_string()))?;
            if verifier.role() != KeyRole::Cosigner {
                return Err(refuse(
                    "not a witness's key (aimaq-verify keygen --witness)".into(),
                ));
            }
            self.cosigners.push(verifier);
        }
        Ok(self)
    }

    pub fn signer(&self) -> &NoteSigner {
        &self.signer
    }

    /// The witnesses whose cosignatures the log keeps.
    pub(crate) fn cosigners(&self) -> &[NoteVerifier] {
        &self.cosigners
    }

    /// The public key checkpoints verify with (`<origin>+<id>+<key>`).
    pub fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }

    /// The MAC of `parts`, each length-prefixed, under the current key, hex.
    /// The parts are fed in turn, never joined: a pending row's events can
    /// be megabytes (an import of the whole classifier).
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> String {
        let mut mac = keyed(&self.mac_keys[0]);
        feed(&mut mac, parts);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `mac` is the MAC of `parts` under any key held.
    pub(crate) fn verifies(&self, parts: &[&[u8]], mac: &str) -> bool {
        let Ok(mac) = hex::decode(mac) else {
            return false;
        };
        self.mac_keys.iter().any(|key| {
            let mut check = keyed(key);
            feed(&mut check, parts);
            check.verify_slice(&mac).is_ok()
        })
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"))
}

/// Each part after its length, as eight bytes big-endian.
fn feed(mac: &mut HmacSha256, parts: &[&[u8]]) {
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
}

fn mac_key(signer: &NoteSigner) -> [u8; 32] {
    tag(signer.seed(), MAC_KEY_LABEL)
}

fn tag(key: &[u8], content: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(content);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parts_are_macced_as_their_length_prefixed_join() {
        // As pending rows were MACed when the parts were first joined: those
        // rows still verify.
        let keys = LogKeys::ephemeral("aimaq.test/budget").unwrap();
        let joined = [
            &5u64.to_be_bytes()[..],
            b"hello",
            &0u64.to_be_bytes(),
            &3u64.to_be_bytes(),
            b"abc",
        ]
        .concat();
        let mac = keys.mac(&[b"hello", b"", b"abc"]);
        assert_eq!(mac, hex::encode(tag(&keys.mac_keys[0], &joined)));
        assert!(keys.verifies(&[b"hello", b"", b"abc"], &mac));
    }

    #[test]
    fn macs_verify_under_current_and_retired_keys_only() {
        let old = LogKeys::ephemeral("aimaq.test/budget").unwrap();
        let new = LogKeys::ephemeral("aimaq.test/budget").unwrap();
        let both = LogKeys::parse(&format!(
            "{}\n# retiring\n{}\n",
            new.signer.private_key(),
            old.signer.private_key()
        ))
        .unwrap();
        let mac = old.mac(&[b"row"]);
        assert!(both.verifies(&[b"row"], &mac));
        assert!(!new.verifies(&[b"row"], &mac));
        assert!(!both.verifies(&[b"row2"], &mac));
        assert!(!both.verifies(&[b"ro", b"w"], &mac));
        assert!(!both.verifies(&[b"row"], "not hex"));
        assert_eq!(both.verifier_key(), new.verifier_key());
        assert!(!format!("{both:?}").contains("PRIVATE"));
        assert!(LogKeys::parse("").is_err());
    }
}
