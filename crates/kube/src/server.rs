//! The controller's HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (the process is
//! alive), `/readyz` (it has reached the API server). Binds where configured.

use crate::error::KubeError;
use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Counts Tasks by phase (from the controller's cache) at scrape time.
pub type PhaseCounter = Arc<dyn Fn() -> BTreeMap<String, u64> + Send + Sync>;

/// What the endpoints read.
#[derive(Clone)]
pub struct ServerState {
    pub metrics: Arc<Metrics>,
    pub ready: Arc<AtomicBool>,
    pub phases: PhaseCounter,
}

async fn metrics(State(s): State<ServerState>) -> ([(&'static str, &'static str); 1], String) {
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.metrics.render(&(s.phases)()),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<ServerState>) -> (StatusCode, &'static str) {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// The router (also used by tests with their own listener).
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Bind `addr` and serve until `shutdown` completes.
pub async fn serve(
    addr: &str,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, KubeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| KubeError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    tracing::info!(addr, "serving /metrics, /healthz, /readyz");
    let app = router(state);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "metrics server stopped");
        }
    }))
}
