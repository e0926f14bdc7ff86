//! Axon's own question to the gateway after a run: was a model call refused over the Task's
//! budget? Asked by the Kubernetes Pod's `results` container, which starts once every agent
//! process is gone and holds the Task's gateway token (a file); the answer decides whether the
//! work tree is saved on the WIP branch and the Task ends `BudgetExceeded`.
//!
//! The request goes straight to the gateway's origin (no proxy from the environment: the
//! proxy variables name the same gateway, with credentials this request does not need).

use std::time::Duration;

use axon_api::contract::GATEWAY_RUN_STATE_PATH;
use serde::Deserialize;

/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts before giving up (a gateway restarting answers within them).
const ATTEMPTS: u32 = 3;
/// Pause between attempts.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// What the gateway says of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRun {
    /// The Task's name.
    pub task: String,
    /// The first budget refusal's message (the limit and the figure).
    #[serde(default)]
    pub budget_exceeded: Option<String>,
}

/// Ask the gateway at `origin` (`http://host:port`) about the run of `token`'s Task. The error
/// says why no answer came (never the token).
pub async fn ask(origin: &str, token: &str) -> Result<GatewayRun, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent("axon-results")
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let url = format!("{}{GATEWAY_RUN_STATE_PATH}", origin.trim_end_matches('/'));
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(RETRY_AFTER).await;
        }
        let response = match client.get(&url).bearer_auth(token).send().await {
            Ok(r) => r,
            Err(e) => {
                last = format!("cannot reach the gateway at {url}: {}", e.without_url());
                continue;
            }
        };
        let status = response.status();
        if status.is_server_error() {
            last = format!("the gateway at {url} answered {status}");
            continue;
        }
        if !status.is_success() {
            return Err(format!("the gateway at {url} answered {status}"));
        }
        return response
            .json::<GatewayRun>()
            .await
            .map_err(|e| format!("the gateway's answer is not a run state: {e}"));
    }
    Err(last)
}
