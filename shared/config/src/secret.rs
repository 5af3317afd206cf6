//! Settings that hold secrets and never print them: a database URL shows its
//! user, host and database, never its password, in `Debug`, `Display`, logs
//! and errors. Only the code that connects asks for the whole URL.

use std::fmt;

const HIDDEN: &str = "***";
/// Query parameters of a database URL that carry secrets.
const SECRET_PARAMETERS: [&str; 3] = ["password", "sslpassword", "passfile"];

/// A database URL, password redacted whenever shown.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(url.into())
    }

    /// The whole URL, password included: for connecting, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<DatabaseUrl, Self::Err> {
        Ok(DatabaseUrl::new(url))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact_url(&self.0))
    }
}

/// `url` with the password of its user info and secret query parameters
/// replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut redacted = redact_user_info(base);
    if let Some(query) = query {
        redacted.push('?');
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((key, _))
                    if SECRET_PARAMETERS.contains(&key.to_ascii_lowercase().as_str()) =>
                {
                    format!("{key}={HIDDEN}")
                }
                _ => parameter.to_owned(),
            })
            .collect();
        redacted.push_str(&parameters.join("&"));
    }
    redacted
}

fn redact_user_info(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    // The user info ends at the last '@' (a password may contain one).
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return base.to_owned();
    };
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:{HIDDEN}@{host}{path}"),
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url =
            DatabaseUrl::new("postgres://aimaq:s3cr@t@db.internal:5432/aimaq?sslmode=verify-full");
        for shown in [format!("{url}"), format!("{url:?}")] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(
                shown.contains("aimaq:***@db.internal:5432/aimaq?sslmode=verify-full"),
                "{shown}"
            );
        }
        assert!(url.expose().contains("s3cr@t"));
        let query = redact_url("postgres://db/aimaq?user=a&password=hunter2&sslmode=require");
        assert_eq!(
            query,
            "postgres://db/aimaq?user=a&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("sqlite://data/x.sqlite?mode=rwc"),
            "sqlite://data/x.sqlite?mode=rwc"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }

    #[test]
    fn a_whole_server_configuration_prints_no_password() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            server: crate::ServerConfig,
        }
        let cli = Cli::parse_from([
            "svc",
            "--listen",
            "127.0.0.1:1",
            "--database-url",
            "postgres://aimaq:hunter2@db/aimaq",
            "--token-keys",
            "keys",
        ]);
        let shown = format!("{:?}", cli.server);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("aimaq:***@db/aimaq"), "{shown}");
    }
}
