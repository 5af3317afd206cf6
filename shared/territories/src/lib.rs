//! Territories as the governance service knows them. Budget and grants ask it,
//! on behalf of the caller (whose token they pass on) and within a short
//! deadline, and remember what they learn for a while: codes and their parents
//! change rarely. When governance cannot be asked, the call fails UNAVAILABLE;
//! nothing is guessed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aimaq_auth::OnBehalf;
use aimaq_error::Error;
use aimaq_link::{Backend, BackendChannel, MAX_AGE, Targets};
use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{GetTerritoryRequest, TerritoryKind};
use aimaq_tls::Outbound;
use aimaq_types::Kato;
use tonic::Code;

/// How long a territory is remembered.
const REMEMBER: Duration = Duration::from_secs(600);
/// The longest budget waits for governance.
const DEADLINE: Duration = Duration::from_secs(2);
/// A territory question is a few dozen bytes; nothing larger is sent.
const REQUEST_BYTES: usize = 4096;

/// What budget needs to know of a territory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerritoryFacts {
    pub kato: Kato,
    pub parent: Option<Kato>,
    pub kind: TerritoryKind,
    pub rural: bool,
    /// The first and last years the territory existed under its code (`None`:
    /// no bound recorded).
    pub years: (Option<i32>, Option<i32>),
    /// Its name in the languages governance has it in; reports print it.
    pub name: LocalizedText,
}

impl TerritoryFacts {
    /// Whether the territory existed under its code on some day of `year`:
    /// money of a year goes only to territories of that year.
    pub fn existed_in(&self, year: i32) -> bool {
        self.years.0.is_none_or(|from| from <= year) && self.years.1.is_none_or(|to| to >= year)
    }

    /// A place people live in, where projects are built and standards are met.
    pub fn is_settlement(&self) -> bool {
        matches!(
            self.kind,
            TerritoryKind::Village
                | TerritoryKind::Settlement
                | TerritoryKind::CityOfDistrictSignificance
        )
    }
}

pub struct TerritoryDirectory {
    client: GovernanceServiceClient<BackendChannel>,
    remembered: Mutex<HashMap<Kato, (Instant, TerritoryFacts)>>,
}

impl TerritoryDirectory {
    /// A directory asking the governance service at `targets` (its URLs, or
    /// `dns://host:port` for every replica behind a name), through the one
    /// outbound client stack: balanced, retried when a read surely did not
    /// run, carrying the trace; nothing is connected yet.
    pub async fn connect(targets: &str, outbound: &Outbound) -> Result<TerritoryDirectory, Error> {
        let governance = async {
            let targets: Targets = targets.parse()?;
            Backend::new("governance", &targets, outbound, 1, MAX_AGE, REQUEST_BYTES).await
        };
        let governance = governance
            .await
            .map_err(|e| Error::internal(format!("governance URL: {e}")))?;
        Ok(TerritoryDirectory {
            client: GovernanceServiceClient::new(BackendChannel(governance)),
            remembered: Mutex::default(),
        })
    }

    /// The territory, asked with the caller's credentials.
    pub async fn facts(&self, kato: Kato, caller: &OnBehalf) -> Result<TerritoryFacts, Error> {
        if let Ok(remembered) = self.remembered.lock()
            && let Some((since, facts)) = remembered.get(&kato)
            && since.elapsed() < REMEMBER
        {
            return Ok(facts.clone());
        }
        let mut request = tonic::Request::new(GetTerritoryRequest {
            kato: kato.to_string(),
            include_ancestors: false,
        });
        caller.apply(request.metadata_mut());
        request.set_timeout(DEADLINE);
        // The deadline covers the retries the stack may make.
        let mut client = self.client.clone();
        let answer = tokio::time::timeout(DEADLINE, client.get_territory(request))
            .await
            .unwrap_or_else(|_| {
                Err(tonic::Status::deadline_exceeded(
                    "governance did not answer in time",
                ))
            });
        let answer = answer.map_err(|status| match status.code() {
            Code::NotFound => Error::not_found("territory", format!("territories/{kato}")),
            Code::PermissionDenied | Code::Unauthenticated => Error::PermissionDenied(format!(
                "checking territory {kato} with the governance service was refused: {}",
                status.message()
            )),
            _ => {
                tracing::warn!(code = ?status.code(), message = status.message(), "governance service unavailable");
                Error::Unavailable("the governance service cannot be asked about territories now; retry".into())
            }
        })?;
        let territory = answer
            .into_inner()
            .territory
            .ok_or_else(|| Error::internal("governance answered without a territory"))?;
        let parent = if territory.parent_kato.is_empty() {
            None
        } else {
            Some(Kato::parse(&territory.parent_kato).map_err(Error::internal)?)
        };
        let facts = TerritoryFacts {
            kato,
            parent,
            kind: territory.kind(),
            rural: territory.rural,
            years: (
                territory.valid_from.map(|date| date.year),
                territory.valid_to.map(|date| date.year),
            ),
            name: territory.name.unwrap_or_default(),
        };
        if let Ok(mut remembered) = self.remembered.lock() {
            remembered.insert(kato, (Instant::now(), facts.clone()));
        }
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::Duration;

    use aimaq_proto::governance::v1::{GetTerritoryResponse, Territory};
    use aimaq_testing::stub::GetTerritoryStub;

    use super::*;

    /// Answers every territory as a village of Turkestan region.
    fn villages() -> GetTerritoryStub {
        GetTerritoryStub::new(|request| {
            Ok(tonic::Response::new(GetTerritoryResponse {
                territory: Some(Territory {
                    kato: request.into_inner().kato,
                    parent_kato: "610000000".into(),
                    kind: TerritoryKind::Village as i32,
                    rural: true,
                    ..Territory::default()
                }),
                ancestors: Vec::new(),
            }))
        })
    }

    /// A governance server closing every connection after a short age (far
    /// shorter than the directory's connections live) cuts the calls still on
    /// it; the directory asks again on a new connection, and no check fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_survive_governance_recycling_connections() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .max_connection_age(Duration::from_millis(300))
                .max_connection_age_grace(Duration::from_millis(300))
                .add_service(villages())
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        let plaintext = Outbound {
            tls: None,
            allow_plaintext: true,
        };
        let url = format!("http://{address}");
        let directory = Arc::new(TerritoryDirectory::connect(&url, &plaintext).await.unwrap());
        let token = OnBehalf {
            authorization: "Bearer test".parse().unwrap(),
            certificate: "none".parse().unwrap(),
        };
        let callers: Vec<_> = (0..16u32)
            .map(|caller| {
                let (directory, token) = (Arc::clone(&directory), token.clone());
                tokio::spawn(async move {
                    let until = Instant::now() + Duration::from_secs(3);
                    let mut failures = Vec::new();
                    // A new code each time, so that none is answered from memory.
                    for n in 0u32.. {
                        if Instant::now() >= until {
                            break;
                        }
                        let kato = Kato::parse(&format!("61{:07}", caller * 100_000 + n % 100_000))
                            .unwrap();
                        if let Err(error) = directory.facts(kato, &token).await {
                            failures.push(error);
                        }
                    }
                    failures
                })
            })
            .collect();
        let mut failures = Vec::new();
        for caller in callers {
            failures.extend(caller.await.unwrap());
        }
        assert!(
            failures.is_empty(),
            "{} checks failed: {:?}",
            failures.len(),
            failures.first()
        );
    }
}
