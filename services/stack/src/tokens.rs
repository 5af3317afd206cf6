//! The development tokens the stack prints: one for each demo agency, signed
//! by the key pair kept in the data directory.

use std::time::Duration;

use aimaq_auth::{DevKeys, Scope, TokenIssuer, TokenSpec};

use crate::{AGENCIES, StackError, StackOptions, StackTls, logkeys};

/// Generates the development key pair and certificates in the data directory
/// on first use and mints a token for each demo agency, bound to its
/// certificate (unless plaintext); the administrator's comes first.
pub fn development_tokens(
    options: &StackOptions,
    tls: &StackTls,
) -> Result<Vec<(&'static str, String)>, StackError> {
    let data_dir = &options.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|source| StackError::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    let keys = DevKeys::load_or_generate(data_dir)?;
    let issuer = TokenIssuer::new(&keys.private_pem, "aimaq", "aimaq")?;
    let mut tokens = Vec::new();
    for agency in AGENCIES {
        let bound_to = match tls.agency(agency.subject) {
            Some(issued) => Some(
                issued
                    .thumbprint()
                    .map_err(|e| StackError::Tls(e.to_string()))?,
            ),
            None => None,
        };
        let scopes = match agency.kato_prefix {
            None => vec![Scope::Admin],
            Some(_) => vec![
                Scope::GovernanceRead,
                Scope::GovernanceWrite,
                Scope::BudgetRead,
                Scope::BudgetWrite,
                Scope::GrantsRead,
                Scope::GrantsWrite,
            ],
        };
        let token = issuer.mint(&TokenSpec {
            subject: agency.subject.into(),
            agency: agency.agency.into(),
            scopes,
            kato_prefix: agency.kato_prefix.map(str::to_owned),
            ttl: Duration::from_secs(options.token_hours * 3600),
            bound_to,
        })?;
        tokens.push((agency.subject, token));
    }
    Ok(tokens)
}

/// The administrator's token (with `--keys-only`: for containers and
/// clusters, which also find the backends' log keys in `data/log-keys`).
pub fn development_token(options: &StackOptions) -> Result<String, StackError> {
    let tls = StackTls::prepare(
        &options.data_dir,
        &options.host.to_string(),
        options.plaintext,
    )?;
    logkeys::log_keys(&options.data_dir)?;
    development_tokens(options, &tls)?
        .into_iter()
        .next()
        .map(|(_, token)| token)
        .ok_or_else(|| StackError::Demo("no administrator".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--keys-only` (for compose and clusters) leaves each backend's log
    /// key and its public key where the containers mount them, and keeps them.
    #[test]
    fn keys_only_makes_the_log_keys() {
        let dir = tempfile::tempdir().unwrap();
        let options = StackOptions::ephemeral(dir.path());
        development_token(&options).unwrap();
        let public = std::fs::read_to_string(dir.path().join("log-keys/budget.pub")).unwrap();
        assert!(public.starts_with("aimaq.local/budget+"), "{public}");
        assert!(dir.path().join("log-keys/governance.key").exists());
        development_token(&options).unwrap();
        let again = std::fs::read_to_string(dir.path().join("log-keys/budget.pub")).unwrap();
        assert_eq!(again, public);
    }
}
