//! `LocalBackend`: what the CLI calls on the local backend. Commands are short-lived processes
//! sharing one AXON_HOME; the long-lived parts (the engine, one supervisor per running Task)
//! are detached processes started on demand (see `engine`, `supervisor`).

use crate::agent_bins::{agent_bind_dirs, program_for, resolve_executable};
use crate::engine::{self, CONCURRENCY_KEY};
use crate::error::LocalError;
use crate::ids;
use crate::kick;
use crate::lock::is_held;
use crate::logs::{FOLLOW_INTERVAL, copy_from};
use crate::network::IsolatedNetwork;
use crate::paths::{Home, TaskDir};
use crate::run_options::RunOptions;
use crate::sandbox::{SandboxMode, find_bwrap};
use crate::secrets::Secrets;
use crate::store::{Row, Store};
use crate::teardown::delete_task;
use axon_api::{Kind, Resource, Task, TaskStatus, Workspace};
use axon_core::apply::ApplyOutcome;
use axon_core::ownership::{deleted_with, workspaces_deleted_with};
use axon_core::task_status::{RunObservation, next_status};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often `wait` reads the store when nothing woke it.
const WAIT_POLL: Duration = Duration::from_millis(10);

/// The message of a Task that was just stored.
pub const STORED_MESSAGE: &str = "waiting to be scheduled";

/// The local backend over one AXON_HOME.
#[derive(Debug)]
pub struct LocalBackend {
    home: Home,
    store: Store,
    secrets: Secrets,
    exe: PathBuf,
    concurrency: AtomicUsize,
    no_sandbox: AtomicBool,
    default_timeout: Mutex<Option<i64>>,
    pricing: Mutex<Vec<axon_api::ModelPrice>>,
    isolated_network: Mutex<Option<IsolatedNetwork>>,
}

impl LocalBackend {
    /// Open AXON_HOME (creating it, 0700, and the store), re-executing the current binary for
    /// the engine and supervisors.
    pub fn open(home: &Path) -> Result<LocalBackend, LocalError> {
        let exe = std::env::current_exe().map_err(|e| LocalError::Home {
            path: home.display().to_string(),
            reason: format!("cannot find the axon executable: {e}"),
        })?;
        LocalBackend::open_with_exe(home, &exe)
    }

    /// Like [`LocalBackend::open`], with the executable that serves `__local` subcommands.
    pub fn open_with_exe(home: &Path, exe: &Path) -> Result<LocalBackend, LocalError> {
        let home = Home::new(home);
        let herr = |e: std::io::Error| LocalError::Home {
            path: home.root().display().to_string(),
            reason: e.to_string(),
        };
        let fresh = !home.root().exists();
        std::fs::create_dir_all(home.tasks()).map_err(herr)?;
        std::fs::create_dir_all(home.git_cache()).map_err(herr)?;
        if fresh {
            std::fs::set_permissions(home.root(), std::fs::Permissions::from_mode(0o700))
                .map_err(herr)?;
        }
        let store = Store::open(&home.db())?;
        let secrets = Secrets::open(&home.secrets())?;
        let concurrency = engine::concurrency(&store);
        let b = LocalBackend {
            home,
            store,
            secrets,
            exe: exe.to_path_buf(),
            concurrency: AtomicUsize::new(concurrency),
            no_sandbox: AtomicBool::new(false),
            default_timeout: Mutex::new(None),
            pricing: Mutex::new(Vec::new()),
            isolated_network: Mutex::new(None),
        };
        b.recover()?;
        Ok(b)
    }

    /// AXON_HOME.
    pub fn home(&self) -> &Path {
        self.home.root()
    }

    /// The global concurrency limit.
    pub fn concurrency(&self) -> usize {
        self.concurrency.load(Ordering::Relaxed)
    }

    /// Set the global concurrency limit (at least 1), and persist it for the engine, which
    /// may have been started by another command. A failure to persist is logged.
    pub fn set_concurrency(&self, n: usize) {
        let n = n.max(1);
        if self.concurrency() == n
            && self.store.setting(CONCURRENCY_KEY).ok().flatten() == Some(n.to_string())
        {
            return;
        }
        if let Err(e) = self.store.set_setting(CONCURRENCY_KEY, &n.to_string()) {
            tracing::warn!("cannot store the concurrency limit: {e}");
        }
        self.concurrency.store(n, Ordering::Relaxed);
        kick::notify(&self.home);
    }

    /// The sandbox Tasks applied from now on run in.
    pub fn sandbox(&self) -> SandboxMode {
        if self.no_sandbox.load(Ordering::Relaxed) {
            SandboxMode::None
        } else {
            SandboxMode::Bubblewrap
        }
    }

    /// Choose the sandbox of Tasks applied from now on (`SandboxMode::None` is explicit; the
    /// CLI prints [`crate::sandbox::NO_SANDBOX_WARNING`]).
    pub fn set_sandbox(&self, mode: SandboxMode) {
        self.no_sandbox
            .store(mode == SandboxMode::None, Ordering::Relaxed);
    }

    /// The timeout of Tasks applied from now on that set no `spec.timeoutSeconds` (the config
    /// file's `timeoutSeconds`; 0: none; `None`: the built-in default), stored with each Task.
    pub fn set_default_timeout(&self, seconds: Option<i64>) {
        if let Ok(mut t) = self.default_timeout.lock() {
            *t = seconds;
        }
    }

    fn default_timeout(&self) -> Option<i64> {
        self.default_timeout.lock().ok().and_then(|t| *t)
    }

    /// The config file's `pricing` for Tasks applied from now on (their gateway's prices after
    /// the shipped ones; a Task's own `pricing` wins), stored with each Task.
    pub fn set_pricing(&self, pricing: Vec<axon_api::ModelPrice>) {
        if let Ok(mut p) = self.pricing.lock() {
            *p = pricing;
        }
    }

    fn pricing(&self) -> Vec<axon_api::ModelPrice> {
        self.pricing.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Run Tasks applied from now on with a restricted network (`None`: the host's), stored
    /// with each Task: a network namespace of their own whose only way out is the gateway's
    /// socket (see [`crate::network`]).
    pub fn set_isolated_network(&self, network: Option<IsolatedNetwork>) {
        if let Ok(mut n) = self.isolated_network.lock() {
            *n = network;
        }
    }

    fn isolated_network(&self) -> Option<IsolatedNetwork> {
        self.isolated_network.lock().ok().and_then(|n| n.clone())
    }

    /// If no engine runs: fail Running Tasks whose supervisor died, and start an engine when
    /// Tasks wait. Every command does this when it opens the backend.
    pub fn recover(&self) -> Result<(), LocalError> {
        if is_held(&self.home.engine_lock()) {
            return Ok(());
        }
        engine::fail_orphans(&self.home, &self.store)?;
        let waiting = self.store.list(Kind::Task)?.iter().any(|r| {
            matches!(
                r.doc.pointer("/status/phase").and_then(Value::as_str),
                None | Some("Pending")
            )
        });
        if waiting {
            self.kick()?;
        }
        Ok(())
    }

    fn kick(&self) -> Result<(), LocalError> {
        kick::kick(&self.home, &self.exe).map_err(|e| LocalError::Spawn {
            what: format!("the engine ({} __local engine)", self.exe.display()),
            reason: e.to_string(),
        })
    }

    fn run_options(&self, task: &Task) -> Result<RunOptions, LocalError> {
        if self.sandbox() == SandboxMode::Bubblewrap && find_bwrap().is_none() {
            return Err(LocalError::BwrapMissing);
        }
        let entrypoint = match task.spec.image.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(image) => {
                let p = PathBuf::from(image);
                let p = if p.is_absolute() {
                    p
                } else {
                    std::env::current_dir()
                        .map_err(|e| LocalError::io("current directory", e))?
                        .join(p)
                };
                let executable = std::fs::metadata(&p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
                if !executable {
                    return Err(LocalError::Invalid {
                        what: "spec.image".into(),
                        reason: format!(
                            "{image:?} is not an executable file: on the local backend, image names an executable implementing the agent image interface (see docs/agent-image-interface.md)"
                        ),
                    });
                }
                Some(p)
            }
        };
        let agent_bin_dir = std::env::var_os(axon_api::contract::ENV_AGENT_BIN_DIR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let path = std::env::var("PATH").ok();
        // A built-in agent's CLI found on this PATH (it may live under the hidden HOME).
        let agent_bins = match (&agent_bin_dir, &entrypoint, &path) {
            (None, None, Some(path)) => {
                agent_bind_dirs(program_for(task.spec.type_), path, resolve_executable)
            }
            _ => None,
        }
        .unwrap_or_default();
        Ok(RunOptions {
            sandbox: self.sandbox(),
            entrypoint,
            agent_bin_dir,
            host_home: std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            path,
            default_timeout_seconds: self.default_timeout(),
            agent_paths: agent_bins.dirs,
            agent_path_prefix: agent_bins.path_prefix,
            isolated_network: self.isolated_network(),
            pricing: self.pricing(),
        })
    }

    /// Ask to cancel Task `name` on behalf of `by` (see [`crate::cancel`]).
    pub async fn cancel_task(
        &self,
        name: &str,
        by: &str,
    ) -> Result<axon_port::CancelOutcome, LocalError> {
        let outcome = crate::cancel::cancel_task(&self.home, &self.store, name, by)?;
        if outcome == axon_port::CancelOutcome::Cancelled {
            // Its dependants fail at once, even when no engine was running.
            self.kick()?;
        }
        Ok(outcome)
    }

    /// Create or update a resource. A new Task is stored Pending and the engine is kicked, so
    /// it starts without `axon serve`.
    pub async fn apply(&self, r: Resource) -> Result<ApplyOutcome, LocalError> {
        let kind = r.kind_value();
        let name = r.name().to_string();
        axon_api::loader::check_name(&name).map_err(|reason| LocalError::Invalid {
            what: format!("{kind} name"),
            reason,
        })?;
        let opts = match &r {
            Resource::Task(t) => Some(
                serde_json::to_value(self.run_options(t)?)
                    .map_err(|e| LocalError::io("encode run options", e))?,
            ),
            _ => None,
        };
        let is_task = kind == Kind::Task;
        let (outcome, _) = self.store.apply(kind, &name, r.to_value(), opts, |doc| {
            doc["metadata"]["uid"] = ids::uid().into();
            doc["metadata"]["creationTimestamp"] = ids::now().into();
            if is_task {
                let s = next_status(
                    &TaskStatus::default(),
                    &RunObservation::Waiting {
                        reason: STORED_MESSAGE.into(),
                    },
                    Some(1),
                );
                if let Ok(v) = serde_json::to_value(s) {
                    doc["status"] = v;
                }
            }
        })?;
        if is_task && outcome == ApplyOutcome::Created {
            self.kick()?;
        }
        Ok(outcome)
    }

    fn parse(&self, row: Row) -> Result<Resource, LocalError> {
        Resource::from_value(row.doc).map_err(|e| LocalError::Store {
            path: self.home.db().display().to_string(),
            reason: e.to_string(),
        })
    }

    /// One resource.
    pub async fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, LocalError> {
        self.store
            .get(kind, name)?
            .map(|row| self.parse(row))
            .transpose()
    }

    /// Every resource of a kind, oldest first.
    pub async fn list(&self, kind: Kind) -> Result<Vec<Resource>, LocalError> {
        self.store
            .list(kind)?
            .into_iter()
            .map(|row| self.parse(row))
            .collect()
    }

    /// Delete a resource; deleting a running Task kills its whole process tree first, and
    /// deleting a TaskSpawner deletes the Tasks and fan-out Workspaces it owns
    /// (`axon_core::ownership`, the rule the Kubernetes garbage collector applies there).
    pub async fn delete(&self, kind: Kind, name: &str) -> Result<bool, LocalError> {
        match kind {
            Kind::Task => delete_task(&self.home, &self.store, name).await,
            Kind::TaskSpawner => {
                let Some(Resource::TaskSpawner(spawner)) = self.get(kind, name).await? else {
                    return Ok(false);
                };
                // The spawner first, so its loop stops creating; then what it owned.
                let gone = self
                    .store
                    .delete(kind, name, spawner.metadata.uid.as_deref())?;
                let tasks: Vec<Task> = self
                    .list(Kind::Task)
                    .await?
                    .into_iter()
                    .filter_map(|r| match r {
                        Resource::Task(t) => Some(*t),
                        _ => None,
                    })
                    .collect();
                for task in deleted_with(&spawner, &tasks) {
                    delete_task(&self.home, &self.store, &task).await?;
                }
                let workspaces: Vec<Workspace> = self
                    .list(Kind::Workspace)
                    .await?
                    .into_iter()
                    .filter_map(|r| match r {
                        Resource::Workspace(w) => Some(*w),
                        _ => None,
                    })
                    .collect();
                for workspace in workspaces_deleted_with(&spawner, &workspaces) {
                    self.store.delete(Kind::Workspace, &workspace, None)?;
                }
                Ok(gone)
            }
            _ => self.store.delete(kind, name, None),
        }
    }

    /// Create or replace a local secret (owner-only file; values are never printed).
    pub async fn create_secret(
        &self,
        name: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), LocalError> {
        self.secrets.put(name, &data)
    }

    /// Whether a local secret exists.
    pub async fn secret_exists(&self, name: &str) -> Result<bool, LocalError> {
        self.secrets.exists(name)
    }

    fn task(&self, name: &str) -> Result<Option<(Task, String)>, LocalError> {
        let Some(row) = self.store.get(Kind::Task, name)? else {
            return Ok(None);
        };
        let task: Task = serde_json::from_value(row.doc).map_err(|e| LocalError::Store {
            path: self.home.db().display().to_string(),
            reason: format!("Task {name}: {e}"),
        })?;
        let uid = task.metadata.uid.clone().unwrap_or_default();
        Ok(Some((task, uid)))
    }

    fn not_found(name: &str) -> LocalError {
        LocalError::NotFound {
            kind: "Task".into(),
            name: name.into(),
        }
    }

    /// Write the Task's log (raw agent output); with `follow`, keep writing new output until
    /// the Task ends.
    pub async fn logs(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(), LocalError> {
        self.copy_run_file(task, follow, out, TaskDir::log).await
    }

    /// Write the requests the Task's gateway served (`requests.jsonl`, one JSON line each:
    /// `axon_gateway::AuditRecord`); with `follow`, keep writing new records until the Task
    /// ends. A Task that has not started yet has none.
    pub async fn requests(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(), LocalError> {
        self.copy_run_file(task, follow, out, TaskDir::requests)
            .await
    }

    /// Copy one file of the Task's run directory (`file` names it) to `out`; with `follow`,
    /// keep copying what is appended until the Task ends (or is deleted, or re-created).
    async fn copy_run_file(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
        file: fn(&TaskDir) -> PathBuf,
    ) -> Result<(), LocalError> {
        let (_, uid) = self.task(task)?.ok_or_else(|| Self::not_found(task))?;
        let path = file(&self.home.task(&uid));
        let mut offset = copy_from(&path, 0, out)?;
        if !follow {
            return Ok(());
        }
        loop {
            let current = self.task(task)?;
            let done = match &current {
                None => true,
                Some((t, u)) => {
                    u != &uid
                        || t.status
                            .as_ref()
                            .and_then(|s| s.phase)
                            .is_some_and(|p| p.is_finished())
                }
            };
            offset = copy_from(&path, offset, out)?;
            if done {
                return Ok(());
            }
            tokio::time::sleep(FOLLOW_INTERVAL).await;
        }
    }

    /// Wait until the Task has finished, and return it.
    pub async fn wait(&self, task: &str) -> Result<Task, LocalError> {
        let (_, uid) = self.task(task)?.ok_or_else(|| Self::not_found(task))?;
        let mut last_recover = Instant::now();
        // Wakes on any write to the store (the supervisor's status write); the poll stays as
        // the fallback.
        let watch = crate::store_watch::StoreWatch::new(self.home.root());
        loop {
            match self.task(task)? {
                Some((t, u)) if u == uid => {
                    if t.status
                        .as_ref()
                        .and_then(|s| s.phase)
                        .is_some_and(|p| p.is_finished())
                    {
                        return Ok(t);
                    }
                }
                _ => return Err(LocalError::Deleted(task.to_string())),
            }
            if last_recover.elapsed() > Duration::from_secs(1) {
                self.recover()?;
                last_recover = Instant::now();
            }
            match &watch {
                Some(w) => w.changed(WAIT_POLL).await,
                None => tokio::time::sleep(WAIT_POLL).await,
            }
        }
    }

    /// Run the engine in the foreground (`axon serve`) until `shutdown` completes: scheduler,
    /// orphan recovery and TTL cleanup. Runs in progress continue after it stops.
    pub async fn serve(&self, shutdown: impl Future<Output = ()>) -> Result<(), LocalError> {
        engine::run(self.home.clone(), self.exe.clone(), false, shutdown).await
    }
}
