//! Health that tells the truth: a server's services are SERVING only while
//! what they depend on answers (a backend's database, a gateway's backends),
//! checked at a short interval rather than on every call, so that readiness
//! probes take a replica out of its Service while it cannot do its work.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// What a check found: services (by full gRPC name) and whether each can do
/// its work. The name `""` stands for every service not named; a service
/// named nowhere is SERVING.
pub type Verdict = Vec<(&'static str, bool)>;

/// Checks what the server depends on; called again every interval.
pub type HealthCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Verdict> + Send>> + Send + Sync>;

/// The status of `service` under `verdict`.
pub fn serving(verdict: &Verdict, service: &str) -> bool {
    let named = |name: &str| verdict.iter().find(|(n, _)| *n == name).map(|(_, ok)| *ok);
    named(service).or_else(|| named("")).unwrap_or(true)
}

/// Runs `check` every `interval` and reports its verdict, until the server
/// stops it on shutdown (which then reports NOT_SERVING itself).
/// `services` are the server's own; `observed` other names reported but
/// not counted in the server's overall status.
pub(crate) async fn keep_checking(
    name: &'static str,
    check: HealthCheck,
    interval: Duration,
    (services, observed): (Vec<&'static str>, Vec<&'static str>),
    health: HealthReporter,
) {
    let mut last: Option<bool> = None;
    loop {
        let verdict = check().await;
        for observed in &observed {
            let holds = verdict.iter().any(|(n, ok)| n == observed && *ok);
            health.set_service_status(*observed, status(holds)).await;
        }
        for service in &services {
            health
                .set_service_status(*service, status(serving(&verdict, service)))
                .await;
        }
        let all = serving(&verdict, "") && services.iter().all(|s| serving(&verdict, s));
        health.set_service_status("", status(all)).await;
        if last != Some(all) {
            if all {
                tracing::info!(server = name, "SERVING");
            } else {
                tracing::warn!(
                    server = name,
                    ?verdict,
                    "NOT_SERVING: a dependency does not answer"
                );
            }
            last = Some(all);
        }
        tokio::time::sleep(interval).await;
    }
}

fn status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_names_services_or_all_of_them() {
        let verdict = vec![("a", false)];
        assert!(!serving(&verdict, "a"));
        assert!(serving(&verdict, "b"), "a service named nowhere serves");
        let verdict = vec![("", false), ("b", true)];
        assert!(!serving(&verdict, "a"));
        assert!(serving(&verdict, "b"));
    }
}
