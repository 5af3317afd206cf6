//! The connection's settings resolved: each from its flag or variable, else
//! the configuration file, else its default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::CliError;
use crate::args::ConnectionArgs;

const DEFAULT_ENDPOINT: &str = "https://localhost:50050";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a configuration file may say.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    endpoint: Option<String>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    token_file: Option<PathBuf>,
    language: Option<String>,
    timeout: Option<String>,
}

/// The settings a connection is opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub endpoint: String,
    pub ca: Option<PathBuf>,
    pub identity: Option<(PathBuf, PathBuf)>,
    pub token_file: Option<PathBuf>,
    pub language: String,
    pub timeout: Duration,
}

impl Settings {
    pub fn resolve(args: &ConnectionArgs) -> Result<Settings, CliError> {
        let file = match &args.config {
            Some(path) => read(path)?,
            None => match default_path().filter(|p| p.is_file()) {
                Some(path) => read(&path)?,
                None => File::default(),
            },
        };
        Settings::merge(args.clone(), file)
    }

    fn merge(args: ConnectionArgs, file: File) -> Result<Settings, CliError> {
        let cert = args.cert.or(file.cert);
        let key = args.key.or(file.key);
        let identity = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(CliError::Usage(
                    "a client certificate needs its key: give both cert and key".into(),
                ));
            }
        };
        let timeout = match (args.timeout, file.timeout) {
            (Some(timeout), _) => timeout,
            (None, Some(text)) => aimaq_config::parse_duration(&text).map_err(|error| {
                CliError::Usage(format!("timeout in the configuration: {error}"))
            })?,
            (None, None) => DEFAULT_TIMEOUT,
        };
        Ok(Settings {
            endpoint: args
                .endpoint
                .or(file.endpoint)
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            ca: args.ca.or(file.ca),
            identity,
            token_file: args.token_file.or(file.token_file),
            language: args
                .language
                .or(file.language)
                .unwrap_or_else(|| "en".to_string()),
            timeout,
        })
    }
}

fn default_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(Path::new(&home).join(".config/aimaq/config.yaml"))
}

fn read(path: &Path) -> Result<File, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| CliError::Usage(format!("{}: {error}", path.display())))?;
    serde_yaml_ng::from_str(&text)
        .map_err(|error| CliError::Usage(format!("{}: {error}", path.display())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args() -> ConnectionArgs {
        ConnectionArgs {
            config: None,
            endpoint: None,
            ca: None,
            cert: None,
            key: None,
            token_file: None,
            language: None,
            timeout: None,
        }
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let file: File = serde_yaml_ng::from_str(
            "endpoint: https://gateway.example.kz:443\nca: /etc/aimaq/ca.pem\ncert: c.pem\nkey: k.pem\nlanguage: ru\ntimeout: 5s\n",
        )
        .unwrap();
        let flags = ConnectionArgs {
            language: Some("kk".into()),
            ..args()
        };
        let settings = Settings::merge(flags, file).unwrap();
        assert_eq!(settings.endpoint, "https://gateway.example.kz:443");
        assert_eq!(settings.language, "kk");
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(settings.identity, Some(("c.pem".into(), "k.pem".into())));

        let defaults = Settings::merge(args(), File::default()).unwrap();
        assert_eq!(defaults.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(defaults.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn a_certificate_without_its_key_and_unknown_settings_are_refused() {
        let half = ConnectionArgs {
            cert: Some("c.pem".into()),
            ..args()
        };
        assert!(Settings::merge(half, File::default()).is_err());
        assert!(serde_yaml_ng::from_str::<File>("endpont: x\n").is_err());
    }
}
