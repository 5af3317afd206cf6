//! A witness of other services' audit logs. Every interval it fetches each
//! witnessed log's signed checkpoint, checks its signature and that it
//! extends the last checkpoint it cosigned (RFC 9162 consistency proof), then
//! cosigns it (C2SP `tlog-cosignature/v1`), appends it, cosigned, to its file
//! (a line of JSON each, which an operator can ship elsewhere and from which
//! the witness remembers what it saw across restarts), and hands it back to
//! the log (`AddCosignature`), which serves it with its checkpoint; one the
//! log did not take is offered again each round until it does. A
//! checkpoint that does not extend the last one (a rollback, a fork,
//! rewritten history) is not cosigned: it is an alert (log,
//! `aimaq_witness_alerts_total`) and the witnessed log's health name turns
//! NOT_SERVING.

mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aimaq_tlog::{Note, NoteSigner, NoteVerifier};
use aimaq_verify::{Finding, GrpcLog, Service, SourceError, open_checkpoint};
use tokio::sync::watch;

pub use aimaq_verify::witnessed::{Witnessed, read_witnessed};

/// Why the witness cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("--witness-key {path}: {message}")]
    Key { path: String, message: String },
    #[error("--witness-peer {peer:?}: {message}")]
    Peer { peer: String, message: String },
    #[error("--witness-file {path}: {message}")]
    File { path: String, message: String },
}

/// One log this service witnesses.
pub struct Peer {
    pub service: Service,
    pub url: String,
    pub key: NoteVerifier,
    /// The health name of the witnessed log: `aimaq.witness/<origin>`.
    pub health_name: &'static str,
}

impl Peer {
    /// Reads `SERVICE URL KEY` (as `budget https://budget:50052
    /// aimaq.gov.kz/budget+1234abcd+AbC…`).
    pub fn parse(text: &str) -> Result<Peer, WitnessError> {
        let refuse = |message: &str| WitnessError::Peer {
            peer: text.to_owned(),
            message: message.to_owned(),
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [service, url, key] = parts[..] else {
            return Err(refuse("SERVICE URL KEY, separated by spaces"));
        };
        let service = match service {
            "governance" => Service::Governance,
            "budget" => Service::Budget,
            "grants" => Service::Grants,
            _ => return Err(refuse("the service is governance, budget or grants")),
        };
        let key = NoteVerifier::parse(key).map_err(|e| refuse(&e.to_string()))?;
        // A few names, made once at start, live as long as the process.
        let health_name: &'static str =
            Box::leak(format!("aimaq.witness/{}", key.name()).into_boxed_str());
        Ok(Peer {
            service,
            url: url.to_owned(),
            key,
            health_name,
        })
    }
}

/// What each witnessed log was handed back (by origin): the tree size of
/// the cosigned checkpoint last offered, and whether the log took it.
#[derive(Default)]
struct HandBacks(HashMap<String, (u64, bool)>);

impl HandBacks {
    /// Gives the cosigned checkpoint to the log, which serves it back with
    /// its checkpoint, unless the log took it already. One the log does not
    /// take (not configured to accept this witness, or unreachable) is
    /// offered again every round until it does; only the first refusal of
    /// each is a warning.
    async fn offer(&mut self, log: &GrpcLog, latest: &Witnessed) {
        let before = self.0.get(&latest.origin).copied();
        if before == Some((latest.tree_size, true)) {
            return;
        }
        let taken = match log.add_cosignature(&latest.note).await {
            Ok(_) => true,
            Err(error) if before == Some((latest.tree_size, false)) => {
                tracing::debug!(origin = %latest.origin, tree_size = latest.tree_size, %error, "the witnessed log still does not take the cosignature");
                false
            }
            Err(error) => {
                tracing::warn!(origin = %latest.origin, tree_size = latest.tree_size, %error, "the witnessed log did not take the cosignature; offering it again every round");
                false
            }
        };
        self.0
            .insert(latest.origin.clone(), (latest.tree_size, taken));
    }
}

/// The witness, as configured.
pub struct Witness {
    pub signer: NoteSigner,
    pub peers: Vec<Peer>,
    pub file: PathBuf,
    pub token_file: Option<PathBuf>,
    pub interval: Duration,
    pub outbound: aimaq_tls::Outbound,
    /// Whether each witnessed log holds (by health name), for the health check.
    pub health: Arc<Mutex<HashMap<&'static str, bool>>>,
}

impl Witness {
    /// The witness of `config`, or `None` when it names no key.
    pub fn from_config(
        config: &aimaq_config::WitnessConfig,
        outbound: aimaq_tls::Outbound,
    ) -> Result<Option<Witness>, WitnessError> {
        let Some(path) = &config.witness_key else {
            return Ok(None);
        };
        let key_error = |message: String| WitnessError::Key {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| key_error(e.to_string()))?;
        let signer = NoteSigner::parse(&text).map_err(|e| key_error(e.to_string()))?;
        let peers = config
            .witness_peers
            .iter()
            .map(|peer| Peer::parse(peer))
            .collect::<Result<Vec<_>, _>>()?;
        let file = config
            .witness_file
            .clone()
            .ok_or_else(|| WitnessError::File {
                path: String::new(),
                message: "a witness needs --witness-file for what it cosigns".into(),
            })?;
        let health = peers.iter().map(|peer| (peer.health_name, true)).collect();
        Ok(Some(Witness {
            signer,
            peers,
            file,
            token_file: config.witness_token_file.clone(),
            interval: config.witness_interval,
            outbound,
            health: Arc::new(Mutex::new(health)),
        }))
    }

    /// The health names of the witnessed logs.
    pub fn health_names(&self) -> Vec<&'static str> {
        self.peers.iter().map(|peer| peer.health_name).collect()
    }

    /// Watches every peer each interval until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut seen = match read_witnessed(&self.file) {
            Ok(seen) => seen,
            Err(error) => {
                tracing::error!(file = %self.file.display(), %error, "the witness file cannot be read; witnessing from nothing");
                HashMap::new()
            }
        };
        let mut handed = HandBacks::default();
        loop {
            for peer in &self.peers {
                self.round(peer, &mut seen, &mut handed).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// One look at one peer's log.
    async fn round(
        &self,
        peer: &Peer,
        seen: &mut HashMap<String, Witnessed>,
        handed: &mut HandBacks,
    ) {
        let origin = peer.key.name().to_owned();
        // A client that cannot be made (an unreadable token) is this
        // witness's own trouble, not the log's: no alert.
        let log = match self.log(peer) {
            Ok(log) => log,
            Err(error) => {
                tracing::warn!(%origin, %error, "the witnessed log could not be read this round");
                return;
            }
        };
        match self.check(&log, peer, seen.get(&origin)).await {
            Ok(Some(witnessed)) => {
                if let Err(error) = state::append(&self.file, &witnessed) {
                    tracing::error!(file = %self.file.display(), %error, "keeping a cosigned checkpoint");
                }
                seen.insert(origin.clone(), witnessed);
                self.set_health(peer, true);
            }
            Ok(None) => self.set_health(peer, true),
            Err(SourceError::Finding(finding)) => {
                metrics::counter!("aimaq_witness_alerts_total", "origin" => origin.clone())
                    .increment(1);
                tracing::error!(%origin, %finding, "ALERT: a witnessed audit log does not extend the checkpoint this witness cosigned");
                self.set_health(peer, false);
                return;
            }
            Err(error) => {
                tracing::warn!(%origin, %error, "the witnessed log could not be read this round");
                return;
            }
        }
        // The checkpoint just cosigned, or one an earlier round (or an
        // earlier run of this witness) could not hand back: a log that
        // takes no more writes still comes to serve its latest cosignature.
        if let Some(latest) = seen.get(&origin) {
            handed.offer(&log, latest).await;
        }
    }

    /// The peer's current checkpoint, cosigned, when it is new and extends
    /// the last seen; `None` when nothing changed.
    async fn check(
        &self,
        log: &GrpcLog,
        peer: &Peer,
        last: Option<&Witnessed>,
    ) -> Result<Option<Witnessed>, SourceError> {
        let note = log.checkpoint().await?;
        let current = open_checkpoint(&note, &peer.key, &[])?;
        if let Some(last) = last {
            let last = last.checkpoint()?;
            if last == current.checkpoint {
                return Ok(None);
            }
            let proof = if last.size < current.checkpoint.size {
                log.consistency(last.size, current.checkpoint.size).await?
            } else {
                Vec::new()
            };
            aimaq_verify::checks::check_extends(&last, &current.checkpoint, &proof)?;
        }
        let parsed = Note::parse(&note).map_err(|e| Finding::Malformed(e.to_string()))?;
        let line = self
            .signer
            .signature_line(&parsed.text)
            .map_err(|e| Finding::Malformed(e.to_string()))?;
        let cosigned = parsed
            .with_signature(&line)
            .map_err(|e| Finding::Malformed(e.to_string()))?;
        Ok(Some(Witnessed::of(&current.checkpoint, cosigned)))
    }

    fn log(&self, peer: &Peer) -> Result<GrpcLog, SourceError> {
        let target = aimaq_tls::Target::parse(&peer.url, &self.outbound)
            .map_err(|e| Finding::Malformed(format!("{}: {e}", peer.url)))?;
        let authorization = match &self.token_file {
            Some(path) => {
                let token = std::fs::read_to_string(path)
                    .map_err(|e| Finding::Malformed(format!("--witness-token-file: {e}")))?;
                Some(
                    format!("Bearer {}", token.trim())
                        .parse()
                        .map_err(|_| Finding::Malformed("the witness token is not text".into()))?,
                )
            }
            None => None,
        };
        Ok(GrpcLog {
            channel: target.channel(),
            service: peer.service,
            authorization,
            timeout: Duration::from_secs(10),
        })
    }

    fn set_health(&self, peer: &Peer, holds: bool) {
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(peer.health_name, holds);
    }
}
