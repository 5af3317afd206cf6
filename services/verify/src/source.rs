//! Where the verifier reads a log: a service's platform RPCs, through the
//! gateway or directly, over any channel the caller opens.

use std::time::Duration;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::common::v1::AuditRecord;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_proto::{budget, governance, grants};
use aimaq_tlog::Hash;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::checks::{FeedEvent, Finding, hashes};

/// Pages of a results bundle read at most: a million stations at the
/// service's largest page.
const MAX_BUNDLE_PAGES: usize = 1_000;

/// A service whose log is verified.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Governance,
    Budget,
    Grants,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Call(#[from] tonic::Status),
    #[error(transparent)]
    Finding(#[from] Finding),
    #[error("the service's answer lacks {0}")]
    Missing(&'static str),
}

/// What `GetCheckpoint` answers: the latest checkpoint, and the latest
/// checkpoint each witness the log accepts cosigned.
#[derive(Debug, Clone)]
pub struct ServedCheckpoints {
    pub latest: String,
    pub cosigned: Vec<String>,
}

/// One service's log over gRPC.
#[derive(Clone)]
pub struct GrpcLog {
    pub channel: Channel,
    pub service: Service,
    /// `Bearer <token>`; checkpoints and proofs need any token, records the
    /// `audit` scope, change events a read scope.
    pub authorization: Option<MetadataValue<Ascii>>,
    pub timeout: Duration,
}

macro_rules! call {
    ($log:expr, $method:ident, $request:ident { $($field:ident: $value:expr),* $(,)? }) => {{
        let log = $log;
        match log.service {
            Service::Governance => GovernanceServiceClient::new(log.channel.clone())
                .$method(log.request(governance::v1::$request { $($field: $value),* }))
                .await
                .map(tonic::Response::into_inner)
                .map(Answer::Governance),
            Service::Budget => BudgetServiceClient::new(log.channel.clone())
                .$method(log.request(budget::v1::$request { $($field: $value),* }))
                .await
                .map(tonic::Response::into_inner)
                .map(Answer::Budget),
            Service::Grants => GrantsServiceClient::new(log.channel.clone())
                .$method(log.request(grants::v1::$request { $($field: $value),* }))
                .await
                .map(tonic::Response::into_inner)
                .map(Answer::Grants),
        }
    }};
}

/// A response of one of the three packages.
enum Answer<G, B, R> {
    Governance(G),
    Budget(B),
    Grants(R),
}

impl<T> Answer<T, T, T> {
    fn into_inner(self) -> T {
        match self {
            Answer::Governance(t) | Answer::Budget(t) | Answer::Grants(t) => t,
        }
    }
}

macro_rules! same {
    ($answer:expr, |$value:ident| $body:expr) => {
        match $answer {
            Answer::Governance($value) => Answer::Governance($body),
            Answer::Budget($value) => Answer::Budget($body),
            Answer::Grants($value) => Answer::Grants($body),
        }
        .into_inner()
    };
}

impl GrpcLog {
    /// A certified election's results bundle, from governance (a read scope).
    /// Every page of it, joined (see [`crate::results::join_pages`]).
    pub async fn results_bundle(
        &self,
        election: &str,
    ) -> Result<governance::v1::ElectionResultsBundle, SourceError> {
        let mut client = GovernanceServiceClient::new(self.channel.clone());
        let mut pages = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = governance::v1::GetElectionResultsBundleRequest {
                election: election.to_owned(),
                page_token: page_token.clone(),
                ..Default::default()
            };
            let answer = client
                .get_election_results_bundle(self.request(request))
                .await?
                .into_inner();
            pages.push(answer.bundle.ok_or(SourceError::Missing("bundle"))?);
            if answer.next_page_token.is_empty() {
                break;
            }
            if answer.next_page_token == page_token || pages.len() >= MAX_BUNDLE_PAGES {
                return Err(Finding::Malformed(format!(
                    "the bundle's pages do not end ({} read)",
                    pages.len()
                ))
                .into());
            }
            page_token = answer.next_page_token;
        }
        Ok(crate::results::join_pages(pages)?)
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        request
    }

    /// The latest signed checkpoint, as a note.
    pub async fn checkpoint(&self) -> Result<String, SourceError> {
        Ok(self.checkpoints().await?.latest)
    }

    /// The latest signed checkpoint with the cosigned ones the log serves
    /// back: notes, unchecked.
    pub async fn checkpoints(&self) -> Result<ServedCheckpoints, SourceError> {
        let answer = call!(self, get_checkpoint, GetCheckpointRequest {})?;
        let (latest, cosigned) = same!(answer, |a| (a.checkpoint, a.cosigned));
        Ok(ServedCheckpoints {
            latest: latest.ok_or(SourceError::Missing("checkpoint"))?.note,
            cosigned: cosigned.into_iter().map(|c| c.note).collect(),
        })
    }

    /// Hands a cosigned checkpoint back to its log; the witnesses it kept.
    pub async fn add_cosignature(&self, note: &str) -> Result<Vec<String>, SourceError> {
        let answer = call!(
            self,
            add_cosignature,
            AddCosignatureRequest {
                note: note.to_owned()
            }
        )?;
        Ok(same!(answer, |a| a.witnesses))
    }

    /// The consistency proof from `from` to `to` records.
    pub async fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, SourceError> {
        let answer = call!(
            self,
            get_consistency_proof,
            GetConsistencyProofRequest {
                from_size: from,
                to_size: to,
            }
        )?;
        let proof = same!(answer, |a| a.proof).ok_or(SourceError::Missing("proof"))?;
        Ok(hashes(&proof.hashes)?)
    }

    /// The inclusion proof of record `sequence` in the log at `size`.
    pub async fn inclusion(&self, sequence: u64, size: u64) -> Result<Vec<Hash>, SourceError> {
        let answer = call!(
            self,
            get_inclusion_proof,
            GetInclusionProofRequest {
                sequence: sequence,
                tree_size: size,
            }
        )?;
        let proof = same!(answer, |a| a.proof).ok_or(SourceError::Missing("proof"))?;
        Ok(hashes(&proof.hashes)?)
    }

    /// The change events the `records` emitted, read in one stream.
    pub async fn events_of(&self, records: &[AuditRecord]) -> Result<Vec<FeedEvent>, SourceError> {
        let emitting = records.iter().filter(|r| r.change_count > 0);
        let first = emitting.clone().map(|r| r.first_change_sequence).min();
        let last = emitting
            .map(|r| r.first_change_sequence + u64::from(r.change_count) - 1)
            .max();
        match (first, last) {
            (Some(first), Some(last)) => self.events(first, last).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Records after `after`, up to `page` of them, and where the next page
    /// starts (0: none).
    pub async fn records(
        &self,
        after: u64,
        page: i32,
    ) -> Result<(Vec<AuditRecord>, u64), SourceError> {
        let answer = call!(
            self,
            list_audit_records,
            ListAuditRecordsRequest {
                after_sequence: after,
                page_size: page,
                actor: String::new(),
                resource_type: String::new(),
                resource_name: String::new(),
            }
        )?;
        Ok(same!(answer, |a| (a.records, a.next_after_sequence)))
    }

    /// The change events `first..=last` as the feed serves them, in one
    /// stream: those of a page of records at once.
    pub async fn events(&self, first: u64, last: u64) -> Result<Vec<FeedEvent>, SourceError> {
        let mut events = Vec::new();
        let after = first.saturating_sub(1);
        macro_rules! read {
            ($client:ident, $package:ident) => {{
                let mut stream = $client::new(self.channel.clone())
                    .watch_changes(self.request($package::v1::WatchChangesRequest {
                        after_sequence: after,
                        resource_types: Vec::new(),
                    }))
                    .await?
                    .into_inner();
                loop {
                    // A feed that lacks its last event waits for it until the
                    // deadline: what came is then compared, and found short.
                    let message = match stream.message().await {
                        Ok(Some(message)) => message,
                        Ok(None) => break,
                        Err(status) if status.code() == tonic::Code::DeadlineExceeded => break,
                        Err(status) => return Err(status.into()),
                    };
                    let Some(event) = message.event else { continue };
                    let done = event.sequence >= last;
                    if event.sequence <= last {
                        events.push(FeedEvent::from(&event));
                    }
                    if done {
                        break;
                    }
                }
            }};
        }
        if first > 0 && first <= last {
            match self.service {
                Service::Governance => read!(GovernanceServiceClient, governance),
                Service::Budget => read!(BudgetServiceClient, budget),
                Service::Grants => read!(GrantsServiceClient, grants),
            }
        }
        Ok(events)
    }
}
