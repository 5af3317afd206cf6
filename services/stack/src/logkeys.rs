//! The development keys of the backends' audit logs and of their witnesses,
//! kept in the data directory, and the witnessing each backend does of the
//! other two.

use std::path::Path;
use std::time::Duration;

use aimaq_auth::{DevKeys, TokenIssuer, TokenSpec};

use crate::{Endpoint, StackError, StackOptions};

/// The token the development witnesses read the other logs with.
const WITNESS_TOKEN: &str = "witness-token";

/// Where a backend's development log key is kept.
pub(crate) fn log_key_path(data_dir: &Path, service: &str) -> std::path::PathBuf {
    data_dir.join("log-keys").join(format!("{service}.key"))
}

/// Makes each backend's log key where missing (origin `aimaq.local/<service>`);
/// returns the public keys, by service, that the log's checkpoints verify with.
pub(crate) fn log_keys(data_dir: &Path) -> Result<Vec<(&'static str, String)>, StackError> {
    let failed = |error: &dyn std::fmt::Display| StackError::Demo(format!("log keys: {error}"));
    std::fs::create_dir_all(data_dir.join("log-keys")).map_err(|e| failed(&e))?;
    let mut keys = Vec::new();
    for service in ["governance", "budget", "grants"] {
        let path = log_key_path(data_dir, service);
        let loaded =
            aimaq_records::LogKeys::load_or_generate(&path, &format!("aimaq.local/{service}"))
                .map_err(|e| failed(&e))?;
        let public = data_dir.join("log-keys").join(format!("{service}.pub"));
        std::fs::write(&public, format!("{}\n", loaded.verifier_key())).map_err(|e| failed(&e))?;
        keys.push((service, loaded.verifier_key()));
        let witness = data_dir
            .join("log-keys")
            .join(format!("{service}-witness.key"));
        if !witness.exists() {
            let signer = aimaq_tlog::NoteSigner::generate(
                &format!("aimaq.local/{service}-witness"),
                aimaq_tlog::KeyRole::Cosigner,
            )
            .map_err(|e| failed(&e))?;
            aimaq_config::files::write_private(&witness, &format!("{}\n", signer.private_key()))
                .map_err(|e| failed(&e))?;
        }
        let text = std::fs::read_to_string(&witness).map_err(|e| failed(&e))?;
        let signer = aimaq_tlog::NoteSigner::parse(text.trim()).map_err(|e| failed(&e))?;
        std::fs::write(
            witness_public_path(data_dir, service),
            format!("{}\n", signer.verifier_key()),
        )
        .map_err(|e| failed(&e))?;
    }
    Ok(keys)
}

/// Where a backend's development witness public key is kept.
fn witness_public_path(data_dir: &Path, service: &str) -> std::path::PathBuf {
    data_dir
        .join("log-keys")
        .join(format!("{service}-witness.pub"))
}

/// A token with no scope for the development witnesses (checkpoints and
/// proofs need only a verified caller), in the data directory.
pub(crate) fn write_witness_token(options: &StackOptions) -> Result<(), StackError> {
    let keys = DevKeys::load_or_generate(&options.data_dir)?;
    let issuer = TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq")?;
    let token = issuer.mint(&TokenSpec {
        subject: "aimaq-witness".into(),
        agency: "Aimaq".into(),
        scopes: Vec::new(),
        kato_prefix: None,
        ttl: Duration::from_secs(options.token_hours * 3600),
        bound_to: None,
    })?;
    let path = options.data_dir.join(WITNESS_TOKEN);
    aimaq_config::files::write_private(&path, &token)
        .map_err(|e| StackError::Demo(format!("{}: {e}", path.display())))
}

/// `service` witnessing the other backends' logs, with the development
/// keys and token the stack keeps in its data directory.
pub(crate) fn witness_config(
    data_dir: &Path,
    service: &str,
    endpoints: &[Endpoint],
) -> Result<aimaq_config::WitnessConfig, StackError> {
    let keys = data_dir.join("log-keys");
    let mut peers = Vec::new();
    for other in endpoints.iter().filter(|e| e.service != service) {
        let public = keys.join(format!("{}.pub", other.service));
        let key = std::fs::read_to_string(&public)
            .map_err(|e| StackError::Demo(format!("{}: {e}", public.display())))?;
        peers.push(format!("{} {} {}", other.service, other.url(), key.trim()));
    }
    Ok(aimaq_config::WitnessConfig {
        witness_key: Some(keys.join(format!("{service}-witness.key"))),
        witness_peers: peers,
        witness_token_file: Some(data_dir.join(WITNESS_TOKEN)),
        witness_file: Some(data_dir.join(format!("witnessed-by-{service}.jsonl"))),
        ..aimaq_config::WitnessConfig::default()
    })
}

/// The public keys of the other backends' development witnesses, whose
/// cosignatures `service`'s log keeps and serves back.
pub(crate) fn cosigners(data_dir: &Path, service: &str) -> Result<Vec<String>, StackError> {
    let others = ["governance", "budget", "grants"].into_iter();
    others
        .filter(|other| *other != service)
        .map(|other| {
            let path = witness_public_path(data_dir, other);
            std::fs::read_to_string(&path)
                .map(|key| key.trim().to_owned())
                .map_err(|e| StackError::Demo(format!("{}: {e}", path.display())))
        })
        .collect()
}
