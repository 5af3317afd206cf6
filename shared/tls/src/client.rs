//! The client side: every call from one Aimaq service to another (or from the
//! demo loader, the probe, the trace exporter) goes to an `https://` URL whose
//! server is verified against a CA, with this service's certificate presented
//! when it has one; `http://` only where plaintext is explicitly allowed.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use aimaq_config::files::Reloading;
use http::uri::{Authority, Scheme};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use crate::{TlsError, provider, read_certificates, read_key, read_roots};

/// How this process reaches other servers: TLS settings, and whether plain
/// `http://` is allowed at all.
#[derive(Clone, Default)]
pub struct Outbound {
    pub tls: Option<Arc<ClientTls>>,
    pub allow_plaintext: bool,
}

impl Outbound {
    /// How a process configured so reaches others: servers verified against
    /// `--tls-ca`, `--tls-cert`/`--tls-key` presented, `http://` only with
    /// `--plaintext`.
    pub fn from_config(config: &aimaq_config::TlsConfig) -> Result<Outbound, TlsError> {
        let tls = match &config.tls_ca {
            Some(ca) => {
                let identity = config.tls_cert.clone().zip(config.tls_key.clone());
                Some(Arc::new(ClientTls::load(ca.clone(), identity)?))
            }
            None => None,
        };
        Ok(Outbound {
            tls,
            allow_plaintext: config.plaintext,
        })
    }
}

/// A client's TLS settings, read again when their files change.
pub struct ClientTls(Reloading<Arc<ClientConfig>>);

impl ClientTls {
    /// Servers are verified against `ca`; `identity` (certificate chain and key)
    /// is presented to servers that ask for a client certificate.
    pub fn load(ca: PathBuf, identity: Option<(PathBuf, PathBuf)>) -> Result<ClientTls, TlsError> {
        let mut paths = vec![ca];
        if let Some((cert, key)) = identity {
            paths.extend([cert, key]);
        }
        Reloading::load(paths, |paths| build(paths).map(Arc::new))
            .map(ClientTls)
            .map_err(TlsError::Config)
    }

    fn current(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.0.current().0)
    }
}

fn build(paths: &[PathBuf]) -> Result<ClientConfig, String> {
    let ca = paths.first().ok_or("a CA is needed")?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(read_roots(ca)?);
    let mut config = match paths {
        [_, cert, key] => builder
            .with_client_auth_cert(read_certificates(cert)?, read_key(key)?)
            .map_err(|e| format!("{}: {e}", cert.display()))?,
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// A server to connect to, from its URL.
#[derive(Clone)]
pub struct Target {
    pub authority: Authority,
    host: String,
    tls: Option<Arc<ClientTls>>,
}

impl Target {
    /// `https://host:port` (port 443 when none), or `http://host:port` (port
    /// 80) where `outbound` allows plaintext.
    pub fn parse(url: &str, outbound: &Outbound) -> Result<Target, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
        let host = uri
            .host()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| format!("{url:?} names no host"))?;
        let (tls, default_port) = match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTPS => match &outbound.tls {
                Some(tls) => (Some(Arc::clone(tls)), 443),
                None => {
                    return Err(format!(
                        "{url:?} is https:// but no CA is configured to verify it (--tls-ca)"
                    ));
                }
            },
            Some(scheme) if *scheme == Scheme::HTTP => {
                if !outbound.allow_plaintext {
                    return Err(format!(
                        "{url:?} is plaintext http://; use https://, or allow plaintext explicitly (--plaintext)"
                    ));
                }
                (None, 80)
            }
            _ => return Err(format!("{url:?} is not an https:// URL")),
        };
        let authority = format!("{host}:{}", uri.port_u16().unwrap_or(default_port));
        Ok(Target {
            authority: authority.parse().map_err(|e| format!("{url:?}: {e}"))?,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            tls,
        })
    }

    /// The same server reached at `address` (one replica behind a DNS name):
    /// its certificate is still verified for the name.
    pub fn at(&self, address: std::net::SocketAddr) -> Target {
        Target {
            authority: address
                .to_string()
                .parse()
                .unwrap_or_else(|_| self.authority.clone()),
            host: self.host.clone(),
            tls: self.tls.clone(),
        }
    }

    /// The scheme requests to this server carry.
    pub fn scheme(&self) -> Scheme {
        if self.tls.is_some() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        }
    }

    /// A new connection, through TLS for `https://`.
    pub async fn connect(&self) -> io::Result<Stream> {
        let tcp = TcpStream::connect(self.authority.as_str()).await?;
        tcp.set_nodelay(true)?;
        let Some(tls) = &self.tls else {
            return Ok(Either::Left(tcp));
        };
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let stream = tokio_rustls::TlsConnector::from(tls.current())
            .connect(name, tcp)
            .await?;
        Ok(Either::Right(Box::new(stream)))
    }

    /// A tonic channel to this server over connections made by [`Target::connect`],
    /// connected on first use.
    pub fn channel(&self) -> tonic::transport::Channel {
        let target = self.clone();
        let connector = tower::service_fn(move |_: http::Uri| {
            let target = target.clone();
            async move { target.connect().await.map(TokioIo::new) }
        });
        let uri = format!("{}://{}", self.scheme(), self.authority);
        tonic::transport::Endpoint::from_shared(uri)
            .map(|endpoint| endpoint.connect_with_connector_lazy(connector))
            // The URI is built from parts already parsed.
            .unwrap_or_else(|_| unreachable_channel())
    }
}

/// A channel whose every call fails: never built from a parsed target.
fn unreachable_channel() -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_static("http://0.0.0.0:0").connect_with_connector_lazy(
        tower::service_fn(|_: http::Uri| async {
            Err::<TokioIo<Stream>, io::Error>(io::Error::other("no such server"))
        }),
    )
}

/// A client connection: plain TCP, or TLS.
pub type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn plaintext(allowed: bool) -> Outbound {
        Outbound {
            tls: None,
            allow_plaintext: allowed,
        }
    }

    #[test]
    fn urls_say_how_to_connect() {
        let target = Target::parse("http://budget:50052", &plaintext(true)).unwrap();
        assert_eq!(target.authority, "budget:50052");
        assert_eq!(target.scheme(), Scheme::HTTP);
        assert_eq!(
            Target::parse("http://budget", &plaintext(true))
                .unwrap()
                .authority,
            "budget:80"
        );
        // Plaintext only where allowed; TLS only with a CA to verify against.
        let refused = Target::parse("http://budget:50052", &plaintext(false)).err();
        assert!(refused.is_some_and(|e| e.contains("--plaintext")));
        let refused = Target::parse("https://budget:50052", &plaintext(true)).err();
        assert!(refused.is_some_and(|e| e.contains("--tls-ca")));
        assert!(Target::parse("http://:50052", &plaintext(true)).is_err());
        assert!(Target::parse("budget:50052", &plaintext(true)).is_err());
        assert!(Target::parse("ftp://budget:21", &plaintext(true)).is_err());
        let ipv6 = Target::parse("http://[::1]:50052", &plaintext(true)).unwrap();
        assert_eq!(ipv6.host, "::1");
    }
}
