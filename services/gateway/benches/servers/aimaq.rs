//! The whole system for the benchmarks that measure the gateway in front of
//! real backends: each server in a process of its own.

use aimaq_testing::TestTokens;

use crate::servers::{ServerProcess, TARGET};

/// The three backends on fresh SQLite files (governance seeded with the test
/// territories) and a gateway in front of them, each in a process of its own.
pub struct Aimaq {
    pub governance: ServerProcess,
    pub budget: ServerProcess,
    pub grants: ServerProcess,
    pub gateway: ServerProcess,
}

impl Aimaq {
    pub async fn start(tokens: &TestTokens) -> Aimaq {
        let governance = ServerProcess::start("governance", "governance", &[], tokens).await;
        aimaq_testing::territories::seed(governance.channel().await, tokens, &[]).await;
        let on_governance = [(TARGET, governance.url())];
        let budget = ServerProcess::start("budget", "budget", &on_governance, tokens).await;
        let grants = ServerProcess::start("grants", "grants", &on_governance, tokens).await;
        let backends = format!("{} {} {}", governance.url(), budget.url(), grants.url());
        let gateway =
            ServerProcess::start("gateway", "gateway", &[(TARGET, backends)], tokens).await;
        // The peaks reported are of the load, not of starting and seeding.
        for server in [&governance, &budget, &grants, &gateway] {
            server.forget_peak();
        }
        Aimaq {
            governance,
            budget,
            grants,
            gateway,
        }
    }
}

/// The machine, as a benchmark's heading names it: its CPUs and their model.
pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    format!(
        "{} CPUs, {model}",
        std::thread::available_parallelism().map_or(0, usize::from)
    )
}
