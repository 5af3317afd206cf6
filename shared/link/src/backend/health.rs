//! Whether a backend can be reached: each endpoint is asked for its overall
//! health (which a backend reports NOT_SERVING while its database does not
//! answer); an endpoint that does not answer SERVING is passed over until it
//! does.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::LinkService;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::Backend;

/// The longest an endpoint's health check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

impl Backend {
    /// Checks every endpoint now; true when at least one answers SERVING.
    pub async fn check_endpoints(&self) -> bool {
        let connections = self.current();
        let mut checked: Vec<&str> = Vec::new();
        let mut checks = Vec::new();
        for connection in connections.iter() {
            // Connections to one endpoint share its health flag: check one.
            if checked.contains(&connection.url.as_str()) {
                continue;
            }
            checked.push(&connection.url);
            let link = Arc::clone(&connection.link);
            let healthy = Arc::clone(&connection.healthy);
            let url = connection.url.clone();
            let name = self.name;
            checks.push(async move {
                let serving = endpoint_serves(link).await;
                if healthy.swap(serving, Ordering::Relaxed) != serving {
                    if serving {
                        tracing::info!(backend = name, endpoint = %url, "endpoint serving again");
                    } else {
                        tracing::warn!(backend = name, endpoint = %url, "endpoint not serving; passed over");
                    }
                }
                serving
            });
        }
        futures::future::join_all(checks)
            .await
            .into_iter()
            .any(|serving| serving)
    }
}

async fn endpoint_serves(link: Arc<crate::Link>) -> bool {
    let mut request = tonic::Request::new(HealthCheckRequest::default());
    request.set_timeout(CHECK_TIMEOUT);
    let mut client = HealthClient::new(LinkService(link));
    match tokio::time::timeout(CHECK_TIMEOUT, client.check(request)).await {
        Ok(Ok(answer)) => answer.get_ref().status == ServingStatus::Serving as i32,
        _ => false,
    }
}
