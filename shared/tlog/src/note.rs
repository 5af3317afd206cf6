//! Signed notes (C2SP `signed-note`, as Go's `golang.org/x/mod/sumdb/note`
//! writes them) with Ed25519 keys, and timestamped cosignatures (C2SP
//! `tlog-cosignature`).
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one line per
//! signature: `— <key name> base64(key id ‖ signature)`. A key id is the first
//! four bytes of `SHA-256(name ‖ "\n" ‖ type ‖ public key)`, type 0x01 for a
//! log's Ed25519 signature and 0x04 for a cosignature, whose signature is
//! `timestamp (u64, big-endian) ‖ Ed25519("cosignature/v1\ntime <t>\n" ‖ note text)`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

const ED25519: u8 = 0x01;
const COSIGNATURE_V1: u8 = 0x04;
/// At most this many signature lines are read from a note.
const MAX_SIGNATURES: usize = 100;

/// Why a key or a note is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("no signature by {0} verifies")]
    Unverified(String),
}

/// A key's role: signing a log's checkpoints, or cosigning another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    Log,
    Cosigner,
}

impl KeyRole {
    fn type_byte(self) -> u8 {
        match self {
            KeyRole::Log => ED25519,
            KeyRole::Cosigner => COSIGNATURE_V1,
        }
    }
}

fn key_id(name: &str, role: KeyRole, public: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([role.type_byte()]);
    hasher.update(public);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '+')
}

/// A private key that signs notes, with its name.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    role: KeyRole,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}, redacted)", self.verifier_key())
    }
}

impl NoteSigner {
    /// A new random key named `name`.
    pub fn generate(name: &str, role: KeyRole) -> Result<NoteSigner, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::MalformedKey(
                "a name is non-empty, without spaces or +",
            ));
        }
        Ok(NoteSigner {
            name: name.to_owned(),
            key: SigningKey::generate(&mut rand_core::OsRng),
            role,
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<key id>+<base64(type ‖ seed)>`.
    pub fn parse(text: &str) -> Result<NoteSigner, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey("a private key starts PRIVATE+KEY+"))?;
        let (name, id, material) = split_key(rest)?;
        let (role, seed) = key_material(&material)?;
        let signer = NoteSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
            role,
        };
        if signer.key_id() != id {
            return Err(NoteError::MalformedKey("the key id does not match the key"));
        }
        Ok(signer)
    }

    /// The private key as [`NoteSigner::parse`] reads it: a secret.
    pub fn private_key(&self) -> String {
        let mut material = vec![self.role.type_byte()];
        material.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id(),
            BASE64.encode(material)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        key_id(&self.name, self.role, &self.key.verifying_key().to_bytes())
    }

    /// The public key others verify with: `<name>+<key id>+<base64(type ‖ key)>`.
    pub fn verifier_key(&self) -> String {
        let mut material = vec![self.role.type_byte()];
        material.extend_from_slice(&self.key.verifying_key().to_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id(),
            BASE64.encode(material)
        )
    }

    /// The raw Ed25519 seed: to derive other secrets from, never to show.
    pub fn seed(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// `text` signed: the note. `text` must end in a newline.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let line = self.signature_line(text)?;
        Ok(format!("{text}\n{line}"))
    }

    /// The signature line of this key over `text` (a log's signature, or a
    /// cosignature made now).
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        let mut bytes = self.key_id().to_be_bytes().to_vec();
        match self.role {
            KeyRole::Log => {
                bytes.extend_from_slice(&self.key.sign(text.as_bytes()).to_bytes());
            }
            KeyRole::Cosigner => {
                let time = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.as_secs());
                bytes.extend_from_slice(&time.to_be_bytes());
                let message = cosigned_message(time, text);
                bytes.extend_from_slice(&self.key.sign(message.as_bytes()).to_bytes());
            }
        }
        Ok(format!("— {} {}\n", self.name, BASE64.encode(bytes)))
    }
}

fn cosigned_message(time: u64, text: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

fn split_key(text: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey("a key is <name>+<key id>+<key>"));
    };
    if !valid_name(name) {
        return Err(NoteError::MalformedKey(
            "a name is non-empty, without spaces or +",
        ));
    }
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey("a key id is 8 hexadecimal digits"));
    }
    let id = u32::from_str_radix(id, 16)
        .map_err(|_| NoteError::MalformedKey("a key id is 8 hexadecimal digits"))?;
    let material = BASE64
        .decode(material)
        .map_err(|_| NoteError::MalformedKey("the key is not base64"))?;
    Ok((name, id, material))
}

fn key_material(material: &[u8]) -> Result<(KeyRole, [u8; 32]), NoteError> {
    let (kind, key) = material
        .split_first()
        .ok_or(NoteError::MalformedKey("the key is empty"))?;
    let role = match *kind {
        ED25519 => KeyRole::Log,
        COSIGNATURE_V1 => KeyRole::Cosigner,
        _ => {
            return Err(NoteError::MalformedKey(
                "not an Ed25519 key (type 0x01 or 0x04)",
            ));
        }
    };
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| NoteError::MalformedKey("an Ed25519 key is 32 bytes"))?;
    Ok((role, key))
}

/// A public key that verifies the notes of one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
    role: KeyRole,
}

impl NoteVerifier {
    /// Reads `<name>+<key id>+<base64(type ‖ key)>`.
    pub fn parse(text: &str) -> Result<NoteVerifier, NoteError> {
        let (name, id, material) = split_key(text.trim())?;
        let (role, bytes) = key_material(&material)?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| NoteError::MalformedKey("not a valid Ed25519 public key"))?;
        if key_id(name, role, &bytes) != id {
            return Err(NoteError::MalformedKey("the key id does not match the key"));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            id,
            key,
            role,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn role(&self) -> KeyRole {
        self.role
    }

    /// Whether `line` (a parsed signature line) is this key's signature over
    /// `text`; for a cosignature, the time it states.
    fn verifies(&self, text: &str, line: &SignatureLine) -> Option<u64> {
        if line.name != self.name || line.id != self.id {
            return None;
        }
        match self.role {
            KeyRole::Log => {
                let signature = Signature::from_slice(&line.signature).ok()?;
                self.key.verify(text.as_bytes(), &signature).ok()?;
                Some(0)
            }
            KeyRole::Cosigner => {
                let (time, signature) = line.signature.split_first_chunk::<8>()?;
                let time = u64::from_be_bytes(*time);
                let signature = Signature::from_slice(signature).ok()?;
                let message = cosigned_message(time, text);
                self.key.verify(message.as_bytes(), &signature).ok()?;
                Some(time)
            }
        }
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLine {
    pub name: String,
    pub id: u32,
    /// What follows the key id: the signature (with a cosignature's time first).
    pub signature: Vec<u8>,
    /// The line as written, with its newline.
    pub line: String,
}

/// A note split into its text and its signature lines, none checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<SignatureLine>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text does not end in a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("the text holds control characters"));
    }
    Ok(())
}

impl Note {
    /// Splits a signed note; refuses one that is not in the format.
    pub fn parse(message: &str) -> Result<Note, NoteError> {
        let split = message
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, lines) = (&message[..=split], &message[split + 2..]);
        check_text(text)?;
        if !lines.ends_with('\n') {
            return Err(NoteError::Malformed(
                "the last signature line has no newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in lines.split_inclusive('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::Malformed("too many signatures"));
            }
            signatures.push(parse_signature_line(line)?);
        }
        if signatures.is_empty() {
            return Err(NoteError::Malformed("no signature"));
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The time of `verifier`'s valid signature (0 for a log's own), or
    /// [`NoteError::Unverified`].
    pub fn verified_by(&self, verifier: &NoteVerifier) -> Result<u64, NoteError> {
        self.signatures
            .iter()
            .find_map(|line| verifier.verifies(&self.text, line))
            .ok_or_else(|| NoteError::Unverified(verifier.name.clone()))
    }

    /// The signature line of `verifier` that verifies, if the note has one.
    pub fn line_of(&self, verifier: &NoteVerifier) -> Option<&SignatureLine> {
        self.signatures
            .iter()
            .find(|line| verifier.verifies(&self.text, line).is_some())
    }

    /// The note with `line` (a signature line) added, unless it holds one of
    /// the same key already.
    pub fn with_signature(&self, line: &str) -> Result<String, NoteError> {
        let added = parse_signature_line(line)?;
        let mut lines: Vec<&SignatureLine> = self
            .signatures
            .iter()
            .filter(|l| !(l.name == added.name && l.id == added.id))
            .collect();
        lines.push(&added);
        let signatures: String = lines.iter().map(|l| l.line.as_str()).collect();
        Ok(format!("{}\n{signatures}", self.text))
    }
}

fn parse_signature_line(line: &str) -> Result<SignatureLine, NoteError> {
    let body = line
        .strip_prefix("— ")
        .and_then(|l| l.strip_suffix('\n'))
        .ok_or(NoteError::Malformed(
            "a signature line is — <name> <signature>",
        ))?;
    let (name, encoded) = body.split_once(' ').ok_or(NoteError::Malformed(
        "a signature line is — <name> <signature>",
    ))?;
    if !valid_name(name) {
        return Err(NoteError::Malformed("a signature's name is malformed"));
    }
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
    let (id, signature) = bytes
        .split_first_chunk::<4>()
        .filter(|(_, rest)| !rest.is_empty())
        .ok_or(NoteError::Malformed("a signature is too short"))?;
    Ok(SignatureLine {
        name: name.to_owned(),
        id: u32::from_be_bytes(*id),
        signature: signature.to_vec(),
        line: line.to_owned(),
    })
}
