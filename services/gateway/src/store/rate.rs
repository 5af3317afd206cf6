//! Rate limits kept in Redis (or Valkey), so that a calling system's limit
//! holds across every gateway replica: one key per caller holding the time
//! its next call is due, moved by one script call per admitted call.

use std::path::Path;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::domain::rate::Gcra;

/// How long one admission may wait for the store before the replica falls
/// back to its own share of the limit.
pub const STORE_TIMEOUT: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct SharedRates {
    connection: ConnectionManager,
    script: redis::Script,
}

/// TLS for `rediss://`: the CA the store's certificate is checked against,
/// and this replica's certificate and key (mutual TLS).
pub struct StoreTls<'a> {
    pub ca: Option<&'a Path>,
    pub identity: Option<(&'a Path, &'a Path)>,
}

impl SharedRates {
    /// The store at `url`; connects on first use and reconnects after a
    /// failure, so a store that is down does not stop the gateway starting.
    pub fn connect(url: &str, tls: StoreTls<'_>) -> Result<SharedRates, String> {
        let client = if url.starts_with("rediss://") {
            let read =
                |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
            let client_tls = match tls.identity {
                Some((cert, key)) => Some(redis::ClientTlsConfig {
                    client_cert: read(cert)?,
                    client_key: read(key)?,
                }),
                None => None,
            };
            let root_cert = tls.ca.map(read).transpose()?;
            redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls,
                    root_cert,
                },
            )
        } else {
            redis::Client::open(url)
        }
        // The URL may hold a password: the error is told without it.
        .map_err(|error| format!("its URL: {:?}", error.kind()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(STORE_TIMEOUT))
            .set_response_timeout(Some(STORE_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| format!("{:?}", error.kind()))?;
        Ok(SharedRates {
            connection,
            script: redis::Script::new(include_str!("rate.lua")),
        })
    }

    /// Admits one call of `caller` under `gcra`: Ok(Ok) admitted, Ok(Err)
    /// the wait, Err when the store did not answer.
    pub async fn admit(
        &self,
        caller: &str,
        gcra: Gcra,
    ) -> Result<Result<(), Duration>, redis::RedisError> {
        let mut connection = self.connection.clone();
        let wait: i64 = self
            .script
            .key(format!("aimaq:rate:{caller}"))
            .arg(gcra.interval)
            .arg(gcra.tolerance)
            .invoke_async(&mut connection)
            .await?;
        Ok(match u64::try_from(wait) {
            Ok(0) | Err(_) => Ok(()),
            Ok(micros) => Err(Duration::from_micros(micros)),
        })
    }
}
