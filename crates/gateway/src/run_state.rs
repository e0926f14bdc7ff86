//! `GET /axon/v1/run`: what the gateway knows of the caller's run — whether a model call was
//! refused over the budget, and the usage measured so far — for Axon's own containers.
//!
//! Why: on Kubernetes the gateway runs apart from the Pod, and the Pod's `results` container
//! (Axon's, started after every agent process is gone) must know whether the run was stopped
//! over its budget, to save the work tree on the WIP branch and end the Task `BudgetExceeded`.
//! It asks here with the Task's gateway token, the one credential it holds. The answer is about
//! the token's own Task only, and never holds a credential; an agent asking learns nothing it
//! could not see (the refusal was sent to it).

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};

use crate::api_error::api_error;
use crate::body::{self, Body};
use crate::gateway::Gateway;
use crate::model_proxy::{UNKNOWN_TOKEN, resolve};

/// The path of the run-state endpoint.
pub const RUN_STATE_PATH: &str = axon_api::contract::GATEWAY_RUN_STATE_PATH;

/// The answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunState {
    /// The Task's name.
    pub task: String,
    /// The message of the first model call refused over the budget (the limit and the figure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_exceeded: Option<String>,
    /// Model requests measured so far.
    #[serde(default)]
    pub requests: u64,
    /// Turns (generation calls answered) measured so far.
    #[serde(default)]
    pub turns: u64,
}

/// Whether a request is for this endpoint.
pub fn is_run_state(req: &Request<Incoming>) -> bool {
    req.uri().path() == RUN_STATE_PATH
}

/// Serves the endpoint.
pub async fn handle(gateway: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::GET {
        return api_error(
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "Axon gateway: the run state is read with GET",
        );
    }
    let Some(grant) = resolve(&gateway, req.headers(), req.uri().query()).await else {
        return api_error(None, StatusCode::UNAUTHORIZED, UNKNOWN_TOKEN);
    };
    let state = gateway.task(&grant.task);
    let totals = state.usage();
    let answer = RunState {
        task: grant.task.name.clone(),
        budget_exceeded: state.budget_refusal(),
        requests: totals.requests,
        turns: totals.turns,
    };
    let value = serde_json::to_value(&answer).unwrap_or_default();
    body::json(StatusCode::OK, &value)
}
