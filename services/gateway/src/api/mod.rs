//! The gateway's own RPCs: views put together from the three backends. The
//! backend calls of one view run concurrently under a deadline derived from the
//! caller's; each section of the answer says whether it could be filled, so one
//! backend down or slow costs only its sections. Only an unknown territory fails
//! a whole view.

mod dashboard;
mod indicators;
mod recent;
mod region;
mod settlement;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aimaq_auth::{Caller, OnBehalf};
use aimaq_error::Error;
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::{ListProgramsRequest, Program};
use aimaq_proto::gateway::v1::gateway_service_server::GatewayService;
use aimaq_proto::gateway::v1::*;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{Election, GetTerritoryRequest, ListElectionsRequest, Territory};
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_types::Kato;
use chrono::Datelike;
use tokio::time::Instant;
use tonic::{Code, Request, Response, Status};

use aimaq_link::BackendChannel;
pub use recent::Bounds;
use recent::RecentAnswers;

/// Pages read at most when a view counts what a list RPC returns.
const MAX_PAGES: usize = 20;
/// Page size asked of list RPCs.
const PAGE_SIZE: i32 = 500;

#[derive(Clone)]
pub struct GatewayApi {
    governance: GovernanceServiceClient<BackendChannel>,
    budget: BudgetServiceClient<BackendChannel>,
    grants: GrantsServiceClient<BackendChannel>,
    /// The longest a view waits for its backends.
    backend_timeout: Duration,
    settlements: Arc<RecentAnswers<GetSettlementProfileResponse>>,
    regions: Arc<RecentAnswers<GetRegionProfileResponse>>,
    dashboards: Arc<RecentAnswers<GetNationalDashboardResponse>>,
}

/// The views' recent answers, shared by the views and the forwarding of
/// writes, which drops what a write may have changed.
#[derive(Clone)]
pub struct Views {
    settlements: Arc<RecentAnswers<GetSettlementProfileResponse>>,
    regions: Arc<RecentAnswers<GetRegionProfileResponse>>,
    dashboards: Arc<RecentAnswers<GetNationalDashboardResponse>>,
}

/// Whether an answer kept under `key` (its territory's code first) may show
/// what a write naming `codes` changed: one is in the other's subtree. A
/// write whose territories are unknown may have changed anything.
fn touched(key: &str, codes: Option<&[String]>) -> bool {
    let Some(codes) = codes.filter(|codes| !codes.is_empty()) else {
        return true;
    };
    let Some(Ok(kept)) = key.get(..Kato::DIGITS).map(Kato::parse) else {
        return true;
    };
    codes.iter().any(|code| match Kato::parse(code) {
        Ok(written) => {
            code.starts_with(&kept.subtree_prefix())
                || kept.to_string().starts_with(&written.subtree_prefix())
        }
        Err(_) => true,
    })
}

impl Views {
    /// Answers younger than `max_age`, within `bounds` for each kind of view.
    pub fn new(max_age: Duration, bounds: Bounds) -> Views {
        Views {
            settlements: Arc::new(RecentAnswers::new(
                max_age,
                bounds,
                prost::Message::encoded_len,
            )),
            regions: Arc::new(RecentAnswers::new(
                max_age,
                bounds,
                prost::Message::encoded_len,
            )),
            dashboards: Arc::new(RecentAnswers::new(
                max_age,
                bounds,
                prost::Message::encoded_len,
            )),
        }
    }

    /// Drops the answers a write naming `codes` (`None`: unknown) may have
    /// changed; a national dashboard sums everything.
    pub fn written(&self, codes: Option<&[String]>) {
        self.settlements.forget(|key| touched(key, codes));
        self.regions.forget(|key| touched(key, codes));
        self.dashboards.forget(|_| true);
    }
}

impl GatewayApi {
    pub fn new(
        governance: BackendChannel,
        budget: BackendChannel,
        grants: BackendChannel,
        backend_timeout: Duration,
        views: &Views,
        max_message_bytes: usize,
    ) -> GatewayApi {
        GatewayApi {
            governance: GovernanceServiceClient::new(governance)
                .max_decoding_message_size(max_message_bytes),
            budget: BudgetServiceClient::new(budget).max_decoding_message_size(max_message_bytes),
            grants: GrantsServiceClient::new(grants).max_decoding_message_size(max_message_bytes),
            backend_timeout,
            settlements: Arc::clone(&views.settlements),
            regions: Arc::clone(&views.regions),
            dashboards: Arc::clone(&views.dashboards),
        }
    }
}

/// The backend calls made for one view: with the caller's token, and within the
/// view's deadline.
#[derive(Clone)]
struct Outgoing {
    on_behalf: OnBehalf,
    deadline: Instant,
}

impl Outgoing {
    /// The deadline is the caller's (or the gateway's limit, if shorter), less a
    /// tenth kept for putting the answer together and sending it.
    fn of<T>(request: &Request<T>, limit: Duration) -> Result<Outgoing, Status> {
        let on_behalf = OnBehalf::of(request)?;
        let asked = aimaq_server::grpc_timeout(request.metadata().as_ref())
            .map_or(limit, |asked| asked.min(limit));
        Ok(Outgoing {
            on_behalf,
            deadline: Instant::now() + asked.mul_f64(0.9),
        })
    }

    /// What an answer may be shared by: the view, its arguments, and the token
    /// (whose scopes decide which sections are filled).
    fn key(&self, view: impl std::fmt::Display) -> String {
        format!(
            "{view}|{}",
            String::from_utf8_lossy(self.on_behalf.token_bytes())
        )
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        self.on_behalf.apply(request.metadata_mut());
        request.set_timeout(self.deadline.saturating_duration_since(Instant::now()));
        request
    }

    /// A backend's answer, or DEADLINE_EXCEEDED when it does not come in time
    /// (a backend that hangs, not only one that refuses connections).
    async fn ask<T>(
        &self,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, Status> {
        match tokio::time::timeout_at(self.deadline, call).await {
            Ok(answer) => answer.map(Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(
                "the backend did not answer within the view's deadline",
            )),
        }
    }
}

/// How a section fared, from a backend's refusal.
fn section_status(status: &Status) -> SectionStatus {
    let state = match status.code() {
        Code::PermissionDenied | Code::Unauthenticated => SectionState::Denied,
        _ => SectionState::Unavailable,
    };
    SectionStatus {
        state: state as i32,
        code: status.code() as i32,
        message: status.message().to_owned(),
    }
}

fn is_ok(status: Option<&SectionStatus>) -> bool {
    status.is_some_and(|s| s.state() == SectionState::Ok)
}

fn section_ok() -> SectionStatus {
    SectionStatus {
        state: SectionState::Ok as i32,
        code: 0,
        message: String::new(),
    }
}

/// The status of a section made of several answers: the first refusal, if any.
fn section_of(results: &[Option<&Status>]) -> SectionStatus {
    results
        .iter()
        .flatten()
        .next()
        .map_or_else(section_ok, |status| section_status(status))
}

/// Every item of a paginated list, `page` being one call for a page token. A
/// list longer than `MAX_PAGES` pages is refused rather than counted in part, so
/// a section is never silently short.
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, Status>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), Status>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    for _ in 0..MAX_PAGES {
        let (page_items, next) = page(token).await?;
        items.extend(page_items);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
    Err(Status::out_of_range(format!(
        "more than {} items: too many for one view",
        items.len()
    )))
}

fn parse_kato(text: &str) -> Result<Kato, Status> {
    aimaq_error::fields::kato("kato", text).map_err(Error::into_status)
}

fn current_year() -> i32 {
    chrono::Utc::now().year()
}

impl GatewayApi {
    /// Every budget programme.
    async fn programs(&self, out: &Outgoing) -> Result<Vec<Program>, Status> {
        all_pages(|page_token| {
            let mut budget = self.budget.clone();
            let request = out.request(ListProgramsRequest {
                page_size: PAGE_SIZE,
                page_token,
                ..ListProgramsRequest::default()
            });
            async move {
                let page = out.ask(budget.list_programs(request)).await?;
                Ok((page.programs, page.next_page_token))
            }
        })
        .await
    }

    /// Every election matching `filter` (its page fields are set here).
    async fn elections(
        &self,
        out: &Outgoing,
        filter: ListElectionsRequest,
    ) -> Result<Vec<Election>, Status> {
        all_pages(|page_token| {
            let mut governance = self.governance.clone();
            let request = out.request(ListElectionsRequest {
                page_size: PAGE_SIZE,
                page_token,
                ..filter.clone()
            });
            async move {
                let page = out.ask(governance.list_elections(request)).await?;
                Ok((page.elections, page.next_page_token))
            }
        })
        .await
    }

    /// The territory and its ancestors; NOT_FOUND fails the view, any other
    /// refusal leaves them out (the view goes on without governance).
    async fn territory(
        &self,
        out: &Outgoing,
        kato: Kato,
    ) -> Result<Result<(Territory, Vec<Territory>), Status>, Status> {
        let answer = out
            .ask(
                self.governance
                    .clone()
                    .get_territory(out.request(GetTerritoryRequest {
                        kato: kato.to_string(),
                        include_ancestors: true,
                    })),
            )
            .await;
        match answer {
            Ok(answer) => match answer.territory {
                Some(territory) => Ok(Ok((territory, answer.ancestors))),
                None => Ok(Err(Status::internal(
                    "governance answered without a territory",
                ))),
            },
            Err(status) if status.code() == Code::NotFound => {
                Err(Error::not_found("territory", format!("territories/{kato}")).into_status())
            }
            Err(status) => Ok(Err(status)),
        }
    }
}

#[tonic::async_trait]
impl GatewayService for GatewayApi {
    async fn get_settlement_profile(
        &self,
        request: Request<GetSettlementProfileRequest>,
    ) -> Result<Response<GetSettlementProfileResponse>, Status> {
        let out = Outgoing::of(&request, self.backend_timeout)?;
        let kato = settlement::check(request.get_ref())?;
        let api = self.clone();
        self.settlements
            .get(out.key(kato), settlement::complete, move || async move {
                api.settlement_profile(&out, kato).await
            })
            .await
            .map(Response::new)
    }

    async fn get_region_profile(
        &self,
        request: Request<GetRegionProfileRequest>,
    ) -> Result<Response<GetRegionProfileResponse>, Status> {
        let out = Outgoing::of(&request, self.backend_timeout)?;
        let (kato, years) = region::check(request.get_ref(), current_year())?;
        let api = self.clone();
        let key = out.key(format!("{kato}|{}|{}", years.0, years.1));
        self.regions
            .get(key, region::complete, move || async move {
                api.region_profile(&out, kato, years).await
            })
            .await
            .map(Response::new)
    }

    async fn get_national_dashboard(
        &self,
        request: Request<GetNationalDashboardRequest>,
    ) -> Result<Response<GetNationalDashboardResponse>, Status> {
        let out = Outgoing::of(&request, self.backend_timeout)?;
        let year = dashboard::check(request.get_ref(), current_year())?;
        let api = self.clone();
        self.dashboards
            .get(out.key(year), dashboard::complete, move || async move {
                Ok(api.national_dashboard(&out, year, current_year()).await)
            })
            .await
            .map(Response::new)
    }

    async fn get_caller_identity(
        &self,
        request: Request<GetCallerIdentityRequest>,
    ) -> Result<Response<GetCallerIdentityResponse>, Status> {
        let caller = Caller::of(&request).map_err(Error::into_status)?;
        Ok(Response::new(GetCallerIdentityResponse {
            subject: caller.subject.clone(),
            agency: caller.agency.clone(),
            scopes: caller.scopes().iter().map(|s| s.to_string()).collect(),
            kato_prefix: caller.kato_prefix().unwrap_or_default().to_string(),
            certificate_subject: caller.certificate_subject().to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_are_read_whole_or_refused() {
        let pages = |count: usize| {
            move |token: String| async move {
                let page: usize = token.parse().unwrap_or(0);
                let next = if page + 1 < count {
                    (page + 1).to_string()
                } else {
                    String::new()
                };
                Ok::<_, Status>((vec![page], next))
            }
        };
        assert_eq!(all_pages(pages(3)).await.unwrap(), [0, 1, 2]);
        assert_eq!(all_pages(pages(MAX_PAGES)).await.unwrap().len(), MAX_PAGES);
        let refused = all_pages(pages(MAX_PAGES + 1)).await.unwrap_err();
        assert_eq!(refused.code(), Code::OutOfRange);
    }

    #[test]
    fn refusals_become_section_states() {
        let denied = section_status(&Status::permission_denied("no budget read scope"));
        assert_eq!(denied.state(), SectionState::Denied);
        assert_eq!(denied.code, Code::PermissionDenied as i32);
        let down = section_status(&Status::unavailable("budget cannot be reached"));
        assert_eq!(down.state(), SectionState::Unavailable);
        assert_eq!(down.message, "budget cannot be reached");
        let slow = section_status(&Status::deadline_exceeded("late"));
        assert_eq!(slow.state(), SectionState::Unavailable);
        assert_eq!(section_of(&[None, None]).state(), SectionState::Ok);
        let first = Status::unavailable("first");
        let second = Status::permission_denied("second");
        assert_eq!(
            section_of(&[None, Some(&first), Some(&second)]).message,
            "first"
        );
    }

    #[test]
    fn a_write_touches_its_subtree_and_its_ancestors_views() {
        let codes = |codes: &[&str]| codes.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        let village = "613633100|token";
        assert!(touched(village, Some(&codes(&["613633100"]))));
        // A write to its rural district (an allocation) or region.
        assert!(touched(village, Some(&codes(&["613633000"]))));
        assert!(touched(village, Some(&codes(&["610000000"]))));
        // A district's view shows its villages.
        assert!(touched(
            "613600000|2024|2026|token",
            Some(&codes(&["613633100"]))
        ));
        // Another village, another district.
        assert!(!touched(village, Some(&codes(&["613633200"]))));
        assert!(!touched(village, Some(&codes(&["611000000", "110000000"]))));
        // Unknown territories: anything may have changed.
        assert!(touched(village, None));
        assert!(touched(village, Some(&[])));
    }
}
