//! One connection to the gateway, and the metadata every call carries: the
//! token, the caller's language and a deadline.

use std::time::Duration;

use aimaq_tls::{ClientTls, Outbound, Target};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::CliError;
use crate::settings::Settings;

/// The variable a token may be given in.
pub const TOKEN_VARIABLE: &str = "AIMAQ_TOKEN";

pub struct Connection {
    pub channel: Channel,
    pub endpoint: String,
    token: Option<String>,
    language: String,
    timeout: Duration,
}

impl Connection {
    /// A channel to the gateway (connected on first use).
    pub fn open(args: &Settings) -> Result<Connection, CliError> {
        let plaintext = args.endpoint.starts_with("http://");
        let tls = if plaintext {
            None
        } else {
            let ca = args.ca.clone().ok_or_else(|| {
                CliError::Usage(
                    "give the CA of the gateway's certificate: --ca PATH or AIMAQ_CA (the stack's is data/tls/ca.pem)"
                        .into(),
                )
            })?;
            let identity = args.identity.clone();
            let tls = ClientTls::load(ca, identity)
                .map_err(|error| CliError::Usage(format!("TLS: {error}")))?;
            Some(std::sync::Arc::new(tls))
        };
        let outbound = Outbound {
            tls,
            allow_plaintext: plaintext,
        };
        let target = Target::parse(&args.endpoint, &outbound).map_err(CliError::Usage)?;
        Ok(Connection {
            channel: target.channel(),
            endpoint: args.endpoint.clone(),
            token: token(args)?,
            language: args.language.clone(),
            timeout: args.timeout,
        })
    }

    /// `message` as a call: with the token, the language and the deadline.
    pub fn request<T>(&self, message: T) -> Result<tonic::Request<T>, CliError> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        self.add_metadata(&mut request)?;
        Ok(request)
    }

    /// `message` as a long-lived call (a feed): no deadline.
    pub fn stream_request<T>(&self, message: T) -> Result<tonic::Request<T>, CliError> {
        let mut request = tonic::Request::new(message);
        self.add_metadata(&mut request)?;
        Ok(request)
    }

    /// The `authorization` header's value, when there is a token.
    pub fn authorization(&self) -> Result<Option<MetadataValue<Ascii>>, CliError> {
        self.token
            .as_ref()
            .map(|token| {
                MetadataValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| CliError::Usage("the token is not printable text".into()))
            })
            .transpose()
    }

    /// The deadline of each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn add_metadata<T>(&self, request: &mut tonic::Request<T>) -> Result<(), CliError> {
        let authorization = self.authorization()?;
        let metadata = request.metadata_mut();
        if let Some(value) = authorization {
            metadata.insert("authorization", value);
        }
        let language = MetadataValue::try_from(self.language.as_str())
            .map_err(|_| CliError::Usage("--language: kk, ru or en".into()))?;
        metadata.insert("accept-language", language);
        Ok(())
    }
}

/// The token from `--token-file`, or the `AIMAQ_TOKEN` variable.
fn token(args: &Settings) -> Result<Option<String>, CliError> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path).map_err(|error| {
            CliError::Usage(format!("--token-file {}: {error}", path.display()))
        })?;
        return Ok(Some(text.trim().to_string()));
    }
    Ok(std::env::var(TOKEN_VARIABLE)
        .ok()
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty()))
}
