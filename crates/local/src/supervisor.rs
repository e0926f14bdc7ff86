//! The per-Task supervisor (`axon __local supervise`): one detached process per run, holding
//! the Task's run lock (handed over by the engine) for as long as the run lives. It resolves
//! the RunPlan (secrets from the local store, config files), prepares the workspace, starts
//! the sandbox with the Task's log as stdout/stderr, enforces `timeoutSeconds` (the Task's, else
//! the configured default, else 4 h), kills a run whose runner stays stopped, stops on SIGTERM
//! (a delete, or a cancel: then the sandbox's whole process tree is killed and the work tree
//! saved on the WIP branch, see `crate::cancel`), and reports each step as a
//! `RunObservation`. It survives the engine: a restarted engine finds it alive through its
//! lock and adopts it.
//!
//! Results are taken only after the sandbox's PID namespace is gone, and only from what the
//! agent cannot write: git is read on the work tree by [`axon_agent::collect`] with its
//! precautions, the branch is looked up on the remote Axon knows, and the agent's stream is
//! read from the Task's log, which the sandbox can reach only through its inherited output
//! descriptors. No directory the supervisor reads is bound writable into the sandbox.

use crate::error::LocalError;
use crate::ids;
use crate::kick;
use crate::lock::{Lock, signal_group};
use crate::observe::observe;
use crate::paths::{Home, TaskDir};
use crate::run_options::RunOptions;
use crate::sandbox::{
    SANDBOX_GID, SANDBOX_UID, SandboxMode, SandboxSpec, find_bwrap, render, untraversable_ancestors,
};
use crate::secrets::Secrets;
use crate::store::Store;
use crate::task_gateway::{TaskGateway, TaskGatewaySpec};
use crate::workspace_prep::{PrepareRequest, prepare};
use axon_agent::collect::{CollectInput, claims_from_stream, collect};
use axon_agent::outside_push::{is_local_repository, push_agent_branch};
use axon_agent::wip::Stop;
use axon_api::{AgentConfig, AgentType, Kind, Task, TaskPhase, Workspace};
use axon_core::cancel::cancelled;
use axon_core::gateway_plan::route_through_gateway;
use axon_core::plan::{EnvValue, RunPlan, plan_run};
use axon_core::results::ResultsDocument;
use axon_core::task_status::{EndCause, RunObservation};
use axon_core::timeout::effective_timeout;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// How long the runner (or the sandbox machinery around it) may stay stopped before the run
/// is killed.
const STOPPED_GRACE: Duration = Duration::from_secs(10);

/// What the setup produced: the sandboxed command, ready to start, and what the results are
/// measured against.
struct Launch {
    program: PathBuf,
    args: Vec<std::ffi::OsString>,
    env: BTreeMap<String, String>,
    work: PathBuf,
    base_branch: Option<String>,
    base_head: Option<String>,
    agent_type: Option<AgentType>,
    remote_url: Option<String>,
    token_file: Option<PathBuf>,
    /// The mirror's object directory the work tree borrows from.
    lent_objects: Option<PathBuf>,
    secrets: Vec<String>,
    /// Keeps the seccomp program's descriptor open until the sandbox has started.
    _seccomp: Option<std::os::fd::OwnedFd>,
}

/// Run Task `name` (uid `uid`) to its end. `lock` is the Task's run lock.
pub async fn supervise(
    home: Home,
    name: String,
    uid: String,
    lock: Lock,
    exe: PathBuf,
) -> Result<(), LocalError> {
    crate::profile::mark("supervisor running");
    let _lock = lock;
    let store = Store::open(&home.db())?;
    let td = home.task(&uid);
    std::fs::create_dir_all(&td.root)
        .map_err(|e| LocalError::io(format!("create {}", td.root.display()), e))?;
    std::fs::write(td.supervisor_pid(), std::process::id().to_string())
        .map_err(|e| LocalError::io("write supervisor.pid", e))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| LocalError::io("SIGTERM", e))?;

    let Some(row) = store.get(Kind::Task, &name)? else {
        return Ok(());
    };
    if row.doc.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
        return Ok(());
    }
    let task: Task = serde_json::from_value(row.doc.clone())
        .map_err(|e| LocalError::io(format!("read Task {name}"), e))?;
    let phase = task.status.as_ref().and_then(|s| s.phase);
    if phase.is_some_and(|p| p != TaskPhase::Pending) {
        // Already started once: never run twice.
        return Ok(());
    }
    if let Some(by) = axon_core::cancel::requested_by(&task) {
        // Cancelled before it started: nothing to stop or save.
        observe(&store, &name, &uid, &cancelled(&by, &ids::now(), None))?;
        let _ = kick::kick(&home, &exe);
        return Ok(());
    }
    let opts: RunOptions = row
        .run_options
        .and_then(|o| serde_json::from_value(o).ok())
        .unwrap_or_default();

    crate::profile::mark_task("task read", &name);
    // `timeoutSeconds` covers the whole run, clone and retries included, as a Job's
    // `activeDeadlineSeconds` does on Kubernetes.
    let limit = effective_timeout(task.spec.timeout_seconds, opts.default_timeout_seconds);
    let deadline = limit.map(|s| (tokio::time::Instant::now() + Duration::from_secs(s), s));
    let retries = task.spec.backoff_limit.unwrap_or(0).max(0);
    let mut attempt = 0;
    // One gateway for every attempt: the budget covers the Task, not a run.
    let mut gateway: Option<TaskGateway> = None;
    loop {
        let attempt_of = (attempt, retries);
        let end = run_once(
            (&home, &store, &td),
            &task,
            &opts,
            &exe,
            &mut term,
            deadline,
            &mut gateway,
        )
        .await;
        let end = match end {
            Ok(end) => end,
            Err(e) => {
                if let Some(g) = gateway.take() {
                    g.stop().await;
                }
                return Err(e);
            }
        };
        let RunObservation::Finished {
            results,
            exit_code,
            cause,
            ..
        } = &end
        else {
            observe(&store, &name, &uid, &end)?;
            break;
        };
        if let Some(why) =
            axon_core::retry::retry_after(attempt_of, results.as_ref(), *exit_code, cause.as_ref())
        {
            attempt += 1;
            observe(
                &store,
                &name,
                &uid,
                &RunObservation::Waiting { reason: why },
            )?;
            clear_run_dirs(&td);
            continue;
        }
        observe(&store, &name, &uid, &end)?;
        break;
    }
    // The status is stored: the slot is free and a dependant may start. Wake the engine now,
    // not after the gateway's stop.
    crate::profile::mark("status stored");
    kick::notify(&home);
    crate::profile::mark("engine kicked");
    if let Some(g) = gateway.take() {
        g.stop().await;
    }
    // The engine that started this supervisor normally still runs; if it does not, one must
    // (for the Tasks that wait for this one).
    let _ = kick::ensure_engine(&home, &exe);
    Ok(())
}

/// Empty the directories a run writes (work tree, home, tmp) so a retry starts afresh, as a
/// new Pod would.
fn clear_run_dirs(td: &TaskDir) {
    for d in [td.work(), td.home(), td.tmp()] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// One attempt: set up (workspace, secrets), run the sandbox, take the results; what to
/// record (a setup failure, a cancel, a timeout — `deadline` is the Task's, with its seconds —
/// or the run's end).
async fn run_once(
    (home, store, td): (&Home, &Store, &TaskDir),
    task: &Task,
    opts: &RunOptions,
    exe: &Path,
    term: &mut tokio::signal::unix::Signal,
    deadline: Option<(tokio::time::Instant, u64)>,
    gateway: &mut Option<TaskGateway>,
) -> Result<RunObservation, LocalError> {
    let timed_out = || {
        let seconds = deadline.map_or(0, |(_, s)| i64::try_from(s).unwrap_or(i64::MAX));
        finished(None, None, Some(EndCause::Timeout { seconds }))
    };
    let name = task.metadata.name.clone().unwrap_or_default();
    let uid = task.metadata.uid.clone().unwrap_or_default();
    let until_deadline = async {
        match deadline {
            Some((d, _)) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until_deadline);
    let setup = tokio::select! {
        r = setup(home, store, td, task, opts, exe, gateway) => Some(r),
        _ = term.recv() => None,
        _ = &mut until_deadline => return Ok(timed_out()),
    };
    let launch = match setup {
        None => return Ok(finished(None, None, Some(stop_cause(store, &name, &uid)))),
        Some(Err(reason)) => {
            return Ok(RunObservation::SetupFailed {
                at: ids::now(),
                reason,
            });
        }
        Some(Ok(l)) => l,
    };
    let Some(gw) = gateway.as_ref() else {
        return Ok(RunObservation::SetupFailed {
            at: ids::now(),
            reason: "the Task's gateway did not start".into(),
        });
    };
    // Subscribed before the agent starts, so no refusal is missed.
    let gateway_events = gateway_events(gw.events(), (store, td), (&name, &uid));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(td.log())
        .map_err(|e| LocalError::io("open the Task log", e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| LocalError::io("open the Task log", e))?;
    let mut cmd = tokio::process::Command::new(&launch.program);
    cmd.args(&launch.args)
        .env_clear()
        .envs(&launch.env)
        .current_dir(&launch.work)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    crate::profile::mark("starting the sandbox");
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ok(RunObservation::SetupFailed {
                at: ids::now(),
                reason: format!("cannot start {}: {e}", launch.program.display()),
            });
        }
    };
    let pid = child.id().map(|p| p as i32).unwrap_or_default();
    let _ = std::fs::write(td.sandbox_pid(), pid.to_string());
    let short: String = uid.chars().take(8).collect();
    observe(
        store,
        &name,
        &uid,
        &RunObservation::Started {
            at: ids::now(),
            job: format!("{name}-{short}"),
            pod: pid.to_string(),
        },
    )?;

    let watchdog = stopped_runner(pid, exe.to_path_buf());
    // Biased, the gateway first: an agent that exits on the budget refusal has it waiting in
    // the channel already (the event is sent before the refusal), so the stop is named.
    let (status, cause) = tokio::select! {
        biased;
        message = gateway_events => {
            signal_group(pid, libc::SIGKILL);
            (child.wait().await.ok(), Some(EndCause::BudgetExceeded { message }))
        }
        s = child.wait() => (s.ok(), None),
        _ = &mut until_deadline => {
            signal_group(pid, libc::SIGKILL);
            let _ = child.wait().await;
            return Ok(timed_out());
        }
        seconds = watchdog => {
            signal_group(pid, libc::SIGKILL);
            (child.wait().await.ok(), Some(EndCause::RunnerStopped { seconds }))
        }
        _ = term.recv() => {
            crate::stop_tree::kill_tree(pid);
            (child.wait().await.ok(), Some(stop_cause(store, &name, &uid)))
        }
    };
    crate::profile::mark("agent exited");
    // The sandbox's PID namespace died with its first process; this only catches a sandbox
    // without one (`--sandbox none`).
    signal_group(pid, libc::SIGKILL);
    let code = status.and_then(|s| s.code());
    let results = match &cause {
        None => Some(results(&launch, td, code, gw).await),
        Some(EndCause::BudgetExceeded { message }) => {
            Some(stopped_results(&launch, td, task, gw, Stop::OverBudget(message)).await)
        }
        Some(EndCause::Cancelled { by }) => {
            Some(stopped_results(&launch, td, task, gw, Stop::Cancelled(by)).await)
        }
        Some(_) => None,
    };
    crate::profile::mark("results read");
    Ok(finished(results, code, cause))
}

/// The results document, measured now that nothing of the sandbox runs; usage is what the
/// gateway measured, whatever the agent printed.
async fn results(
    launch: &Launch,
    td: &TaskDir,
    code: Option<i32>,
    gw: &TaskGateway,
) -> ResultsDocument {
    let log = td.log();
    let agent_type = launch.agent_type;
    let reported = tokio::task::spawn_blocking(move || claims_from_stream(agent_type, &log, code))
        .await
        .ok();
    push_to_local_repository(launch, td).await;
    collect(&CollectInput {
        work: &launch.work,
        custom: launch.agent_type.is_none(),
        reported,
        runner_exit: code,
        base_branch: launch.base_branch.as_deref(),
        base_head: launch.base_head.as_deref(),
        remote_url: launch.remote_url.as_deref(),
        token_file: launch.token_file.as_deref(),
        github_api: None,
        secrets: launch.secrets.clone(),
    })
    .await
    .with_measured_usage(measured(gw, td).as_ref())
}

/// The gateway's figures, with a warning in the Task's log for a model without a price (its
/// cost is unknown, never guessed).
fn measured(gw: &TaskGateway, td: &TaskDir) -> Option<axon_gateway::UsageTotals> {
    let totals = gw.usage()?;
    if !totals.unpriced_models.is_empty() {
        let models: Vec<&str> = totals.unpriced_models.iter().map(String::as_str).collect();
        append_log(
            td,
            &format!(
                "axon: warning: no price for model(s) {}: the Task's cost is unknown (add them to pricing in the config file or the Task)\n",
                models.join(", ")
            ),
        );
    }
    Some(totals)
}

/// Why SIGTERM stopped the run: a cancel request recorded on the Task (`Cancelled`, the work
/// tree is saved), else its deletion (the row is gone: nothing is recorded) or a stop from
/// outside Axon (a failure that says so).
fn stop_cause(store: &Store, name: &str, uid: &str) -> EndCause {
    let task = store
        .get(Kind::Task, name)
        .ok()
        .flatten()
        .filter(|row| row.doc.pointer("/metadata/uid").and_then(Value::as_str) == Some(uid))
        .and_then(|row| serde_json::from_value::<Task>(row.doc).ok());
    match task {
        None => EndCause::Other("the Task was deleted".into()),
        Some(t) => match axon_core::cancel::requested_by(&t) {
            Some(by) => EndCause::Cancelled { by },
            None => EndCause::Other(
                "the run was stopped from outside Axon (its supervisor got SIGTERM)".into(),
            ),
        },
    }
}

/// The results of a run Axon stopped (the gateway over budget, or a cancel): whatever the work
/// tree holds is committed on the Task's WIP branch from outside and pushed when the Workspace
/// can be pushed to (nothing lost); the failure says why.
async fn stopped_results(
    launch: &Launch,
    td: &TaskDir,
    task: &Task,
    gw: &TaskGateway,
    stop: Stop<'_>,
) -> ResultsDocument {
    let mut doc = ResultsDocument {
        agent_type: launch.agent_type.map(|a| a.as_str().to_string()),
        base_branch: launch.base_branch.clone(),
        ..Default::default()
    };
    let name = task.metadata.name.clone().unwrap_or_default();
    let save = launch
        .remote_url
        .as_deref()
        .map(|remote| axon_agent::wip::WipRequest {
            work: &launch.work,
            base_head: launch.base_head.as_deref(),
            task: &name,
            remote,
            token_file: launch.token_file.as_deref(),
            lent_objects: launch.lent_objects.as_deref(),
        });
    if let Some(line) = axon_agent::wip::stopped(&mut doc, stop, save.as_ref()).await {
        append_log(td, &format!("{line}\n"));
    }
    doc.with_measured_usage(measured(gw, td).as_ref())
}

/// Append one line of Axon's own to the Task's log.
fn append_log(td: &TaskDir, line: &str) {
    use std::io::Write;
    if let Ok(mut log) = std::fs::OpenOptions::new().append(true).open(td.log()) {
        let _ = log.write_all(line.as_bytes());
    }
}

/// A Workspace repository on this machine (a path or `file://`): the sandbox sees it
/// read-only, so the agent's push cannot land; Axon pushes the agent's branch from outside
/// (never the base branch, nothing of the agent's `.git` run). Why it could not is told in
/// the Task's log; the results then show the branch unpushed.
async fn push_to_local_repository(launch: &Launch, td: &TaskDir) {
    let Some(url) = launch
        .remote_url
        .as_deref()
        .filter(|u| is_local_repository(u))
    else {
        return;
    };
    let pushed = push_agent_branch(
        &launch.work,
        launch.base_branch.as_deref(),
        launch.base_head.as_deref(),
        url,
        launch.lent_objects.as_deref(),
    )
    .await;
    if let Err(e) = pushed {
        append_log(
            td,
            &format!("axon: warning: the branch was not pushed to the local repository: {e}\n"),
        );
    }
}

/// Follows what the Task's gateway reports while the agent runs: live spend goes into status,
/// each refused connection into the Task's log; resolves with the message of a budget refusal
/// (the run is then stopped).
async fn gateway_events(
    mut events: tokio::sync::broadcast::Receiver<axon_gateway::GatewayEvent>,
    (store, td): (&Store, &TaskDir),
    (name, uid): (&str, &str),
) -> String {
    use axon_gateway::GatewayEvent;
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(GatewayEvent::BudgetExceeded { message, .. }) => return message,
            Ok(GatewayEvent::Usage { totals, .. }) => {
                let usage = axon_core::results::Usage::measured(&totals);
                let _ = observe(store, name, uid, &RunObservation::Spend { usage });
            }
            Ok(GatewayEvent::EgressDenied { host, .. }) => append_log(
                td,
                &format!(
                    "axon: the gateway refused a connection to {host}: spec.network is restricted (add the domain to spec.network.allow to admit it)\n"
                ),
            ),
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// Resolves (with the number of seconds) once the sandbox's own processes — bubblewrap, the
/// privilege drop, and `axon agent run` — have stayed stopped or traced for
/// [`STOPPED_GRACE`]: a stopped runner would otherwise keep the Task Running forever.
async fn stopped_runner(root: i32, exe: PathBuf) -> u64 {
    let mut since: Option<std::time::Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stopped = crate::proc_tree::descendants(root)
            .into_iter()
            .chain(std::iter::once(root))
            .filter(|p| crate::proc_tree::is_machinery(*p, &exe))
            .any(crate::proc_tree::is_stopped);
        match (stopped, since) {
            (false, _) => since = None,
            (true, None) => since = Some(std::time::Instant::now()),
            (true, Some(t)) if t.elapsed() >= STOPPED_GRACE => return t.elapsed().as_secs(),
            (true, Some(_)) => {}
        }
    }
}

fn finished(
    results: Option<ResultsDocument>,
    exit_code: Option<i32>,
    cause: Option<EndCause>,
) -> RunObservation {
    RunObservation::Finished {
        at: ids::now(),
        results,
        exit_code,
        cause,
    }
}

fn doc_of<T: serde::de::DeserializeOwned>(
    store: &Store,
    kind: Kind,
    name: &str,
) -> Result<Option<T>, String> {
    match store.get(kind, name) {
        Ok(Some(row)) => serde_json::from_value(row.doc)
            .map(Some)
            .map_err(|e| format!("{kind} {name:?} is unreadable: {e}")),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn mkdir(p: &Path, mode: u32) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("create {}: {e}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", p.display()))
}

fn write_private(p: &Path, content: &str) -> Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(p)
        .and_then(|mut f| f.write_all(content.as_bytes()))
        .map_err(|e| format!("write {}: {e}", p.display()))
}

/// Everything before the agent starts. An `Err` is the Task's failure message.
async fn setup(
    home: &Home,
    store: &Store,
    td: &TaskDir,
    task: &Task,
    opts: &RunOptions,
    exe: &Path,
    gateway: &mut Option<TaskGateway>,
) -> Result<Launch, String> {
    let spec = &task.spec;
    let ws: Option<Workspace> = match &spec.workspace_ref {
        Some(r) => doc_of(store, Kind::Workspace, &r.name)?,
        None => None,
    };
    let mut found: Vec<AgentConfig> = Vec::new();
    for name in spec.agent_config_names() {
        found.extend(doc_of::<AgentConfig>(store, Kind::AgentConfig, name)?);
    }
    // A missing one is left to plan_run, which names it.
    let ac = axon_core::agent_configs::resolve(spec, &found).unwrap_or_default();
    let mut plan: RunPlan = plan_run(task, ws.as_ref(), ac.as_ref()).map_err(|e| e.to_string())?;
    // What the start gate admitted it with: the rendered prompt of a Task with dependencies,
    // the branch it works on.
    let status = task.status.clone().unwrap_or_default();
    plan.admit(status.prompt, status.branch);
    // The agent reaches models and its repository only through the Task's gateway.
    let needs = route_through_gateway(&mut plan).map_err(|e| e.to_string())?;
    let bwrap = match opts.sandbox {
        SandboxMode::Bubblewrap => {
            Some(find_bwrap().ok_or_else(|| LocalError::BwrapMissing.to_string())?)
        }
        SandboxMode::None => None,
    };

    for d in [td.work(), td.home(), td.tmp(), td.config()] {
        mkdir(&d, 0o700)?;
    }
    mkdir(&td.cred(), 0o700)?;

    // Secrets first: a missing one fails fast, naming the secret and key. They go to the
    // gateway, never into the sandbox.
    let secrets = Secrets::open(&home.secrets()).map_err(|e| e.to_string())?;
    let mut secret_values: Vec<String> = Vec::new();
    let mut read_secret = |sk: &axon_core::gateway_plan::SecretKey| {
        let v = secrets
            .value(&sk.secret, &sk.key)
            .map_err(|e| e.to_string())?;
        secret_values.push(v.clone());
        Ok::<_, String>(v)
    };
    let model_credential = needs
        .model_credential
        .as_ref()
        .map(&mut read_secret)
        .transpose()?
        .map(axon_gateway::Secret::new);
    let github_token = needs
        .github_token
        .as_ref()
        .map(&mut read_secret)
        .transpose()?;
    if gateway.is_none() {
        let rules = axon_core::gateway_plan::gateway_rules(&task.spec, &opts.pricing)
            .map_err(|e| e.to_string())?;
        *gateway = Some(
            TaskGateway::start(TaskGatewaySpec {
                task: axon_gateway::TaskRef {
                    namespace: task
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".into()),
                    name: plan.task.clone(),
                    uid: task.metadata.uid.clone().unwrap_or_default(),
                },
                model_upstream: needs.model_upstream.clone(),
                model_credential,
                repo_url: needs.repo_url.clone(),
                github_token: github_token.clone().map(axon_gateway::Secret::new),
                protected: rules.protected,
                network: match rules.restricted {
                    Some(allow) => axon_gateway::Network::Restricted { allow },
                    None => axon_gateway::Network::Open,
                },
                budget: rules.budget,
                prices: rules.prices,
                dir: td.gateway(),
                audit_file: td.requests(),
                ca_validity: ca_validity(task, opts),
            })
            .await?,
        );
    }
    crate::profile::mark("gateway started");
    let gw = gateway
        .as_mut()
        .ok_or_else(|| "the Task's gateway did not start".to_string())?;
    secret_values.push(gw.token().to_string());
    // The network: the host's, or a namespace of its own whose way out is the gateway.
    let isolated = opts
        .isolated_network
        .clone()
        .or_else(|| gw.isolated_network());
    let net = crate::network::network_setup(isolated.as_ref(), opts.sandbox)?;

    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for e in &plan.env {
        let value = match &e.value {
            EnvValue::Literal(v) => v.clone(),
            EnvValue::ConfigPath(p) => td.config().join(p).to_string_lossy().to_string(),
            EnvValue::Gateway(v) => gw.resolve(v),
            // `route_through_gateway` left none.
            EnvValue::Secret { secret, key } => {
                return Err(format!(
                    "{}: secret {secret:?} (key {key}) would reach the agent",
                    e.name
                ));
            }
        };
        env.insert(e.name.clone(), value);
    }
    for (rel, content) in &plan.config_files {
        let p = td.config().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        std::fs::write(&p, content).map_err(|e| format!("write {}: {e}", p.display()))?;
    }

    let mut base_branch = None;
    let mut base_head = None;
    let mut shared_objects = None;
    let mut token_path = None;
    if let Some(repo) = &plan.repo {
        // The token read for the gateway: Axon's own clone, push and lookups use it too.
        let token_file = match &github_token {
            Some(token) => {
                let f = td.cred().join("token");
                write_private(&f, token)?;
                Some(f)
            }
            None => None,
        };
        token_path = token_file.clone();
        let _ = observe(
            store,
            &plan.task,
            task.metadata.uid.as_deref().unwrap_or_default(),
            &RunObservation::Waiting {
                reason: format!(
                    "preparing the workspace: cloning {}",
                    crate::workspace_prep::redact_url(&repo.url)
                ),
            },
        );
        crate::profile::mark("secrets and dirs ready");
        let (url, git_ref, files) = (repo.url.clone(), repo.git_ref.clone(), repo.files.clone());
        let (branch, remotes, depth) =
            (repo.branch.clone(), repo.remotes.clone(), repo.clone_depth);
        let (work, cache) = (td.work(), home.git_cache());
        let prepared = tokio::task::spawn_blocking(move || {
            // The work tree directory exists (empty); git clones into a missing one.
            let _ = std::fs::remove_dir(&work);
            prepare(&PrepareRequest {
                repo: &url,
                git_ref: git_ref.as_deref(),
                dest: &work,
                files: &files,
                token_file: token_file.as_deref(),
                // A shallow clone is made for this Task alone: a mirror is the whole repository.
                cache: depth.is_none().then_some(cache.as_path()),
                branch: branch.as_deref(),
                remotes: &remotes,
                depth,
            })
        })
        .await
        .map_err(|e| format!("workspace preparation crashed: {e}"))?
        .map_err(|e| e.to_string())?;
        crate::profile::mark("workspace ready");
        env.insert(
            axon_api::contract::ENV_BASE_BRANCH.into(),
            prepared.base_branch.clone(),
        );
        gw.set_base_branch(&prepared.base_branch);
        base_branch = Some(prepared.base_branch);
        base_head = Some(prepared.head);
        shared_objects = prepared.shared_objects;
    }
    write_private(
        &td.home().join(".gitconfig"),
        &axon_core::gateway_plan::agent_gitconfig(),
    )?;

    // SAFETY: geteuid has no preconditions and cannot fail.
    let drop_to = (opts.sandbox == SandboxMode::Bubblewrap && unsafe { libc::geteuid() } == 0)
        .then_some((SANDBOX_UID, SANDBOX_GID));
    let entry = opts
        .entrypoint
        .clone()
        .or_else(|| plan.image.as_ref().map(PathBuf::from))
        .map(|e| std::fs::canonicalize(&e).unwrap_or(e));
    // An entrypoint nobody could run (a root caller's 0700 script) runs from a copy.
    let entry = match (entry, drop_to) {
        (Some(e), Some(_)) if !others_can_run(&e) => Some(copy_entrypoint(&e, &td.config())?),
        (e, _) => e,
    };
    let exe_s = exe.to_string_lossy().to_string();
    let mut command: Vec<String> = vec![exe_s, "agent".into(), "run".into()];
    if let Some(e) = &entry {
        command.push("--entrypoint".into());
        command.push(e.to_string_lossy().to_string());
    }
    // The prompt travels as a file (up to 10 MiB), never as an argument.
    let prompt_file = td.config().join("prompt");
    write_private(&prompt_file, &plan.prompt)?;
    command.push("--prompt-file".into());
    command.push(prompt_file.to_string_lossy().to_string());
    let host_path = opts
        .path
        .clone()
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
    let prefix: Vec<String> = opts
        .agent_bin_dir
        .iter()
        .chain(&opts.agent_path_prefix)
        .map(|d| d.display().to_string())
        .collect();
    let path = match prefix.is_empty() {
        true => host_path,
        false => format!("{}:{host_path}", prefix.join(":")),
    };
    env.insert("PATH".into(), path);
    env.insert("HOME".into(), td.home().to_string_lossy().to_string());
    env.insert("TMPDIR".into(), "/tmp".into());
    env.insert("LANG".into(), "C.UTF-8".into());
    env.insert("GIT_TERMINAL_PROMPT".into(), "0".into());

    let mut read_only: Vec<PathBuf> = [
        Some(exe.to_path_buf()),
        entry.clone(),
        opts.agent_bin_dir.clone(),
        // npm's `.bin` holds symlinks into its `node_modules`: bind the packages too.
        opts.agent_bin_dir
            .as_ref()
            .filter(|d| d.file_name().is_some_and(|n| n == ".bin"))
            .and_then(|d| d.parent().map(PathBuf::from)),
        Some(td.config()),
        Some(td.gateway()),
        shared_objects.clone(),
    ]
    .into_iter()
    .flatten()
    .chain(opts.agent_paths.iter().cloned())
    .filter(|p| p.exists())
    .collect();
    read_only.extend(net.read_only);
    env.extend(net.env);
    // A root caller's agent runs as nobody: it must own what it may write and read.
    let mut hidden: Vec<PathBuf> = [opts.host_home.clone(), Some(home.root().to_path_buf())]
        .into_iter()
        .flatten()
        .filter(|p| p.is_dir())
        .collect();
    if let Some((uid, gid)) = drop_to {
        for d in [td.work(), td.home(), td.tmp(), td.config()] {
            chown_tree(&d, uid, gid).map_err(|e| format!("chown {}: {e}", d.display()))?;
        }
        let binds: Vec<PathBuf> = read_only
            .iter()
            .chain([&td.work(), &td.home()])
            .cloned()
            .collect();
        for a in untraversable_ancestors(&binds, uid) {
            if !hidden.iter().any(|h| a.starts_with(h)) {
                hidden.push(a);
            }
        }
    }
    let seccomp = match opts.sandbox {
        SandboxMode::Bubblewrap => {
            Some(crate::seccomp::agent_filter_fd().map_err(|e| e.to_string())?)
        }
        SandboxMode::None => None,
    };
    let sandbox = SandboxSpec {
        work: td.work(),
        writable: vec![td.home()],
        tmp: td.tmp(),
        read_only,
        hidden,
        command,
        drop_to,
        dropper: exe.to_path_buf(),
        seccomp_fd: seccomp.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
        network: net.network,
    };
    let (program, args) = render(
        &sandbox,
        opts.sandbox,
        bwrap.as_deref().unwrap_or(Path::new("bwrap")),
    );
    let agent_type = entry.is_none().then_some(plan.agent_type);
    Ok(Launch {
        program,
        args,
        env,
        work: td.work(),
        base_branch,
        base_head,
        agent_type,
        remote_url: plan.repo.as_ref().map(|r| r.url.clone()),
        token_file: token_path,
        lent_objects: shared_objects,
        secrets: secret_values,
        _seccomp: seccomp,
    })
}

/// The Task's gateway CA outlives its run: the timeout (clone and retries included) plus an
/// hour, at least a day; without a timeout, 30 days.
fn ca_validity(task: &Task, opts: &RunOptions) -> Duration {
    const DAY: u64 = 24 * 3600;
    match effective_timeout(task.spec.timeout_seconds, opts.default_timeout_seconds) {
        Some(s) => Duration::from_secs(s.saturating_add(3600).max(DAY)),
        None => Duration::from_secs(30 * DAY),
    }
}

/// Give `root` and everything under it to `uid`:`gid`, without following symlinks.
fn chown_tree(root: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(root, Some(uid), Some(gid))?;
    let meta = std::fs::symlink_metadata(root)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(root)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Whether users other than the owner may read and execute `path`.
fn others_can_run(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.mode() & 0o005 == 0o005)
}

/// Copy a custom entrypoint into the Task's config directory (bound read-only), so an
/// unprivileged agent can run it.
fn copy_entrypoint(entry: &Path, config: &Path) -> Result<PathBuf, String> {
    let dir = config.join("entrypoint");
    mkdir(&dir, 0o755)?;
    let name = entry.file_name().unwrap_or(std::ffi::OsStr::new("agent"));
    let copy = dir.join(name);
    std::fs::copy(entry, &copy)
        .map_err(|e| format!("copy the entrypoint {}: {e}", entry.display()))?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o555))
        .map_err(|e| format!("chmod {}: {e}", copy.display()))?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(timeout: Option<i64>) -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "apiVersion": "axon.io/v1alpha1", "kind": "Task", "metadata": {"name": "t"},
            "spec": {"type": "claude-code", "prompt": "p",
                     "credentials": {"type": "api-key", "secretRef": {"name": "k"}}}
        }))
        .expect("a Task");
        t.spec.timeout_seconds = timeout;
        t
    }

    #[test]
    fn the_gateway_ca_outlives_the_run() {
        let opts = RunOptions::default();
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(ca_validity(&task(Some(60)), &opts), day);
        assert_eq!(
            ca_validity(&task(Some(3 * 24 * 3600)), &opts),
            Duration::from_secs(3 * 24 * 3600 + 3600)
        );
        assert_eq!(ca_validity(&task(Some(0)), &opts), 30 * day);
    }
}
