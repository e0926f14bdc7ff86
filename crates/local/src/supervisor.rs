//! The per-Task supervisor (`axon __local supervise`): one detached process per run, holding
//! the Task's run lock (handed over by the engine) for as long as the run lives. It resolves
//! the RunPlan (secrets from the local store, config files), prepares the workspace, starts
//! the sandbox with the Task's log as stdout/stderr, enforces `timeoutSeconds`, stops on
//! SIGTERM (delete), reads the results document and reports each step as a `RunObservation`.
//! It survives the engine: a restarted engine finds it alive through its lock and adopts it.

use crate::error::LocalError;
use crate::ids;
use crate::inspect::results_from_git;
use crate::kick;
use crate::lock::{Lock, signal_group};
use crate::observe::observe;
use crate::paths::{Home, TaskDir};
use crate::run_options::{RunOptions, RunnerMode};
use crate::sandbox::{SandboxMode, SandboxSpec, find_bwrap, render};
use crate::secrets::Secrets;
use crate::store::Store;
use crate::workspace_prep::{PrepareRequest, prepare};
use axon_api::{AgentConfig, Kind, Task, TaskPhase, Workspace};
use axon_core::plan::{EnvValue, GITHUB_TOKEN_KEY, RunPlan, plan_run};
use axon_core::results::{RESULTS_FILE_ENV, ResultsDocument};
use axon_core::task_status::{EndCause, RunObservation};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// What the setup produced: the sandboxed command, ready to start.
struct Launch {
    program: PathBuf,
    args: Vec<std::ffi::OsString>,
    env: BTreeMap<String, String>,
    work: PathBuf,
    base_branch: Option<String>,
    base_head: Option<String>,
    timeout: Option<i64>,
    direct: bool,
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
    let opts: RunOptions = row
        .run_options
        .and_then(|o| serde_json::from_value(o).ok())
        .unwrap_or_default();

    crate::profile::mark("task read");
    let setup = tokio::select! {
        r = setup(&home, &store, &td, &task, &opts, &exe) => Some(r),
        _ = term.recv() => None,
    };
    let launch = match setup {
        None => {
            let obs = finished(None, None, Some(EndCause::Cancelled));
            observe(&store, &name, &uid, &obs)?;
            return Ok(());
        }
        Some(Err(reason)) => {
            let obs = RunObservation::SetupFailed {
                at: ids::now(),
                reason,
            };
            observe(&store, &name, &uid, &obs)?;
            let _ = kick::kick(&home, &exe);
            return Ok(());
        }
        Some(Ok(l)) => l,
    };

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
            let obs = RunObservation::SetupFailed {
                at: ids::now(),
                reason: format!("cannot start {}: {e}", launch.program.display()),
            };
            observe(&store, &name, &uid, &obs)?;
            let _ = kick::kick(&home, &exe);
            return Ok(());
        }
    };
    let pid = child.id().map(|p| p as i32).unwrap_or_default();
    let _ = std::fs::write(td.sandbox_pid(), pid.to_string());
    let short: String = uid.chars().take(8).collect();
    observe(
        &store,
        &name,
        &uid,
        &RunObservation::Started {
            at: ids::now(),
            job: format!("{name}-{short}"),
            pod: pid.to_string(),
        },
    )?;

    let timeout = launch
        .timeout
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let (status, cause) = tokio::select! {
        s = child.wait() => (s.ok(), None),
        _ = deadline => {
            signal_group(pid, libc::SIGKILL);
            (child.wait().await.ok(), Some(EndCause::Timeout { seconds: launch.timeout.unwrap_or_default() }))
        }
        _ = term.recv() => {
            signal_group(pid, libc::SIGKILL);
            (child.wait().await.ok(), Some(EndCause::Cancelled))
        }
    };
    crate::profile::mark("agent exited");
    // Whatever the agent left behind in its group goes too.
    signal_group(pid, libc::SIGKILL);
    let code = status.and_then(|s| s.code());
    let results = if cause.is_some() {
        None
    } else if launch.direct {
        Some(results_from_git(
            &launch.work,
            launch.base_branch.as_deref(),
            launch.base_head.as_deref(),
            code,
        ))
    } else {
        read_results(&td.results())
    };
    crate::profile::mark("results read");
    observe(&store, &name, &uid, &finished(results, code, cause))?;
    crate::profile::mark("status stored");
    let _ = kick::kick(&home, &exe);
    crate::profile::mark("engine kicked");
    Ok(())
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

/// The results document, when the runner wrote a valid one.
fn read_results(path: &Path) -> Option<ResultsDocument> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
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
) -> Result<Launch, String> {
    let spec = &task.spec;
    let ws: Option<Workspace> = match &spec.workspace_ref {
        Some(r) => doc_of(store, Kind::Workspace, &r.name)?,
        None => None,
    };
    let ac: Option<AgentConfig> = match &spec.agent_config_ref {
        Some(r) => doc_of(store, Kind::AgentConfig, &r.name)?,
        None => None,
    };
    let plan: RunPlan = plan_run(task, ws.as_ref(), ac.as_ref()).map_err(|e| e.to_string())?;
    let bwrap = match opts.sandbox {
        SandboxMode::Bubblewrap => {
            Some(find_bwrap().ok_or_else(|| LocalError::BwrapMissing.to_string())?)
        }
        SandboxMode::None => None,
    };

    for d in [td.work(), td.home(), td.tmp(), td.out(), td.config()] {
        mkdir(&d, 0o700)?;
    }
    mkdir(&td.cred(), 0o700)?;

    // Secrets first: a missing one fails fast, naming the secret and key.
    let secrets = Secrets::open(&home.secrets()).map_err(|e| e.to_string())?;
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for e in &plan.env {
        let value = match &e.value {
            EnvValue::Literal(v) => v.clone(),
            EnvValue::Secret { secret, key } => {
                secrets.value(secret, key).map_err(|e| e.to_string())?
            }
            EnvValue::ConfigPath(p) => td.config().join(p).to_string_lossy().to_string(),
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
    if let Some(repo) = &plan.repo {
        let token_file = match &repo.token_secret {
            Some(s) => {
                let token = secrets
                    .value(s, GITHUB_TOKEN_KEY)
                    .map_err(|e| e.to_string())?;
                let f = td.cred().join("token");
                write_private(&f, &token)?;
                Some(f)
            }
            None => None,
        };
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
                cache: Some(&cache),
            })
        })
        .await
        .map_err(|e| format!("workspace preparation crashed: {e}"))?
        .map_err(|e| e.to_string())?;
        crate::profile::mark("workspace ready");
        env.insert("AXON_BASE_BRANCH".into(), prepared.base_branch.clone());
        base_branch = Some(prepared.base_branch);
        base_head = Some(prepared.head);
    }
    write_private(
        &td.home().join(".gitconfig"),
        "[user]\n\tname = Axon Agent\n\temail = axon-agent@localhost\n",
    )?;

    let entry = opts
        .entrypoint
        .clone()
        .or_else(|| plan.image.as_ref().map(PathBuf::from));
    let direct = opts.runner == RunnerMode::Direct && entry.is_some();
    let exe_s = exe.to_string_lossy().to_string();
    let command: Vec<String> = match (&entry, direct) {
        (Some(e), true) => vec![e.to_string_lossy().to_string(), plan.prompt.clone()],
        (Some(e), false) => vec![
            exe_s.clone(),
            "agent".into(),
            "run".into(),
            "--entrypoint".into(),
            e.to_string_lossy().to_string(),
            plan.prompt.clone(),
        ],
        (None, _) => vec![
            exe_s.clone(),
            "agent".into(),
            "run".into(),
            plan.prompt.clone(),
        ],
    };
    let host_path = opts
        .path
        .clone()
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
    let path = match &opts.agent_bin_dir {
        Some(d) => format!("{}:{host_path}", d.display()),
        None => host_path,
    };
    env.insert("PATH".into(), path);
    env.insert("HOME".into(), td.home().to_string_lossy().to_string());
    env.insert("TMPDIR".into(), "/tmp".into());
    env.insert("LANG".into(), "C.UTF-8".into());
    env.insert("GIT_TERMINAL_PROMPT".into(), "0".into());
    env.insert(
        RESULTS_FILE_ENV.into(),
        td.results().to_string_lossy().to_string(),
    );

    let read_only: Vec<PathBuf> = [
        Some(exe.to_path_buf()),
        entry.clone(),
        opts.agent_bin_dir.clone(),
        // npm's `.bin` holds symlinks into its `node_modules`: bind the packages too.
        opts.agent_bin_dir
            .as_ref()
            .filter(|d| d.file_name().is_some_and(|n| n == ".bin"))
            .and_then(|d| d.parent().map(PathBuf::from)),
        Some(td.config()),
        Some(td.cred()),
    ]
    .into_iter()
    .flatten()
    .filter(|p| p.exists())
    .collect();
    let hidden: Vec<PathBuf> = [opts.host_home.clone(), Some(home.root().to_path_buf())]
        .into_iter()
        .flatten()
        .filter(|p| p.is_dir())
        .collect();
    let sandbox = SandboxSpec {
        work: td.work(),
        writable: vec![td.home(), td.out()],
        tmp: td.tmp(),
        read_only,
        hidden,
        command,
    };
    let (program, args) = render(
        &sandbox,
        opts.sandbox,
        bwrap.as_deref().unwrap_or(Path::new("bwrap")),
    );
    Ok(Launch {
        program,
        args,
        env,
        work: td.work(),
        base_branch,
        base_head,
        timeout: plan.timeout_seconds,
        direct,
    })
}
