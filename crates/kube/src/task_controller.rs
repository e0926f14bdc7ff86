//! The Task controller: one Job per Task (created once), status from the Job and its Pods
//! through the core state machine, an Event per phase transition, TTL deletion, and the Job
//! of a Task failed from a waiting Pod (image pull, container config) deleted. `reconcile`
//! only fetches, calls the pure functions (the start gate of `axon_core`, plan, render,
//! observe, next_status, `task_status`, ttl) and writes.
//!
//! Through the gateway (the default; `axon controller --gateway=false` turns it off while a
//! cluster migrates), the plan is routed by `route_through_gateway` before the Job is
//! rendered: the controller mints the Task's token with the key of the gateway's Secret,
//! keeps the namespace's `axon-gateway-ca` ConfigMap (and for a restricted Task its
//! NetworkPolicy) current, and the Pod holds no Secret. A restricted Task without the gateway
//! fails: nothing would enforce its allowlist.

use crate::error::{KubeError, is_conflict};
use crate::gateway_ca::{ensure_ca_config_map, render_ca_config_map};
use crate::gateway_secret::load_keys;
use crate::job::{JobOptions, PodGateway, render_config_map, render_job};
use crate::metrics::Metrics;
use crate::names::LABEL_TASK;
use crate::network_policy::{ensure_restricted_policy, is_restricted};
use crate::observe::observe;
use crate::prompt::check_prompt;
use crate::task_status::{for_cluster, job_to_stop, may_have_live_job, status_patch};
use crate::ttl::{TtlAction, ttl_action};
use axon_api::contract::LABEL_TASKSPAWNER;
use axon_api::{AgentConfig, Task, TaskPhase, TaskSpawner, TaskStatus, Workspace};
use axon_core::gateway_plan::route_through_gateway;
use axon_core::gateway_token::{TaskIdentity, mint};
use axon_core::references::{FoundSecrets, References, missing_secrets, plan_or_missing};
use axon_core::spawner_window::{SpawnerWindow, owning_spawner};
use axon_core::start_gate::{Gate, GateDecision, TaskFacts, gate};
use axon_core::task_status::{RunObservation, next_status};
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a Task the start gate holds (or one waiting for its Pod) is looked at again.
const RETRY: Duration = Duration::from_secs(5);
/// Safety-net resync of running Tasks (watches drive everything else), and the longest a Task
/// held by a full TaskSpawner window waits before it is looked at again (it is woken sooner
/// when the window opens, when its spawner changes, or when one of its spawner's Tasks does).
const RESYNC: Duration = Duration::from_secs(300);

/// When to look again at a Task that waits: at the time the gate named (a spawner window
/// opening), within [`RESYNC`], else after [`RETRY`].
fn requeue_waiting(recheck_at: Option<Timestamp>, now: Timestamp) -> Duration {
    match recheck_at {
        Some(at) => Duration::try_from(now.duration_until(at))
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_secs(1), RESYNC),
        None => RETRY,
    }
}

/// What the Task controller needs.
pub struct Context {
    pub client: Client,
    pub job_options: JobOptions,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    /// Route Tasks through the gateway (`None`: `--gateway=false`, Pods hold their Secrets).
    pub gateway: Option<ControllerGateway>,
}

/// The controller's gateway settings.
#[derive(Clone, Debug)]
pub struct ControllerGateway {
    /// The gateway's origin as agent Pods reach it ([`crate::names::gateway_origin`] in a
    /// cluster).
    pub origin: String,
    /// The system CA bundle put in front of the gateway CA in each namespace's bundle.
    pub system_roots: Option<String>,
}

impl ControllerGateway {
    /// The in-cluster gateway, with this machine's system roots.
    pub fn in_cluster() -> ControllerGateway {
        ControllerGateway {
            origin: crate::names::gateway_origin(),
            system_roots: crate::gateway_ca::read_system_roots(),
        }
    }
}

fn what(task: &Task) -> String {
    format!(
        "Task {}/{}",
        task.namespace().unwrap_or_default(),
        task.name_any()
    )
}

/// Reconcile one Task (records duration and errors in the metrics).
pub async fn reconcile(task: Arc<Task>, ctx: Arc<Context>) -> Result<Action, KubeError> {
    let start = Instant::now();
    let now =
        Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now());
    let result = reconcile_task(&task, &ctx, now).await;
    ctx.metrics
        .reconciled("task", start.elapsed(), result.is_err());
    result
}

/// What to do after a failed reconcile: log and retry soon.
pub fn error_policy(task: Arc<Task>, err: &KubeError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(task = %what(&task), error = %err, "reconcile failed");
    Action::requeue(Duration::from_secs(10))
}

async fn reconcile_task(task: &Task, ctx: &Context, now: Timestamp) -> Result<Action, KubeError> {
    let ns = task.namespace().unwrap_or_default();
    let name = task.name_any();
    let client = ctx.client.clone();
    let current = task.status.clone().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    if current.phase.is_some_and(TaskPhase::is_finished) {
        if may_have_live_job(&current) {
            // A deletion that failed, or a controller that restarted in between.
            let job = jobs
                .get_opt(&name)
                .await
                .map_err(|e| KubeError::api(format!("get Job {ns}/{name}"), e))?;
            if let Some(job) = job.filter(|j| job_to_stop(&current, j)) {
                stop_job(task, ctx, &job, &current).await?;
            }
        }
        return expire(task, ctx, now).await;
    }
    let job = jobs
        .get_opt(&name)
        .await
        .map_err(|e| KubeError::api(format!("get Job {ns}/{name}"), e))?;
    let mut admitted = Vec::new();
    let mut recheck_at = None;
    let cancel = axon_core::cancel::requested_by(task);
    let at = now.to_string();
    let observation = match &job {
        Some(job) => {
            let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let pods = pods
                .list(&ListParams::default().labels(&format!("{LABEL_TASK}={name}")))
                .await
                .map_err(|e| KubeError::api(format!("list Pods of Task {ns}/{name}"), e))?;
            // The deadline the Job was created with (the default may have changed since).
            let deadline = job
                .spec
                .as_ref()
                .and_then(|s| s.active_deadline_seconds)
                .or(task.spec.timeout_seconds);
            let seen = observe(job, &pods.items, deadline, &at);
            // A run that ended first keeps its end; otherwise the Job is deleted below.
            axon_core::cancel::with_request(seen, cancel.as_deref(), &at)
        }
        // Cancelled before it started: it never gets a Job.
        None if let Some(by) = &cancel => axon_core::cancel::cancelled(by, &at, None),
        None => {
            let (mut observations, recheck) = start(task, ctx, now).await?;
            recheck_at = recheck;
            let last = observations.pop().unwrap_or(RunObservation::Waiting {
                reason: "waiting to start".into(),
            });
            admitted = observations;
            last
        }
    };
    let mut next = current.clone();
    for o in admitted.iter().chain(std::iter::once(&observation)) {
        next = next_status(&next, o, task.metadata.generation);
    }
    let next = for_cluster(next);
    if next != current {
        write_status(task, ctx, &current, &next).await?;
    }
    // Failed from a waiting Pod (image pull, container config), or cancelled: nothing may run
    // behind it.
    if let Some(job) = job.as_ref().filter(|j| job_to_stop(&next, j)) {
        stop_job(task, ctx, job, &next).await?;
    }
    Ok(match (&observation, next.phase) {
        (_, Some(p)) if p.is_finished() => {
            match ttl_action(Some(&next), task.spec.ttl_seconds_after_finished, now) {
                TtlAction::RequeueAfter(d) => Action::requeue(d),
                TtlAction::Delete => Action::requeue(Duration::from_secs(1)),
                TtlAction::Keep => Action::await_change(),
            }
        }
        (RunObservation::Waiting { .. } | RunObservation::Gated { .. }, _) => {
            Action::requeue(requeue_waiting(recheck_at, now))
        }
        _ => Action::requeue(RESYNC),
    })
}

/// No Job yet: ask the start gate (dependencies, references, branch, spawner budget), then
/// create the ConfigMap and the Job with what it admitted. The observations to record, in
/// order, and when the gate's answer changes by time alone.
async fn start(
    task: &Task,
    ctx: &Context,
    now: Timestamp,
) -> Result<(Vec<RunObservation>, Option<Timestamp>), KubeError> {
    let ns = task.namespace().unwrap_or_default();
    let failed = |reason: String| {
        Ok((
            vec![RunObservation::SetupFailed {
                at: now.to_string(),
                reason,
            }],
            None,
        ))
    };
    // A prompt that is not a template can be refused before anything is fetched.
    if task.spec.depends_on.is_empty()
        && let Err(e) = check_prompt(&task.spec.prompt)
    {
        return failed(e.to_string());
    }
    let client = ctx.client.clone();
    let workspace = match &task.spec.workspace_ref {
        Some(r) => Api::<Workspace>::namespaced(client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|e| KubeError::api(format!("get Workspace {ns}/{}", r.name), e))?,
        None => None,
    };
    let agent_configs = agent_configs(&client, &ns, &task.spec).await?;
    let (mut plan, missing) = match plan_or_missing(task, workspace.as_ref(), &agent_configs) {
        Err(e) => return failed(e.to_string()),
        Ok(References::Missing(m)) => (None, m),
        Ok(References::Ready(plan)) => {
            let found = secret_keys(&client, &ns, &plan.secret_refs()).await?;
            let missing = missing_secrets(&plan.secret_refs(), &found);
            (Some(*plan), missing)
        }
    };
    let decision = gate_of(task, &client, &ns, workspace.as_ref(), &missing, now).await?;
    let admitted = decision.observation(&now.to_string());
    let Gate::Start(admit) = decision.gate else {
        return Ok((vec![admitted], decision.recheck_at));
    };
    let Some(plan) = plan.as_mut() else {
        return failed("the start gate admitted a Task whose references are missing".into());
    };
    plan.admit(
        admit.prompt_rendered.then(|| admit.prompt.clone()),
        admit.branch.clone(),
    );
    if let Err(e) = check_prompt(&plan.prompt) {
        return failed(e.to_string());
    }
    let created = create_job(task, ctx, plan, now).await?;
    Ok((vec![admitted, created], None))
}

/// The key names (never the values) of the Secrets `required` names.
async fn secret_keys(
    client: &Client,
    ns: &str,
    required: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<FoundSecrets, KubeError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut found = FoundSecrets::new();
    for secret in required.keys() {
        let s = secrets
            .get_opt(secret)
            .await
            .map_err(|e| KubeError::api(format!("get Secret {ns}/{secret}"), e))?;
        let keys = s.map(|s| {
            s.data
                .iter()
                .flat_map(|d| d.keys().cloned())
                .chain(s.string_data.iter().flat_map(|d| d.keys().cloned()))
                .collect::<BTreeSet<String>>()
        });
        found.insert(secret.clone(), keys);
    }
    Ok(found)
}

/// The start gate's decision: the Tasks of the namespace, which of them have a Job, (for a
/// Task with a branch) the repositories of their Workspaces, and (for a Task a TaskSpawner
/// made) the spawner's budget and what its Tasks spent.
async fn gate_of(
    task: &Task,
    client: &Client,
    ns: &str,
    workspace: Option<&Workspace>,
    missing: &[String],
    now: Timestamp,
) -> Result<GateDecision, KubeError> {
    let tasks = if task.spec.depends_on.is_empty() && task.spec.branch.is_none() {
        Vec::new()
    } else {
        Api::<Task>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
            .map_err(|e| KubeError::api(format!("list Tasks in {ns}"), e))?
            .items
    };
    let (with_job, repos) = if task.spec.branch.is_some() {
        let jobs = Api::<Job>::namespaced(client.clone(), ns)
            .list_metadata(&ListParams::default().labels(LABEL_TASK))
            .await
            .map_err(|e| KubeError::api(format!("list Jobs in {ns}"), e))?;
        let with_job: BTreeSet<String> = jobs.items.iter().map(|j| j.name_any()).collect();
        let repos: std::collections::BTreeMap<String, String> =
            Api::<Workspace>::namespaced(client.clone(), ns)
                .list(&ListParams::default())
                .await
                .map_err(|e| KubeError::api(format!("list Workspaces in {ns}"), e))?
                .items
                .into_iter()
                .map(|w| (w.name_any(), w.spec.repo))
                .collect();
        (with_job, repos)
    } else {
        Default::default()
    };
    let repo_of = |t: &Task| {
        t.spec
            .workspace_ref
            .as_ref()
            .and_then(|r| repos.get(&r.name))
            .map(String::as_str)
    };
    let active = |t: &Task| with_job.contains(t.metadata.name.as_deref().unwrap_or_default());
    let all: Vec<TaskFacts<'_>> = tasks
        .iter()
        .map(|t| TaskFacts::of(t, active(t), repo_of(t), now))
        .collect();
    let me = TaskFacts::of(
        task,
        active(task),
        workspace.map(|w| w.spec.repo.as_str()),
        now,
    );
    let window = spawner_window(task, client, ns, now).await?;
    Ok(gate(&me, &all, missing, window.as_ref(), now))
}

/// The budget facts of a Task a TaskSpawner made: the spawner, and the Tasks labelled with its
/// name (those it owns count). `None` without a spawner, or when it sets no budget.
async fn spawner_window(
    task: &Task,
    client: &Client,
    ns: &str,
    now: Timestamp,
) -> Result<Option<SpawnerWindow>, KubeError> {
    let Some(name) = owning_spawner(task) else {
        return Ok(None);
    };
    let spawner = Api::<TaskSpawner>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| KubeError::api(format!("get TaskSpawner {ns}/{name}"), e))?;
    let Some(spawner) = spawner.filter(|s| s.spec.budget.is_some()) else {
        return Ok(None);
    };
    let tasks = Api::<Task>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("{LABEL_TASKSPAWNER}={name}")))
        .await
        .map_err(|e| KubeError::api(format!("list the Tasks of TaskSpawner {ns}/{name}"), e))?
        .items;
    Ok(SpawnerWindow::of(task, Some(&spawner), &tasks, now))
}

/// Create the ConfigMap (prompt, AgentConfig and Workspace files) and the Job; both are
/// idempotent by name.
async fn create_job(
    task: &Task,
    ctx: &Context,
    plan: &axon_core::plan::RunPlan,
    now: Timestamp,
) -> Result<RunObservation, KubeError> {
    let ns = task.namespace().unwrap_or_default();
    let name = task.name_any();
    let client = ctx.client.clone();
    let mut plan = plan.clone();
    let gateway = match &ctx.gateway {
        None if is_restricted(task) => {
            return Ok(RunObservation::SetupFailed {
                at: now.to_string(),
                reason: "spec.network.mode restricted needs the Axon gateway, and the controller runs with --gateway=false: run it with --gateway=true (axon install does), or use mode open".into(),
            });
        }
        None => None,
        Some(g) => match gateway_for(task, ctx, g, &mut plan, now).await? {
            Ok(pg) => Some(pg),
            Err(not_yet) => return Ok(not_yet),
        },
    };
    let gateway = gateway.as_ref();
    let pp = PostParams::default();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    match cms
        .create(&pp, &render_config_map(&plan, task, gateway))
        .await
    {
        Ok(_) => {}
        Err(e) if is_conflict(&e) => {}
        Err(kube::Error::Api(s)) if s.code == 422 || s.code == 400 => {
            return Ok(RunObservation::SetupFailed {
                at: now.to_string(),
                reason: format!(
                    "cannot create the ConfigMap with the prompt, AgentConfig and Workspace files: {}",
                    s.message
                ),
            });
        }
        Err(e) => {
            return Err(KubeError::api(
                format!("create ConfigMap for Task {ns}/{name}"),
                e,
            ));
        }
    }
    let job = render_job(&plan, task, &ctx.job_options, gateway);
    let jobs: Api<Job> = Api::namespaced(client, &ns);
    match jobs.create(&pp, &job).await {
        Ok(_) => {
            tracing::info!(task = %what(task), "created Job");
            publish(
                ctx,
                task,
                EventType::Normal,
                "JobCreated",
                format!("created Job {name}"),
            )
            .await;
        }
        Err(e) if is_conflict(&e) => {}
        Err(kube::Error::Api(s)) if s.code == 422 || s.code == 400 => {
            return Ok(RunObservation::SetupFailed {
                at: now.to_string(),
                reason: format!("cannot create the Job: {}", s.message),
            });
        }
        Err(e) => return Err(KubeError::api(format!("create Job {ns}/{name}"), e)),
    }
    Ok(RunObservation::Waiting {
        reason: format!("created Job {name}, waiting for its Pod"),
    })
}

/// Route `plan` through the gateway and prepare the namespace for it: the Task's token (from
/// the gateway Secret's key), the namespace's CA ConfigMap, and for a restricted Task its
/// NetworkPolicy. A missing gateway Secret keeps the Task waiting (it names the fix); a
/// `modelBaseURL` the gateway cannot front fails it.
async fn gateway_for(
    task: &Task,
    ctx: &Context,
    g: &ControllerGateway,
    plan: &mut axon_core::plan::RunPlan,
    now: Timestamp,
) -> Result<Result<PodGateway, RunObservation>, KubeError> {
    let ns = task.namespace().unwrap_or_default();
    if let Err(e) = route_through_gateway(plan) {
        return Ok(Err(RunObservation::SetupFailed {
            at: now.to_string(),
            reason: e.to_string(),
        }));
    }
    let keys = match load_keys(&ctx.client).await {
        Ok(k) => k,
        Err(KubeError::Gateway(reason)) => {
            tracing::warn!(task = %what(task), reason = %reason, "cannot route through the gateway yet");
            return Ok(Err(RunObservation::Waiting { reason }));
        }
        Err(e) => return Err(e),
    };
    let Some(uid) = task.metadata.uid.clone() else {
        return Err(KubeError::Api {
            what: format!("mint the gateway token of {}", what(task)),
            reason: "the Task has no uid".into(),
        });
    };
    let token = mint(
        &keys.token_key,
        &TaskIdentity {
            namespace: ns.clone(),
            name: task.name_any(),
            uid,
        },
    );
    ensure_ca_config_map(
        &ctx.client,
        &render_ca_config_map(&ns, g.system_roots.as_deref(), &keys.ca_cert_pem),
    )
    .await?;
    let restricted = is_restricted(task);
    if restricted {
        ensure_restricted_policy(&ctx.client, &ns).await?;
    }
    Ok(Ok(PodGateway {
        token,
        origin: g.origin.clone(),
        restricted,
    }))
}

/// Write the new status and tell about a phase change (Event, metrics, log).
async fn write_status(
    task: &Task,
    ctx: &Context,
    old: &TaskStatus,
    new: &TaskStatus,
) -> Result<(), KubeError> {
    let ns = task.namespace().unwrap_or_default();
    let name = task.name_any();
    let api: Api<Task> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = status_patch(old, new);
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| KubeError::api(format!("update status of {}", what(task)), e))?;
    if old.phase != new.phase {
        let phase = new.phase.unwrap_or_default();
        let message = new.message.clone().unwrap_or_default();
        tracing::info!(task = %what(task), phase = %phase, message = %message, "phase changed");
        let kind = if phase == TaskPhase::Failed {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, task, kind, phase.as_str(), message).await;
        if phase.is_finished() {
            let u = new.usage.clone().unwrap_or_default();
            let spawner = task.labels().get(crate::names::LABEL_SPAWNER);
            ctx.metrics.task_finished(
                phase.as_str(),
                &crate::metrics::TaskSpend {
                    spawner: spawner.map(String::as_str),
                    model: task.spec.model.as_deref(),
                    input_tokens: u.input_tokens,
                    output_tokens: u.output_tokens,
                    cost_usd: u.cost_usd,
                },
            );
        }
    }
    Ok(())
}

/// Delete the active Job of a Task that finished without it (propagation Background: its Pod
/// goes too), so the agent cannot start later behind a Failed status, or go on behind a
/// Cancelled one.
async fn stop_job(
    task: &Task,
    ctx: &Context,
    job: &Job,
    status: &TaskStatus,
) -> Result<(), KubeError> {
    let ns = task.namespace().unwrap_or_default();
    let job_name = job.name_any();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    match jobs.delete(&job_name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(e) if crate::error::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(KubeError::api(format!("delete Job {ns}/{job_name}"), e)),
    }
    let why = status.message.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or_default();
    tracing::info!(task = %what(task), job = %job_name, phase = %phase, reason = %why, "deleted the Job of a finished Task");
    publish(
        ctx,
        task,
        EventType::Normal,
        "JobDeleted",
        format!("deleted Job {job_name} so that nothing runs behind the {phase} Task: {why}"),
    )
    .await;
    Ok(())
}

/// Publish an Event about the Task; a failure is logged, never fatal.
async fn publish(ctx: &Context, task: &Task, type_: EventType, reason: &str, note: String) {
    let mut note = note;
    if note.len() > 1000 {
        let mut cut = 1000;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
    }
    let ev = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &task.object_ref(&())).await {
        tracing::warn!(task = %what(task), error = %e, "cannot publish event");
    }
}

/// A finished Task: delete it when its TTL expired (Job and ConfigMap follow by owner reference).
async fn expire(task: &Task, ctx: &Context, now: Timestamp) -> Result<Action, KubeError> {
    match ttl_action(
        task.status.as_ref(),
        task.spec.ttl_seconds_after_finished,
        now,
    ) {
        TtlAction::Keep => Ok(Action::await_change()),
        TtlAction::RequeueAfter(d) => Ok(Action::requeue(d)),
        TtlAction::Delete => {
            let ns = task.namespace().unwrap_or_default();
            let api: Api<Task> = Api::namespaced(ctx.client.clone(), &ns);
            match api
                .delete(&task.name_any(), &DeleteParams::background())
                .await
            {
                Ok(_) => {
                    tracing::info!(task = %what(task), "deleted after ttlSecondsAfterFinished")
                }
                Err(e) if crate::error::is_not_found(&e) => {}
                Err(e) => return Err(KubeError::api(format!("delete {}", what(task)), e)),
            }
            Ok(Action::await_change())
        }
    }
}

/// Those of the Task's AgentConfigs that exist in `ns` (the start gate names the others).
pub(crate) async fn agent_configs(
    client: &kube::Client,
    ns: &str,
    spec: &axon_api::TaskSpec,
) -> Result<Vec<AgentConfig>, KubeError> {
    let api = Api::<AgentConfig>::namespaced(client.clone(), ns);
    let mut found = Vec::new();
    for name in spec.agent_config_names() {
        let got = api
            .get_opt(name)
            .await
            .map_err(|e| KubeError::api(format!("get AgentConfig {ns}/{name}"), e))?;
        found.extend(got);
    }
    Ok(found)
}
