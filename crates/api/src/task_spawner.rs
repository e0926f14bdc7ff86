//! The TaskSpawner: watches a source (GitHub issues/PRs, a cron schedule, or a fixed list of
//! items) and creates a Task per work item.

use crate::common::{AgentType, Condition, Credentials, EnvVar, LocalObjectReference};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Creates Tasks from a source: GitHub issues or pull requests, a cron schedule, or a fixed
/// list of items (fan-out).
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "axon.io",
    version = "v1alpha1",
    kind = "TaskSpawner",
    plural = "taskspawners",
    namespaced,
    derive = "PartialEq",
    status = "TaskSpawnerStatus",
    shortname = "tsp",
    category = "axon",
    validation = Rule::new("!has(self.spec.when.githubIssues) || has(self.spec.taskTemplate.workspaceRef)").message("spec.taskTemplate.workspaceRef is required when spec.when.githubIssues is set"),
    printcolumn(name = "Source", type_ = "string", json_path = ".status.source"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Active", type_ = "integer", json_path = ".status.activeTasks"),
    printcolumn(name = "Succeeded", type_ = "integer", json_path = ".status.items.succeeded", priority = "1"),
    printcolumn(name = "Failed", type_ = "integer", json_path = ".status.items.failed", priority = "1"),
    printcolumn(name = "Tasks", type_ = "integer", json_path = ".status.totalTasksCreated"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpawnerSpec {
    /// The source of work items: exactly one of `githubIssues`, `cron` or `items`.
    pub when: When,
    /// Template for the Tasks this spawner creates.
    pub task_template: TaskTemplate,
    /// How often to poll the source (Go duration such as `30s`, `5m`, `1h`; default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub poll_interval: Option<String>,
    /// Limit on this spawner's unfinished Tasks; further items wait for a later poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_concurrency: Option<i32>,
    /// Limits on what this spawner's Tasks use together over a window (`perHour`, `perDay`:
    /// `maxCostUSD`, `maxTokens`). While a window is full, new Tasks wait Pending with a message
    /// until it has room; none is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::budget::SpawnerBudget>,
    /// Create no new Tasks (its running Tasks go on); `axon suspend|resume taskspawner NAME`.
    /// Items found meanwhile get their Tasks once it is resumed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
    /// Stop creating Tasks once this many have been created in all (retries of an item count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_total_tasks: Option<i64>,
    /// Labels in priority order: when `maxConcurrency` (or `maxTotalTasks`) leaves fewer slots
    /// than items want, items with the first label go first, then the second, …, then the
    /// rest; oldest first within each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub priority_labels: Vec<String>,
}

/// The source of work items. Exactly one of `githubIssues`, `cron` and `items` is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.githubIssues) ? 1 : 0) + (has(self.cron) ? 1 : 0) + (has(self.items) ? 1 : 0) == 1").message("exactly one source must be set: githubIssues, cron or items"))]
#[x_kube(validation = Rule::new("!has(self.itemKey) || has(self.items)").message("itemKey is only used with items"))]
#[x_kube(validation = Rule::new("!has(self.githubIssues) || !has(self.githubIssues.commentPolicy) || has(self.githubIssues.webhook)").message("githubIssues.commentPolicy needs githubIssues.webhook: comment commands arrive as webhook deliveries"))]
pub struct When {
    /// Create a Task per GitHub issue or pull request of the Workspace's repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_issues: Option<GitHubIssues>,
    /// Create a Task per tick of a cron schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<Cron>,
    /// Fan-out: a fixed list of items (maps of strings to strings), one Task per item, named
    /// `<spawner>-<item's itemKey field>`; at most 1000. An item's `workspace` field names the
    /// Workspace of its Task; its `repo` field makes Axon create one (`<spawner>-<key>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000))]
    pub items: Option<Vec<BTreeMap<String, String>>>,
    /// The item field whose value names an item's Task (default `name`); only with `items`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub item_key: Option<String>,
}

/// GitHub issues / pull requests filter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitHubIssues {
    /// Only items carrying all of these labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Skip items carrying any of these labels (e.g. `axon/needs-input`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_labels: Vec<String>,
    /// Item state: `open` (default), `closed` or `all`.
    #[serde(default)]
    pub state: IssueState,
    /// Item types: `issues` (default) and/or `pulls`.
    #[serde(default = "default_types")]
    pub types: Vec<ItemType>,
    /// Also create Tasks the moment GitHub delivers an `issues` event (opened, labeled,
    /// unlabeled, reopened) to `axon serve --listen`, verified with the Secret's
    /// `WEBHOOK_SECRET`. Polling goes on as the safety net; both name a Task alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<GitHubWebhook>,
    /// Also take `/axon run [extra prompt]`, `/axon retry` and `/axon cancel` comments on the
    /// repository's issues and pull requests (`issue_comment` deliveries; needs `webhook`),
    /// from commenters this policy allows. Present (even `{}`) turns commands on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_policy: Option<CommentPolicy>,
}

/// Who may command a spawner with `/axon …` comments. A commenter is allowed when listed in
/// `allowedUsers`, when an active member of a team in `allowedTeams`, or when their
/// permission on the repository is at least `minimumPermission`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentPolicy {
    /// The least repository permission a commenter needs: `read`, `triage`, `write` (default),
    /// `maintain` or `admin`.
    #[serde(default)]
    pub minimum_permission: RepoPermission,
    /// GitHub logins allowed whatever their permission; at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub allowed_users: Vec<String>,
    /// Teams (`org/team-slug`, or `team-slug` of the repository's owner) whose active members
    /// are allowed whatever their permission; at most 20 (one request each per command).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub allowed_teams: Vec<String>,
    /// Answer a refused command with a comment saying why (default: refuse silently).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reply_on_denied: bool,
}

/// A commenter's permission on a repository, weakest first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RepoPermission {
    /// Read (and open issues, comment).
    Read,
    /// Triage issues and pull requests.
    Triage,
    /// Push to the repository.
    #[default]
    Write,
    /// Manage the repository without admin rights.
    Maintain,
    /// Everything.
    Admin,
}

impl RepoPermission {
    /// The name GitHub uses (`role_name` of the permission API).
    pub fn as_str(self) -> &'static str {
        match self {
            RepoPermission::Read => "read",
            RepoPermission::Triage => "triage",
            RepoPermission::Write => "write",
            RepoPermission::Maintain => "maintain",
            RepoPermission::Admin => "admin",
        }
    }

    /// Parses GitHub's `role_name` or legacy `permission` (`pull`/`push` too); `None` for
    /// `none` and custom roles.
    pub fn from_github(s: &str) -> Option<RepoPermission> {
        match s {
            "read" | "pull" => Some(RepoPermission::Read),
            "triage" => Some(RepoPermission::Triage),
            "write" | "push" => Some(RepoPermission::Write),
            "maintain" => Some(RepoPermission::Maintain),
            "admin" => Some(RepoPermission::Admin),
            _ => None,
        }
    }
}

/// Webhook deliveries for a `githubIssues` source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitHubWebhook {
    /// Secret whose `WEBHOOK_SECRET` key is the webhook's secret in GitHub: deliveries whose
    /// `X-Hub-Signature-256` it does not verify are refused (401).
    pub secret_ref: crate::common::SecretReference,
    /// With `types` including `pulls`: also take `pull_request_review` deliveries (a review
    /// submitted) whose state is one of these: `approved`, `changes_requested`, `commented`.
    /// Empty (default): reviews start nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3))]
    pub review_states: Vec<ReviewState>,
    /// CI remediation (with `types` including `pulls`): take `check_run`, `check_suite` and
    /// `workflow_run` deliveries (action `completed`) whose conclusion is one of
    /// `conclusions`, and create a Task on each of the check's pull requests' head branch,
    /// with `{{.Check.*}}` set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<CheckRemediation>,
}

/// Which completed checks start a remediation Task, and how many times per pull request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckRemediation {
    /// The conclusions that start a Task (default `failure` and `timed_out`).
    #[serde(default = "default_check_conclusions")]
    #[schemars(length(min = 1, max = 9))]
    pub conclusions: Vec<CheckConclusion>,
    /// Only checks (check run name, workflow name, or the check suite's app name) matching
    /// one of these exact names or globs (`*`); empty (default): every check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub names: Vec<String>,
    /// At most this many CI remediation Tasks per pull request (default 3, 1 to 20), so that
    /// an agent's push that fails CI again cannot start Tasks forever.
    #[serde(default = "default_check_max_attempts")]
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: i64,
}

impl Default for CheckRemediation {
    fn default() -> Self {
        CheckRemediation {
            conclusions: default_check_conclusions(),
            names: Vec::new(),
            max_attempts: default_check_max_attempts(),
        }
    }
}

fn default_check_conclusions() -> Vec<CheckConclusion> {
    vec![CheckConclusion::Failure, CheckConclusion::TimedOut]
}

fn default_check_max_attempts() -> i64 {
    3
}

/// The conclusion of a completed check run, check suite or workflow run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckConclusion {
    /// Failed.
    Failure,
    /// Ran out of time.
    TimedOut,
    /// Cancelled.
    Cancelled,
    /// Needs someone to act (e.g. approve a deployment).
    ActionRequired,
    /// The run could not start.
    StartupFailure,
    /// Neither success nor failure.
    Neutral,
    /// Skipped.
    Skipped,
    /// Too old to matter.
    Stale,
    /// Succeeded.
    Success,
}

impl CheckConclusion {
    /// The conclusion as GitHub's webhook spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckConclusion::Failure => "failure",
            CheckConclusion::TimedOut => "timed_out",
            CheckConclusion::Cancelled => "cancelled",
            CheckConclusion::ActionRequired => "action_required",
            CheckConclusion::StartupFailure => "startup_failure",
            CheckConclusion::Neutral => "neutral",
            CheckConclusion::Skipped => "skipped",
            CheckConclusion::Stale => "stale",
            CheckConclusion::Success => "success",
        }
    }
}

/// The state of a submitted pull request review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Approved.
    Approved,
    /// Changes requested.
    ChangesRequested,
    /// Commented without a verdict.
    Commented,
}

impl ReviewState {
    /// The state as GitHub's webhook spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Approved => "approved",
            ReviewState::ChangesRequested => "changes_requested",
            ReviewState::Commented => "commented",
        }
    }
}

fn default_types() -> Vec<ItemType> {
    vec![ItemType::Issues]
}

/// State filter for GitHub items.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    /// Open items only.
    #[default]
    Open,
    /// Closed items only.
    Closed,
    /// Open and closed items.
    All,
}

impl IssueState {
    /// The value GitHub's API expects.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
            IssueState::All => "all",
        }
    }
}

/// Kind of GitHub item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemType {
    /// Issues.
    Issues,
    /// Pull requests.
    Pulls,
}

/// A cron schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Cron {
    /// Standard 5-field cron expression, optionally prefixed with `CRON_TZ=Zone` (e.g. `0 * * * *`).
    pub schedule: String,
}

/// Template for spawned Tasks: a Task spec whose prompt is a Go text/template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskTemplate {
    /// Agent type: `claude-code`, `codex`, `gemini` or `opencode`.
    #[serde(rename = "type")]
    pub type_: AgentType,
    /// The agent's credential (same as a Task's).
    pub credentials: Credentials,
    /// Model override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Custom agent image override (see the agent image interface).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Workspace (repository, auth and clone target) for spawned Tasks; required with `githubIssues`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_ref: Option<LocalObjectReference>,
    /// AgentConfig for spawned Tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_config_ref: Option<LocalObjectReference>,
    /// More AgentConfigs for spawned Tasks, merged in order after `agentConfigRef`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub agent_config_refs: Vec<LocalObjectReference>,
    /// Go text/template for the prompt (variables: ID Number Title Body URL Labels Comments Kind Time Schedule,
    /// and Item.<field> with `items`; `.Deps` actions are kept for the Task's start); required with `items`;
    /// not empty or only whitespace, at most 10 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10485760), regex(pattern = crate::rules::NOT_BLANK_PATTERN))]
    pub prompt_template: Option<String>,
    /// Delete spawned Tasks this many seconds after they finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: Option<i32>,
    /// Fail spawned Tasks that run longer than this many seconds; 0: no timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub timeout_seconds: Option<i64>,
    /// Retries of a failed agent run (default 0; at most 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub backoff_limit: Option<i32>,
    /// API-compatible model endpoint for spawned Tasks.
    #[serde(
        default,
        rename = "modelBaseURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_base_url: Option<String>,
    /// Extra environment variables for the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Tasks every spawned Task depends on (see the Task's `dependsOn`); at most 64; each entry
    /// may use the item's variables (`{{.Item.name}}-scaffold`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub depends_on: Vec<String>,
    /// Branch for spawned Tasks (see the Task's `branch`); may use the item's variables, and
    /// `.Deps` actions, which are kept for the Task's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub branch: Option<String>,
    /// Limits on each spawned Task's model use (`maxCostUSD`, `maxTokens`, `maxTurns`; see the
    /// Task's `budget`): each Task has its own, the spawner's `budget` limits them together.
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
    /// table for spawned Tasks; one entry per model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["model"]))]
    pub pricing: Vec<crate::model_price::ModelPrice>,
}

/// Lifecycle phase of a TaskSpawner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TaskSpawnerPhase {
    /// Not yet polling.
    #[default]
    Pending,
    /// Polling its source.
    Running,
    /// Cannot poll; `message` says why.
    Failed,
    /// `spec.suspend`: creates no Tasks until resumed.
    Suspended,
}

impl fmt::Display for TaskSpawnerPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskSpawnerPhase::Pending => "Pending",
            TaskSpawnerPhase::Running => "Running",
            TaskSpawnerPhase::Suspended => "Suspended",
            TaskSpawnerPhase::Failed => "Failed",
        })
    }
}

/// Observed state of a TaskSpawner.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpawnerStatus {
    /// Current phase: Pending, Running or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TaskSpawnerPhase>,
    /// Name of the Deployment running the spawner (Kubernetes backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_name: Option<String>,
    /// The source, for display: `github-issues`, `github-pulls` or `cron <schedule>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Total number of items discovered from the source.
    #[serde(default)]
    pub total_discovered: i64,
    /// Total number of Tasks created by this spawner.
    #[serde(default)]
    pub total_tasks_created: i64,
    /// Number of currently active (non-finished) Tasks.
    #[serde(default)]
    pub active_tasks: i64,
    /// Last time the source was polled (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_discovery_time: Option<String>,
    /// Additional information about the current status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Standard conditions (e.g. `TemplateError`, `RateLimited`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The spec generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// What the spawner remembers about the items it created Tasks for, one entry per item
    /// still returned by the source. It keeps a finished Task that was deleted (by
    /// `ttlSecondsAfterFinished` or by hand) from being created again while its issue stays
    /// open: an item listed here is only re-queued by the needs-input loop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spawned_items: Vec<SpawnedItem>,
    /// With `when.items`: how the items are doing, and the branches and pull requests of the
    /// finished ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemsSummary>,
}

/// `status.items`: the fan-out's progress. Every item of `spec.when.items` is counted once:
/// its Task succeeded, failed, is running (created, not finished), it is waiting (no Task
/// yet: `maxConcurrency`), or its Task was deleted before finishing. Counts and results survive finished Tasks being deleted by TTL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemsSummary {
    /// Items in `spec.when.items`.
    pub total: i64,
    /// Items whose Task succeeded.
    pub succeeded: i64,
    /// Items whose Task failed.
    pub failed: i64,
    /// Items whose Task exists and has not finished (Pending, waiting for dependencies, or
    /// Running).
    pub running: i64,
    /// Items without a Task yet (waiting for a free `maxConcurrency` slot).
    pub waiting: i64,
    /// Items whose Task was deleted before it finished; the spawner does not create it again.
    #[serde(default)]
    pub deleted: i64,
    /// One entry per item whose Task finished, in item order. Always written, also when
    /// empty, so that a merge patch of the status replaces it.
    #[serde(default)]
    pub results: Vec<ItemResult>,
}

/// The outcome of one item's Task, kept in `status.items.results`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemResult {
    /// The item's key (its `itemKey` field).
    pub item: String,
    /// Its Task, `<spawner>-<item>`.
    pub task: String,
    /// `Succeeded` or `Failed`.
    pub phase: String,
    /// The branch the agent left, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Pull request URLs for that branch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_requests: Vec<String>,
}

/// One entry of `status.spawnedItems`: the latest Task generation created for an item.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpawnedItem {
    /// `{{.ID}}` of the item (issue or pull request number, or cron tick).
    pub id: String,
    /// The latest generation created: 1 is `<spawner>-<ID>`, N is `<spawner>-<ID>-rN`.
    pub generation: i64,
    /// The item's `updated_at` at the source when that generation was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// A poll saw the item carrying an excluded label after that generation was created;
    /// removing the label re-queues the item once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_input: bool,
}

impl When {
    /// A short description of the source, for display.
    pub fn describe(&self) -> String {
        match (&self.github_issues, &self.cron, &self.items) {
            (Some(g), _, _) if g.types == [ItemType::Pulls] => "github-pulls".to_string(),
            (Some(_), _, _) => "github-issues".to_string(),
            (None, Some(c), _) => format!("cron {}", c.schedule),
            (None, None, Some(items)) => format!("items ({})", items.len()),
            (None, None, None) => "none".to_string(),
        }
    }
}
