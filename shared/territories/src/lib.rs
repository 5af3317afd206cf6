//! Territories as the governance service knows them. Budget and grants ask it,
//! on behalf of the caller (whose token they pass on) and within a short
//! deadline, and remember what they learn for a while: codes and their parents
//! change rarely. When governance cannot be asked, the call fails UNAVAILABLE;
//! nothing is guessed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aimaq_error::Error;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{GetTerritoryRequest, TerritoryKind};
use aimaq_types::Kato;
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// How long a territory is remembered.
const REMEMBER: Duration = Duration::from_secs(600);
/// The longest budget waits for governance.
const DEADLINE: Duration = Duration::from_secs(2);

/// What budget needs to know of a territory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerritoryFacts {
    pub kato: Kato,
    pub parent: Option<Kato>,
    pub kind: TerritoryKind,
    pub rural: bool,
}

impl TerritoryFacts {
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

/// The caller's bearer token, passed on when a service asks governance on its
/// behalf.
pub fn authorization<T>(request: &tonic::Request<T>) -> Result<&MetadataValue<Ascii>, Error> {
    request
        .metadata()
        .get("authorization")
        .ok_or_else(|| Error::Unauthenticated("missing bearer token".into()))
}

pub struct TerritoryDirectory {
    client: GovernanceServiceClient<Channel>,
    remembered: Mutex<HashMap<Kato, (Instant, TerritoryFacts)>>,
}

impl TerritoryDirectory {
    /// A directory asking the governance service at `url`; it connects on first use.
    pub fn new(url: &str) -> Result<TerritoryDirectory, Error> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| Error::internal(format!("governance URL {url:?}: {e}")))?
            .connect_timeout(DEADLINE)
            .timeout(DEADLINE);
        Ok(TerritoryDirectory {
            client: GovernanceServiceClient::new(endpoint.connect_lazy()),
            remembered: Mutex::default(),
        })
    }

    /// The territory, asked with the caller's `authorization`.
    pub async fn facts(
        &self,
        kato: Kato,
        authorization: &MetadataValue<Ascii>,
    ) -> Result<TerritoryFacts, Error> {
        if let Ok(remembered) = self.remembered.lock()
            && let Some((since, facts)) = remembered.get(&kato)
            && since.elapsed() < REMEMBER
        {
            return Ok(*facts);
        }
        let mut request = tonic::Request::new(GetTerritoryRequest {
            kato: kato.to_string(),
            include_ancestors: false,
        });
        request
            .metadata_mut()
            .insert("authorization", authorization.clone());
        request.set_timeout(DEADLINE);
        aimaq_telemetry::inject_context(request.metadata_mut());
        let answer = self.client.clone().get_territory(request).await.map_err(|status| match status.code() {
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
        };
        if let Ok(mut remembered) = self.remembered.lock() {
            remembered.insert(kato, (Instant::now(), facts));
        }
        Ok(facts)
    }
}
