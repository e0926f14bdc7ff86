//! Contract constants: the names that crates, processes and containers agree on — environment
//! variables the agent side reads, labels and annotations on resources, files one process
//! writes for another. Each is spelled once, here, so a writer and its reader can never drift
//! apart (the run plan, the Kubernetes Job and the local supervisor set the variables that
//! `axon agent run` reads; the spawner and both backends use the same labels).
//!
//! Why in `axon-api`: it is the one crate every other depends on, and these names are part of
//! the resources' and the agent image interface's contract (docs/agent-image-interface.md),
//! like the types themselves. Names only one crate uses stay in that crate.

// The agent image interface: what the agent side reads from its environment.

/// The agent type (`claude-code`, `codex`, `gemini`, `opencode`).
pub const ENV_AGENT_TYPE: &str = "AXON_AGENT_TYPE";
/// The Task's name.
pub const ENV_TASK: &str = "AXON_TASK";
/// Model override (empty: the agent's default).
pub const ENV_MODEL: &str = "AXON_MODEL";
/// The branch the Task's work started from: the Workspace's `ref` when it names a branch,
/// else the repository's default branch, as the workspace preparation resolved it. On
/// Kubernetes also the name of the file in the agent's env directory holding it.
pub const ENV_BASE_BRANCH: &str = "AXON_BASE_BRANCH";
/// The Workspace's `setupCommand`, run by `axon agent run` (or, for a custom image on
/// Kubernetes, by the agent container's wrapper) in the work tree before the agent; removed
/// from the agent's own environment.
pub const ENV_SETUP_COMMAND: &str = "AXON_SETUP_COMMAND";
/// An API-compatible model endpoint instead of the vendor's.
pub const ENV_MODEL_BASE_URL: &str = "AXON_MODEL_BASE_URL";
/// Retries of failed model requests.
pub const ENV_MODEL_MAX_RETRIES: &str = "AXON_MODEL_MAX_RETRIES";
/// A file holding AgentConfig `agentsMD`.
pub const ENV_AGENTS_MD_FILE: &str = "AXON_AGENTS_MD_FILE";
/// The directory of AgentConfig plugins.
pub const ENV_PLUGINS_DIR: &str = "AXON_PLUGINS_DIR";
/// A read-only file holding the prompt.
pub const ENV_PROMPT_FILE: &str = "AXON_PROMPT_FILE";
/// Where `axon agent run` writes its claims (Kubernetes only).
pub const ENV_RESULTS_FILE: &str = "AXON_RESULTS_FILE";
/// The directory holding the agent CLIs (default: found on `PATH`).
pub const ENV_AGENT_BIN_DIR: &str = "AXON_AGENT_BIN_DIR";
/// The GitHub API base URL (GitHub Enterprise, a proxy, a fake GitHub in tests), for the
/// spawner and the results collector.
pub const ENV_GITHUB_API_URL: &str = "AXON_GITHUB_API_URL";

/// The Axon gateway's address as the agent reaches it (`http://127.0.0.1:PORT`): its model
/// base URL and proxy point there. Set by the drivers when a Task runs through the gateway.
pub const ENV_GATEWAY_URL: &str = "AXON_GATEWAY_URL";
/// The gateway's run-state endpoint (`GET`, the Task's gateway token as a bearer token): the
/// Task's name, whether a model call was refused over its budget, its measured requests and
/// turns. Asked by the Kubernetes Pod's `results` container.
pub const GATEWAY_RUN_STATE_PATH: &str = "/axon/v1/run";

// The `axon` binary's own settings that another crate sets (the Kubernetes manifests).

/// The `axon` binary's log filter (`RUST_LOG` is not read).
pub const ENV_LOG: &str = "AXON_LOG";
/// The `axon` binary's backend (`local` or `kubernetes`).
pub const ENV_BACKEND: &str = "AXON_BACKEND";

// Labels.

/// On a Task's Job, its Pods and its ConfigMap: the Task's name.
pub const LABEL_TASK: &str = "axon.io/task";
/// On a Task's Job and its Pods: the agent type.
pub const LABEL_AGENT_TYPE: &str = "axon.io/agent-type";
/// On every Task a TaskSpawner created, and on the spawner's Deployment, ServiceAccount, Role
/// and binding: the TaskSpawner's name.
pub const LABEL_TASKSPAWNER: &str = "axon.io/taskspawner";

// Annotations on a spawned Task.

/// `{{.ID}}` of the item the Task was created for (issue number, cron tick).
pub const ANNOTATION_SOURCE_ID: &str = "axon.io/source-id";
/// The id of the `/axon run`/`/axon retry` comment that made the Task (none for a poll's).
pub const ANNOTATION_SOURCE_COMMENT: &str = "axon.io/source-comment";
/// The failed CI check that made a CI remediation Task: `<event>/<id>` (`check_run/42`).
pub const ANNOTATION_SOURCE_CHECK: &str = "axon.io/source-check";
/// Which generation of its item the Task is (1, 2, ...).
pub const ANNOTATION_GENERATION: &str = "axon.io/source-generation";
/// Written on an item's latest Task when a poll saw the item with an excluded label: once that
/// Task has finished and the label is gone, the item is re-queued.
pub const ANNOTATION_NEEDS_INPUT: &str = "axon.io/needs-input-seen";

// Annotations on any Task.

/// A request to cancel the Task (`axon cancel`, a `/axon cancel` comment), recorded before
/// anything is stopped so that a crash in between still ends the Task `Cancelled`. Its value
/// says who asked (`axon cancel`); the driver that sees it stops the run and records the phase.
pub const ANNOTATION_CANCEL_REQUESTED: &str = "axon.io/cancel-requested";

// Reasons (the `reason` of a Task's `Succeeded` condition) that more than one crate writes or
// reads.

/// A Task stopped because it reached a limit of `spec.budget`; the message names the limit and
/// the figure.
pub const REASON_BUDGET_EXCEEDED: &str = "BudgetExceeded";
