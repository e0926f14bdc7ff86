//! The spawner loop: poll the source, decide, create Tasks, write status; repeat every
//! `pollInterval` until told to stop.
//!
//! With `when.items` (fan-out) the source is the spec itself: the items are checked with the
//! same rules as at apply, each item's Workspace is made first when it gives a `repo`, and
//! `status.items` summarises the items' Tasks (`axon_core::fanout_status`) at every poll.
//!
//! Each poll reads everything it decides from fresh (the TaskSpawner with its status, its
//! Tasks), so the loop can be killed and restarted at any point: the decision in
//! `axon_core::spawn` names Tasks deterministically and the backend creates idempotently. The
//! spawner's memory of spawned items (`status.spawnedItems`, see `axon_core::spawn_memory`)
//! is written in the same status update as the counters, after the Tasks are created, so a
//! Task deleted by TTL does not come back. The only state kept in the process between polls
//! is the GitHub client's caches, which save requests but never change a decision.

use crate::clock::Clock;
use crate::cron_source;
use crate::github::{GithubClient, GithubConfig, GithubError};
use crate::repo::RepoRef;
use crate::secret::Token;
use axon_api::contract::{
    ANNOTATION_GENERATION, ANNOTATION_NEEDS_INPUT, ANNOTATION_SOURCE_ID, LABEL_TASKSPAWNER,
};
use axon_api::loader::Resource;
use axon_api::{
    Condition, Duration as ApiDuration, Kind, LocalObjectReference, Task, TaskSpawner,
    TaskSpawnerPhase, TaskSpawnerStatus, TaskSpec, Workspace, WorkspaceSpec,
};
use axon_core::cron;
use axon_core::fanout::{self, ItemWorkspace, WorkspaceAction};
use axon_core::fanout_status::{ItemTask, summarise};
use axon_core::plan::GITHUB_TOKEN_KEY;
use axon_core::spawn::{Hold, SpawnCounters, SpawnPolicy, SpawnedTask, plan_spawns};
use axon_core::spawn_item::WorkItem;
use axon_core::spawn_memory::{memory_from_status, memory_to_status, remember};
use axon_core::spawn_template::{RenderedTemplate, TaskTemplates};
use axon_core::template::Samples;
use axon_port::{BackendError, CreateOutcome, SpawnerPort, Valid};
use jiff::Timestamp;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

/// Condition type set while GitHub rate-limits the spawner.
pub const CONDITION_RATE_LIMITED: &str = "RateLimited";
/// Condition type set while the prompt template fails to parse or render.
pub const CONDITION_TEMPLATE_ERROR: &str = "TemplateError";
/// Condition type set while the source cannot be polled (bad repo, token, schedule...).
pub const CONDITION_SOURCE_ERROR: &str = "SourceError";
/// Condition type set while a fan-out item's Workspace cannot be made.
pub const CONDITION_WORKSPACE_ERROR: &str = "WorkspaceError";

/// The poll interval of a `when.items` spawner without `pollInterval`: its source costs
/// nothing to read, and `status.items` should follow its Tasks closely.
pub const ITEMS_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// Errors that stop the loop. Source and template problems do not: they go to status and the
/// loop polls again later.
#[derive(Debug, thiserror::Error)]
pub enum SpawnerError {
    /// The backend failed.
    #[error("TaskSpawner {spawner}: backend error: {source}")]
    Backend {
        /// The spawner.
        spawner: String,
        /// The backend's error.
        source: BackendError,
    },
}

/// Settings that are not part of the TaskSpawner resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpawnerOptions {
    /// GitHub API base URL; default: derived from the Workspace's repo host
    /// (`https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise).
    pub github_api_base: Option<String>,
}

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Items the source returned that are not excluded.
    pub discovered: usize,
    /// Tasks created.
    pub created: Vec<String>,
    /// Tasks the decision wanted that already existed (a restart mid-poll).
    pub already_existed: Vec<String>,
    /// Items waiting for a free slot, for the spawner to be resumed, or past `maxTotalTasks`.
    pub deferred: Vec<String>,
    /// What holds the deferred items besides `maxConcurrency`.
    pub held_by: Option<Hold>,
    /// Items skipped for an excluded label.
    pub excluded: Vec<String>,
    /// Tasks annotated as "item needed input".
    pub marked: Vec<String>,
    /// Items whose prompt failed to render (no Task created).
    pub render_errors: Vec<String>,
    /// Fan-out items whose Workspace could not be made (no Task created).
    pub workspace_errors: Vec<String>,
    /// Workspaces made or updated for fan-out items.
    pub workspaces_written: Vec<String>,
}

/// The outcome of one poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// The source was polled.
    Polled(PollReport),
    /// GitHub rate-limited the poll; poll again at `until`.
    RateLimited {
        /// When GitHub accepts requests again.
        until: Timestamp,
    },
    /// The spawner cannot poll now (bad template, schedule, repo, token...); status says why.
    Failed {
        /// The reason, as written to status.
        message: String,
    },
    /// The TaskSpawner no longer exists.
    Gone,
}

/// One TaskSpawner's loop.
pub struct Spawner<S: SpawnerPort, C: Clock> {
    name: String,
    backend: S,
    clock: C,
    options: SpawnerOptions,
    github: Option<GithubClient>,
}

fn rfc3339(t: Timestamp) -> String {
    axon_core::rfc3339::format(t)
}

fn parse_time(s: &str) -> Option<Timestamp> {
    axon_core::rfc3339::parse(s)
}

/// What the decision needs to know about a Task, read from its labels, annotations and phase.
pub fn spawned_task(task: &Task) -> SpawnedTask {
    let annotations = task.metadata.annotations.as_ref();
    let get = |k: &str| annotations.and_then(|a| a.get(k)).cloned();
    SpawnedTask {
        name: task.metadata.name.clone().unwrap_or_default(),
        item_id: get(ANNOTATION_SOURCE_ID),
        generation: get(ANNOTATION_GENERATION)
            .and_then(|g| g.parse().ok())
            .unwrap_or(1),
        finished: task
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(|p| p.is_finished()),
        needs_input_seen: get(ANNOTATION_NEEDS_INPUT).as_deref() == Some("true"),
    }
}

/// The Task for an item: the spawner's template with the rendered prompt, branch and
/// dependencies and the item's Workspace, named, labelled and annotated so that later polls
/// (and restarts) recognise it.
pub fn build_task(
    spawner: &TaskSpawner,
    name: &str,
    item_id: &str,
    generation: u32,
    rendered: RenderedTemplate,
    workspace_ref: Option<LocalObjectReference>,
) -> Task {
    let t = &spawner.spec.task_template;
    let spawner_name = spawner.metadata.name.clone().unwrap_or_default();
    let spec = TaskSpec {
        type_: t.type_,
        prompt: rendered.prompt,
        credentials: t.credentials.clone(),
        model: t.model.clone(),
        image: t.image.clone(),
        workspace_ref,
        agent_config_refs: t.agent_config_refs.clone(),
        agent_config_ref: t.agent_config_ref.clone(),
        ttl_seconds_after_finished: t.ttl_seconds_after_finished,
        timeout_seconds: t.timeout_seconds,
        backoff_limit: t.backoff_limit,
        model_base_url: t.model_base_url.clone(),
        env: t.env.clone(),
        depends_on: rendered.depends_on,
        branch: rendered.branch,
        budget: t.budget.clone(),
        network: t.network.clone(),
        policy: t.policy.clone(),
        pricing: t.pricing.clone(),
    };
    let mut task = Task::new(name, spec);
    task.metadata.namespace = spawner.metadata.namespace.clone();
    task.metadata.labels = Some(BTreeMap::from([(
        LABEL_TASKSPAWNER.to_string(),
        spawner_name,
    )]));
    task.metadata.annotations = Some(BTreeMap::from([
        (ANNOTATION_SOURCE_ID.to_string(), item_id.to_string()),
        (ANNOTATION_GENERATION.to_string(), generation.to_string()),
    ]));
    task
}

/// The spawn decision's settings of `spawner` (the poll and webhook deliveries share them).
pub fn spawn_policy(spawner: &TaskSpawner) -> SpawnPolicy {
    SpawnPolicy {
        max_concurrency: spawner
            .spec
            .max_concurrency
            .and_then(|m| u32::try_from(m).ok()),
        exclude_labels: spawner
            .spec
            .when
            .github_issues
            .as_ref()
            .map(|g| g.exclude_labels.clone())
            .unwrap_or_default(),
        exact_names: spawner.spec.when.items.is_some(),
        suspended: spawner.spec.suspend,
        max_total_tasks: spawner
            .spec
            .max_total_tasks
            .and_then(|m| u64::try_from(m).ok()),
        total_created: spawner
            .status
            .as_ref()
            .and_then(|s| u64::try_from(s.total_tasks_created).ok())
            .unwrap_or(0),
        priority_labels: spawner.spec.priority_labels.clone(),
    }
}

/// Where `spawner`'s GitHub repository is and how to authenticate: the repository of its
/// Workspace, the Workspace secret's `GITHUB_TOKEN`, and `api_base` (default: from the repo's
/// host). `Ok(Err(reason))` when the spawner's spec or Workspace does not say.
pub async fn github_config<S: SpawnerPort>(
    backend: &S,
    spawner: &TaskSpawner,
    api_base: Option<&str>,
) -> Result<Result<GithubConfig, String>, SpawnerError> {
    let name = spawner.metadata.name.clone().unwrap_or_default();
    let err = |source| SpawnerError::Backend {
        spawner: name.clone(),
        source,
    };
    let Some(workspace_ref) = &spawner.spec.task_template.workspace_ref else {
        return Ok(Err(
            "spec.taskTemplate.workspaceRef is required with githubIssues".to_string(),
        ));
    };
    let workspace = match backend
        .get(Kind::Workspace, &workspace_ref.name)
        .await
        .map_err(err)?
    {
        Some(Resource::Workspace(w)) => *w,
        _ => {
            return Ok(Err(format!("Workspace {:?} not found", workspace_ref.name)));
        }
    };
    let repo = match RepoRef::parse(&workspace.spec.repo) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let token = match &workspace.spec.secret_ref {
        None => None,
        Some(secret) => backend
            .secret_value(&secret.name, GITHUB_TOKEN_KEY)
            .await
            .map_err(err)?
            .and_then(Token::new),
    };
    Ok(Ok(GithubConfig {
        api_base: api_base
            .map(str::to_string)
            .unwrap_or_else(|| repo.default_api_base()),
        owner: repo.owner,
        repo: repo.repo,
        token,
    }))
}

/// Sets (or replaces) condition `type_`, keeping its transition time when the status holds.
fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    on: bool,
    reason: &str,
    message: &str,
    now: Timestamp,
    generation: Option<i64>,
) {
    let status = if on { "True" } else { "False" };
    let previous = conditions.iter().position(|c| c.type_ == type_);
    if !on && previous.is_none() {
        return; // never set, nothing to clear
    }
    let transition = match previous.map(|i| &conditions[i]) {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Some(rfc3339(now)),
    };
    let condition = Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: transition,
        observed_generation: generation,
    };
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

/// The poll interval of a spawner: `spec.pollInterval`, default five minutes
/// ([`ITEMS_POLL_INTERVAL`] with `when.items`), at least 1s.
pub fn poll_interval(spawner: &TaskSpawner) -> Duration {
    let default = if spawner.spec.when.items.is_some() {
        ITEMS_POLL_INTERVAL
    } else {
        ApiDuration::DEFAULT_POLL_INTERVAL.as_std()
    };
    spawner
        .spec
        .poll_interval
        .as_deref()
        .and_then(|s| s.parse::<ApiDuration>().ok())
        .map_or(default, ApiDuration::as_std)
        .max(Duration::from_secs(1))
}

/// What the fan-out summary needs of a Task.
fn item_task(task: &Task) -> ItemTask {
    let status = task.status.as_ref();
    let outputs = status.and_then(|s| s.outputs.as_ref());
    ItemTask {
        name: task.metadata.name.clone().unwrap_or_default(),
        phase: status.and_then(|s| s.phase),
        branch: outputs.and_then(|o| o.branch.clone()),
        pull_requests: outputs.map(|o| o.pull_requests.clone()).unwrap_or_default(),
    }
}

enum Discovery {
    Items(Vec<WorkItem>),
    RateLimited(Timestamp),
    Failed(String),
}

impl<S: SpawnerPort, C: Clock> Spawner<S, C> {
    /// A loop for TaskSpawner `name` over `backend`.
    pub fn new(name: impl Into<String>, backend: S, clock: C, options: SpawnerOptions) -> Self {
        Spawner {
            name: name.into(),
            backend,
            clock,
            options,
            github: None,
        }
    }

    /// GitHub request counts of the current client (zero before the first GitHub poll).
    pub fn github_stats(&self) -> crate::github::RequestStats {
        self.github
            .as_ref()
            .map(GithubClient::stats)
            .unwrap_or_default()
    }

    fn backend_error(&self, source: BackendError) -> SpawnerError {
        SpawnerError::Backend {
            spawner: self.name.clone(),
            source,
        }
    }

    /// The TaskSpawner, read fresh at every poll (spec changes take effect at the next poll);
    /// `None` when it was deleted, which ends [`Spawner::run`].
    async fn get_spawner(&self) -> Result<Option<TaskSpawner>, BackendError> {
        Ok(
            match self.backend.get(Kind::TaskSpawner, &self.name).await? {
                Some(Resource::TaskSpawner(s)) => Some(*s),
                _ => None,
            },
        )
    }

    /// Workspace `name`, `None` when it does not exist.
    async fn get_workspace(&self, name: &str) -> Result<Option<Workspace>, BackendError> {
        Ok(match self.backend.get(Kind::Workspace, name).await? {
            Some(Resource::Workspace(w)) => Some(*w),
            _ => None,
        })
    }

    /// One poll: discover, decide, create, write status.
    pub async fn poll_once(&mut self) -> Result<PollOutcome, SpawnerError> {
        let Some(spawner) = self
            .get_spawner()
            .await
            .map_err(|e| self.backend_error(e))?
        else {
            return Ok(PollOutcome::Gone);
        };
        let now = self.clock.now();
        let previous = spawner.status.clone().unwrap_or_default();
        let generation = spawner.metadata.generation;
        let mut status = TaskSpawnerStatus {
            source: Some(spawner.spec.when.describe()),
            observed_generation: generation,
            ..previous.clone()
        };

        let samples = if spawner.spec.when.items.is_some() {
            // Every item is rendered (and checked) when its Task is made.
            Samples::None
        } else {
            Samples::Sources
        };
        let template = match TaskTemplates::parse(&spawner.spec.task_template, samples) {
            Ok(t) => t,
            Err(e) => {
                let message = e.to_string();
                set_condition(
                    &mut status.conditions,
                    CONDITION_TEMPLATE_ERROR,
                    true,
                    "InvalidTemplate",
                    &message,
                    now,
                    generation,
                );
                return self.fail(status, message).await;
            }
        };

        let tasks = self
            .backend
            .list_spawned_tasks(&self.name)
            .await
            .map_err(|e| self.backend_error(e))?;
        let existing: Vec<SpawnedTask> = tasks.iter().map(spawned_task).collect();

        let discovery = self.discover(&spawner, &previous, &existing, now).await?;
        let items = match discovery {
            Discovery::Items(items) => items,
            Discovery::RateLimited(until) => {
                let message = format!(
                    "GitHub rate limit reached; waiting until {} before polling again",
                    rfc3339(until)
                );
                set_condition(
                    &mut status.conditions,
                    CONDITION_RATE_LIMITED,
                    true,
                    "RateLimited",
                    &message,
                    now,
                    generation,
                );
                status.phase = Some(TaskSpawnerPhase::Running);
                status.message = Some(message);
                self.write_status(status).await?;
                return Ok(PollOutcome::RateLimited { until });
            }
            Discovery::Failed(message) => {
                set_condition(
                    &mut status.conditions,
                    CONDITION_SOURCE_ERROR,
                    true,
                    "SourceUnavailable",
                    &message,
                    now,
                    generation,
                );
                return self.fail(status, message).await;
            }
        };
        set_condition(
            &mut status.conditions,
            CONDITION_SOURCE_ERROR,
            false,
            "Polled",
            "",
            now,
            generation,
        );
        set_condition(
            &mut status.conditions,
            CONDITION_RATE_LIMITED,
            false,
            "WithinLimit",
            "",
            now,
            generation,
        );

        let policy = spawn_policy(&spawner);
        let memory = memory_from_status(&previous.spawned_items);
        let plan = plan_spawns(&self.name, &items, &existing, &memory, &policy);
        let mut report = PollReport {
            discovered: items.len() - plan.excluded.len(),
            deferred: plan.deferred.clone(),
            held_by: plan.held_by,
            excluded: plan.excluded.clone(),
            ..PollReport::default()
        };

        for task in &plan.mark_needs_input {
            self.backend
                .annotate_task(task, ANNOTATION_NEEDS_INPUT, "true")
                .await
                .map_err(|e| self.backend_error(e))?;
            report.marked.push(task.clone());
        }

        let wants_comments = template.prompt_source().contains(".Comments");
        let mut render_failure: Option<String> = None;
        let mut workspace_failure: Option<String> = None;
        // The template's Workspace, read once, for items that give a `repo`.
        let mut template_workspace: Option<Option<WorkspaceSpec>> = None;
        let mut rate_limited: Option<Timestamp> = None;
        // Tasks that exist after this poll's creations, for the memory.
        let mut spawned: Vec<(String, u32)> = Vec::new();
        for planned in &plan.create {
            let Some(item) = items.get(planned.item_index) else {
                continue;
            };
            let rendered = match self
                .render(&template, item, &planned.name, wants_comments)
                .await
            {
                Ok(r) => r,
                Err(RenderFailure::RateLimited(until)) => {
                    // Create nothing more this poll; the rest is picked up after the wait.
                    rate_limited = Some(until);
                    break;
                }
                Err(RenderFailure::Message(message)) => {
                    report.render_errors.push(item.id.clone());
                    render_failure.get_or_insert(message);
                    continue;
                }
            };
            let workspace_ref = match self
                .item_workspace(&spawner, item, &mut template_workspace, &mut report)
                .await?
            {
                Ok(r) => r,
                Err(message) => {
                    report.workspace_errors.push(item.id.clone());
                    workspace_failure.get_or_insert(message);
                    continue;
                }
            };
            let task = build_task(
                &spawner,
                &planned.name,
                &planned.item_id,
                planned.generation,
                rendered,
                workspace_ref,
            );
            // The same rules as a user's Task (a name too long, a prompt rendered blank): a
            // Task that breaks one is not created, and status says why.
            let task = match Valid::check_task(task) {
                Ok(t) => t,
                Err(e) => {
                    report.render_errors.push(item.id.clone());
                    render_failure.get_or_insert(e.to_string());
                    continue;
                }
            };
            match self.backend.create_spawned_task(&spawner, task).await {
                Ok(CreateOutcome::Created) => report.created.push(planned.name.clone()),
                Ok(CreateOutcome::AlreadyExists) => {
                    report.already_existed.push(planned.name.clone())
                }
                Err(e) => return Err(self.backend_error(e)),
            }
            spawned.push((planned.item_id.clone(), planned.generation));
        }

        match &render_failure {
            Some(message) => set_condition(
                &mut status.conditions,
                CONDITION_TEMPLATE_ERROR,
                true,
                "RenderFailed",
                message,
                now,
                generation,
            ),
            None => set_condition(
                &mut status.conditions,
                CONDITION_TEMPLATE_ERROR,
                false,
                "Rendered",
                "",
                now,
                generation,
            ),
        }
        if spawner.spec.when.items.is_some() {
            set_condition(
                &mut status.conditions,
                CONDITION_WORKSPACE_ERROR,
                workspace_failure.is_some(),
                if workspace_failure.is_some() {
                    "WorkspaceUnavailable"
                } else {
                    "WorkspacesReady"
                },
                workspace_failure.as_deref().unwrap_or(""),
                now,
                generation,
            );
        }
        let counters = SpawnCounters::after_poll(
            previous.total_tasks_created,
            report.discovered,
            &plan,
            report.created.len(),
        );
        status.total_discovered = counters.total_discovered;
        status.total_tasks_created = counters.total_tasks_created;
        status.active_tasks = counters.active_tasks;
        status.last_discovery_time = Some(rfc3339(now));
        let memory = remember(&memory, &items, &existing, &spawned, &policy.exclude_labels);
        status.spawned_items = memory_to_status(&memory);
        status.items = spawner.spec.when.items.as_ref().map(|_| {
            let keys: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
            let mut item_tasks: Vec<ItemTask> = tasks.iter().map(item_task).collect();
            item_tasks.extend(report.created.iter().map(|name| ItemTask {
                name: name.clone(),
                ..ItemTask::default()
            }));
            let created: HashSet<String> = memory.iter().map(|m| m.id.clone()).collect();
            summarise(
                &self.name,
                &keys,
                &item_tasks,
                &created,
                previous.items.as_ref(),
            )
        });
        status.phase = Some(if policy.suspended {
            TaskSpawnerPhase::Suspended
        } else {
            TaskSpawnerPhase::Running
        });
        status.message = Some(summary(
            &report,
            &policy,
            render_failure.as_deref(),
            workspace_failure.as_deref(),
        ));
        if let Some(until) = rate_limited {
            let message = format!(
                "GitHub rate limit reached while fetching comments; waiting until {}",
                rfc3339(until)
            );
            set_condition(
                &mut status.conditions,
                CONDITION_RATE_LIMITED,
                true,
                "RateLimited",
                &message,
                now,
                generation,
            );
            status.message = Some(message);
            self.write_status(status).await?;
            return Ok(PollOutcome::RateLimited { until });
        }
        self.write_status(status).await?;
        Ok(PollOutcome::Polled(report))
    }

    async fn write_status(&self, status: TaskSpawnerStatus) -> Result<(), SpawnerError> {
        self.backend
            .write_spawner_status(&self.name, &status)
            .await
            .map_err(|e| self.backend_error(e))
    }

    async fn fail(
        &self,
        mut status: TaskSpawnerStatus,
        message: String,
    ) -> Result<PollOutcome, SpawnerError> {
        tracing::warn!(spawner = %self.name, %message, "TaskSpawner cannot poll");
        status.phase = Some(TaskSpawnerPhase::Failed);
        status.message = Some(message.clone());
        self.write_status(status).await?;
        Ok(PollOutcome::Failed { message })
    }

    /// The `workspaceRef` of `item`'s Task, making the item's Workspace first when it gives a
    /// `repo`; `Ok(Err(reason))` when it cannot be made now (the item waits for a later poll).
    async fn item_workspace(
        &self,
        spawner: &TaskSpawner,
        item: &WorkItem,
        template_workspace: &mut Option<Option<WorkspaceSpec>>,
        report: &mut PollReport,
    ) -> Result<Result<Option<LocalObjectReference>, String>, SpawnerError> {
        let template_ref = spawner.spec.task_template.workspace_ref.as_ref();
        if spawner.spec.when.items.is_none() {
            return Ok(Ok(template_ref.cloned()));
        }
        let given = |f: &str| item.fields.get(f).is_some_and(|v| !v.is_empty());
        let needs_template = given(fanout::REPO_FIELD) && !given(fanout::WORKSPACE_FIELD);
        if needs_template
            && template_workspace.is_none()
            && let Some(r) = template_ref
        {
            let found = self
                .get_workspace(&r.name)
                .await
                .map_err(|e| self.backend_error(e))?;
            let Some(found) = found else {
                return Ok(Err(format!(
                    "Workspace {:?} (spec.taskTemplate.workspaceRef) not found: items with a repo inherit its ref and secretRef; create it",
                    r.name
                )));
            };
            *template_workspace = Some(Some(found.spec));
        }
        let inherited = template_workspace.as_ref().and_then(Option::as_ref);
        let choice = fanout::item_workspace(
            &self.name,
            spawner.metadata.namespace.as_deref(),
            item,
            inherited,
        );
        if let ItemWorkspace::Derived(wanted) = &choice {
            let name = wanted.metadata.name.clone().unwrap_or_default();
            let existing = self
                .get_workspace(&name)
                .await
                .map_err(|e| self.backend_error(e))?;
            match fanout::workspace_action(&self.name, wanted, existing.as_ref()) {
                WorkspaceAction::Keep => {}
                WorkspaceAction::Create | WorkspaceAction::Update => {
                    // The same rules as a user's Workspace; the backend makes it owned by
                    // the spawner, so deleting the spawner deletes it (`axon_core::ownership`).
                    let made = match Valid::check_workspace((**wanted).clone()) {
                        Ok(ws) => self.backend.apply_spawned_workspace(spawner, ws).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = made {
                        return Ok(Err(format!("Workspace {name:?} cannot be made: {e}")));
                    }
                    report.workspaces_written.push(name);
                }
                WorkspaceAction::Conflict(reason) => return Ok(Err(reason)),
            }
        }
        Ok(Ok(choice.workspace_ref(template_ref)))
    }

    async fn render(
        &mut self,
        template: &TaskTemplates,
        item: &WorkItem,
        task_name: &str,
        wants_comments: bool,
    ) -> Result<RenderedTemplate, RenderFailure> {
        let mut item = item.clone();
        if wants_comments
            && item.number > 0
            && let Some(client) = self.github.as_mut()
        {
            item.comments = match client.comments(item.number, &self.clock).await {
                Ok(c) => c,
                Err(GithubError::RateLimited { until }) => {
                    return Err(RenderFailure::RateLimited(until));
                }
                Err(e) => return Err(RenderFailure::Message(e.to_string())),
            };
        }
        template
            .render(&item, task_name)
            .map_err(|e| RenderFailure::Message(e.to_string()))
    }

    async fn discover(
        &mut self,
        spawner: &TaskSpawner,
        previous: &TaskSpawnerStatus,
        existing: &[SpawnedTask],
        now: Timestamp,
    ) -> Result<Discovery, SpawnerError> {
        if let Some(c) = &spawner.spec.when.cron {
            let schedule = match cron::parse(&c.schedule) {
                Ok(s) => s,
                Err(e) => return Ok(Discovery::Failed(e.to_string())),
            };
            let created = spawner
                .metadata
                .creation_timestamp
                .as_ref()
                .and_then(|t| Timestamp::from_second(t.0.as_second()).ok());
            let last = previous.last_discovery_time.as_deref().and_then(parse_time);
            let cursor = cron_source::cron_cursor(created, last, existing).unwrap_or(now);
            return Ok(Discovery::Items(
                cron_source::discover(&schedule, cursor, now)
                    .into_iter()
                    .collect(),
            ));
        }
        if spawner.spec.when.items.is_some() {
            // Refused at apply; checked again for specs stored without `axon validate`.
            if let Some(v) = axon_core::spawner_rules::violations(spawner)
                .into_iter()
                .next()
            {
                return Ok(Discovery::Failed(format!("{}: {}", v.path, v.reason)));
            }
            return Ok(Discovery::Items(fanout::work_items(&spawner.spec.when)));
        }
        let Some(filter) = &spawner.spec.when.github_issues else {
            return Ok(Discovery::Failed(
                "spec.when has no source: set githubIssues, cron or items".to_string(),
            ));
        };
        let config = match github_config(
            &self.backend,
            spawner,
            self.options.github_api_base.as_deref(),
        )
        .await?
        {
            Ok(c) => c,
            Err(message) => return Ok(Discovery::Failed(message)),
        };
        // Keep the client (and its caches) while the repository and token stay the same.
        if self.github.as_ref().map(GithubClient::config) != Some(&config) {
            match GithubClient::new(config) {
                Ok(c) => self.github = Some(c),
                Err(e) => return Ok(Discovery::Failed(e.to_string())),
            }
        }
        let Some(client) = self.github.as_mut() else {
            return Ok(Discovery::Failed("GitHub client unavailable".to_string()));
        };
        match client.list_items(filter, &self.clock).await {
            Ok(items) => Ok(Discovery::Items(items)),
            Err(GithubError::RateLimited { until }) => Ok(Discovery::RateLimited(until)),
            Err(e) => Ok(Discovery::Failed(e.to_string())),
        }
    }

    /// When to poll next after `outcome`: the rate-limit reset, the next cron tick, or
    /// `pollInterval` from now.
    async fn next_wait(&self, outcome: &PollOutcome) -> Duration {
        let now = self.clock.now();
        if let PollOutcome::RateLimited { until } = outcome {
            return Duration::try_from(until.duration_since(now)).unwrap_or(Duration::from_secs(1));
        }
        let spawner = self.get_spawner().await.ok().flatten();
        let Some(spawner) = spawner else {
            return Duration::from_secs(1);
        };
        let interval = poll_interval(&spawner);
        if let Some(c) = &spawner.spec.when.cron
            && let Ok(schedule) = cron::parse(&c.schedule)
            && let Some(next) = schedule.next_after(now)
        {
            let until_tick = Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO);
            return until_tick.min(interval).max(Duration::from_millis(100));
        }
        interval
    }

    /// Polls until `shutdown` completes or the TaskSpawner is deleted. A poll in progress when
    /// `shutdown` fires is finished first (its writes are idempotent either way); the wait
    /// between polls is interrupted at once.
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) -> Result<(), SpawnerError> {
        let mut shutdown = pin!(shutdown);
        loop {
            let outcome = self.poll_once().await?;
            match &outcome {
                PollOutcome::Gone => {
                    tracing::info!(spawner = %self.name, "TaskSpawner deleted; stopping");
                    return Ok(());
                }
                PollOutcome::Polled(r) if !r.created.is_empty() => {
                    tracing::info!(spawner = %self.name, created = r.created.len(), "created Tasks");
                }
                PollOutcome::RateLimited { until } => {
                    tracing::warn!(spawner = %self.name, until = %rfc3339(*until), "GitHub rate limit; waiting");
                }
                _ => {}
            }
            let wait = self.next_wait(&outcome).await;
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                () = self.clock.sleep(wait) => {}
            }
        }
    }
}

enum RenderFailure {
    RateLimited(Timestamp),
    Message(String),
}

fn summary(
    report: &PollReport,
    policy: &SpawnPolicy,
    render_failure: Option<&str>,
    workspace_failure: Option<&str>,
) -> String {
    let mut parts = vec![format!("{} items discovered", report.discovered)];
    parts.push(format!("{} Tasks created", report.created.len()));
    if !report.deferred.is_empty() {
        let n = report.deferred.len();
        parts.push(match report.held_by {
            Some(Hold::Suspended) => {
                format!("suspended: {n} waiting to be resumed (axon resume taskspawner NAME)")
            }
            Some(Hold::MaxTotalTasks) => format!(
                "maxTotalTasks {} reached: {n} items get no Task",
                policy.max_total_tasks.unwrap_or(0)
            ),
            None => format!(
                "{n} waiting for a free slot (maxConcurrency {})",
                policy.max_concurrency.unwrap_or(0)
            ),
        });
    }
    if !report.excluded.is_empty() {
        parts.push(format!(
            "{} skipped by excludeLabels",
            report.excluded.len()
        ));
    }
    let mut message = parts.join(", ");
    if let Some(e) = render_failure {
        message.push_str(&format!(
            "; {} items not created: {e}",
            report.render_errors.len()
        ));
    }
    if let Some(e) = workspace_failure {
        message.push_str(&format!(
            "; {} items wait for their Workspace: {e}",
            report.workspace_errors.len()
        ));
    }
    message
}
