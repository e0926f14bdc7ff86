//! The Task: one agent run on (optionally) a Workspace.

use crate::common::{AgentType, Condition, Credentials, EnvVar, LocalObjectReference};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A Task runs one coding agent, with a prompt, on an optional Workspace, and records what came out.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "axon.io",
    version = "v1alpha1",
    kind = "Task",
    plural = "tasks",
    namespaced,
    derive = "PartialEq",
    status = "TaskStatus",
    shortname = "tk",
    category = "axon",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Model",
        type_ = "string",
        json_path = ".spec.model",
        priority = "1"
    ),
    printcolumn(
        name = "Workspace",
        type_ = "string",
        json_path = ".spec.workspaceRef.name",
        priority = "1"
    ),
    printcolumn(
        name = "Branch",
        type_ = "string",
        json_path = ".status.outputs.branch",
        priority = "1"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    /// Agent type: `claude-code`, `codex`, `gemini` or `opencode`.
    #[serde(rename = "type")]
    pub type_: AgentType,
    /// The prompt given to the agent: not empty or only whitespace, at most 10 MiB.
    #[schemars(length(min = 1, max = 10485760), regex(pattern = crate::rules::NOT_BLANK_PATTERN))]
    pub prompt: String,
    /// The agent's credential (type and Secret).
    pub credentials: Credentials,
    /// Model override (for example `claude-sonnet-4-20250514`); empty means the agent's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Custom agent image (Kubernetes) or executable path (local backend) implementing the
    /// agent image interface; overrides the default image for the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Workspace (git repository) the agent works on. Without one the agent runs in an empty,
    /// ephemeral directory and its files are lost when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_ref: Option<LocalObjectReference>,
    /// AgentConfig (instructions, skills, sub-agents) for the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_config_ref: Option<LocalObjectReference>,
    /// More AgentConfigs, merged in order after `agentConfigRef`: later ones win per field
    /// (plugins by name), instructions (`agentsMD`) are concatenated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub agent_config_refs: Vec<LocalObjectReference>,
    /// Delete the Task this many seconds after it finishes (0: immediately). Unset: keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: Option<i32>,
    /// Fail the Task when the agent runs longer than this many seconds; 0: no timeout. Unset:
    /// the default (config file `timeoutSeconds`, else 4 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub timeout_seconds: Option<i64>,
    /// How many times to retry a failed agent run (default 0: no retry; at most 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub backoff_limit: Option<i32>,
    /// API-compatible model endpoint (a gateway, proxy or self-hosted model) used instead of
    /// the vendor's; translated into each agent's own setting.
    #[serde(
        default,
        rename = "modelBaseURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_base_url: Option<String>,
    /// Extra environment variables for the agent (not for secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Tasks (names in the same namespace) that must succeed before this one starts. The Task
    /// waits Pending with a `Waiting` condition until they all succeeded, and fails at once
    /// when one failed or was deleted. With dependencies, `prompt` and `branch` are Go
    /// templates rendered when the Task starts, with `{{.Deps.<name>.Branch}}`, `.Commits`,
    /// `.PullRequests`, `.FinalAnswer` and `.Usage`. At most 64.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub depends_on: Vec<String>,
    /// The branch the Task works on: created from the Workspace's ref if the remote lacks it,
    /// continued if it exists. Two Tasks on the same repository and branch never run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub branch: Option<String>,
    /// Limits on the Task's model use (`maxCostUSD`, `maxTokens`, `maxTurns`), enforced by the
    /// Axon gateway before each model call; when one is reached the Task fails with reason
    /// `BudgetExceeded` and its work is kept on a WIP branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::budget::Budget>,
    /// The agent's egress: `mode: open` (default) or `restricted` with an `allow` list of hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::network::Network>,
    /// What the agent may do to its repository: `protectedBranches` it may never push (the
    /// base branch always is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::Policy>,
    /// Prices (USD per million tokens) of models, overriding the config file's and the shipped
    /// table for this Task; one entry per model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["model"]))]
    pub pricing: Vec<crate::model_price::ModelPrice>,
}

impl TaskSpec {
    /// The AgentConfigs of the Task in merge order: `agentConfigRef`, then
    /// `agentConfigRefs`, each name once (its first place).
    pub fn agent_config_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let all = self.agent_config_ref.iter().chain(&self.agent_config_refs);
        for r in all {
            if !names.contains(&r.name.as_str()) {
                names.push(&r.name);
            }
        }
        names
    }
}

/// Lifecycle phase of a Task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TaskPhase {
    /// Accepted, waiting to run.
    #[default]
    Pending,
    /// The agent is running.
    Running,
    /// The agent finished successfully.
    Succeeded,
    /// The agent, its workspace or its setup failed; `message` says why.
    Failed,
    /// Stopped on request (`axon cancel`, the `axon.io/cancel-requested` annotation) before it
    /// finished; its work tree is kept on a WIP branch where it could be saved.
    Cancelled,
}

impl TaskPhase {
    /// Whether the Task has finished (Succeeded, Failed or Cancelled).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskPhase::Succeeded | TaskPhase::Failed | TaskPhase::Cancelled
        )
    }

    /// The name used in status and output.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskPhase::Pending => "Pending",
            TaskPhase::Running => "Running",
            TaskPhase::Succeeded => "Succeeded",
            TaskPhase::Failed => "Failed",
            TaskPhase::Cancelled => "Cancelled",
        }
    }
}

impl fmt::Display for TaskPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Observed state of a Task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// Current phase: Pending, Running, Succeeded, Failed or Cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TaskPhase>,
    /// Name of the Job created for this Task (local backend: the run's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Name of the Pod running the Task (local backend: the sandbox's process id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// When the Task started running (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When the Task completed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    /// Additional information about the current status: why it waits, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the agent produced: branch, commits, pull requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<TaskOutputs>,
    /// Tokens, cost and turns the agent used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TaskUsage>,
    /// Standard conditions (`Ready`, `Succeeded`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The spec generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The prompt as run, when it differs from `spec.prompt` (a Task with dependencies has its
    /// prompt rendered when it starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The branch the Task works on, as run (`spec.branch`, rendered when it is a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The Tasks in `spec.dependsOn` as last seen (phase absent: not created yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyState>,
}

/// One dependency of a Task as its gate last saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyState {
    /// The Task depended on.
    pub name: String,
    /// Its phase when last seen; absent while no Task of that name exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TaskPhase>,
}

/// What an agent run produced, from the runner's results document (never from log text).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskOutputs {
    /// Branch the agent left checked out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Branch the work tree was cloned at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// Commits the agent made (full SHAs, newest first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<String>,
    /// Whether the branch was pushed to the remote.
    #[serde(default)]
    pub pushed: bool,
    /// Pull request URLs for the branch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_requests: Vec<String>,
    /// The agent's final answer (its last message), truncated; for `{{.Deps.<name>.FinalAnswer}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_answer: Option<String>,
}

/// Tokens, cost and turns of an agent run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskUsage {
    /// Input tokens, cache reads and writes included.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Cost in USD: priced by the gateway from its price table (absent for a model the table
    /// does not know), or as the agent reported it.
    #[serde(default, rename = "costUSD", skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Model turns (with `source: gateway`: model generation requests).
    #[serde(default)]
    pub turns: u64,
    /// Of the input tokens, those read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_read_tokens: u64,
    /// Of the input tokens, those written to the provider's prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    /// Model API requests the gateway forwarded (generation calls and others such as token
    /// counting); 0 when the figures come from the agent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests: u64,
    /// Who produced these figures: `agent` (the agent CLI's own report, read from its stream
    /// outside the sandbox but not measured by Axon) or `gateway` (measured by Axon's model
    /// gateway). What a custom agent prints is never taken: without the gateway its status has
    /// no usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<UsageSource>,
}

/// Where a Task's usage figures come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageSource {
    /// Reported by the agent CLI in its own stream (self-reported, not measured).
    #[default]
    Agent,
    /// Measured by Axon's model gateway.
    Gateway,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
