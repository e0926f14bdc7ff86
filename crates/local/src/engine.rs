//! The engine: the one process (per AXON_HOME, by the engine lock) that schedules. Each pass
//! observes the Tasks (store rows, and which runs are alive by their run locks), lets
//! `axon_core::schedule::decide` decide, and acts: starts a supervisor per Task to start
//! (handing it the run lock it took, so no Task can start twice), fails orphans, tells waiting
//! Tasks why, deletes expired ones. It wakes on its socket (a command or supervisor kicked),
//! on a supervisor's exit, at the next TTL expiry, and every second regardless. A pass parses
//! only the Task rows changed since the previous one ([`RowCache`]); kicks that queued up
//! during a pass wake it once.
//!
//! Started on demand (`axon __local engine`), it exits when idle — not while a Task waits for
//! a reference's grace or for a full TaskSpawner budget window to open, which happen with time
//! alone and no command to kick it; `axon serve` runs it in the
//! foreground until shut down, taking over from an on-demand engine. Supervisors are separate
//! processes, so the engine dying never kills a run: the next engine adopts live runs and fails
//! the ones whose supervisor died.

use crate::error::LocalError;
use crate::gate::{Referenced, StoredTask};
use crate::ids;
use crate::lock::{Lock, is_held, read_pid, signal};
use crate::observe::observe;
use crate::paths::Home;
use crate::row_cache::RowCache;
use crate::store::Store;
use crate::teardown::delete_task;
use axon_api::{Kind, Task, TaskPhase};
use axon_core::schedule::{TaskView, decide};
use axon_core::start_gate::{Gate, WaitKind};
use axon_core::task_status::{EndCause, RunObservation};
use jiff::Timestamp;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::net::UnixDatagram;
use tokio::task::JoinSet;

/// How long an on-demand engine stays after the last work, so a burst of commands (or a
/// script running Tasks one after another) reuses it instead of starting one per Task.
const IDLE_LINGER: Duration = Duration::from_secs(2);

/// Settings key of the global concurrency limit.
pub const CONCURRENCY_KEY: &str = "concurrency";

/// The concurrency limit: the stored setting, else the number of cores.
pub fn concurrency(store: &Store) -> usize {
    store
        .setting(CONCURRENCY_KEY)
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or_else(default_concurrency)
}

/// The number of cores.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// One task row as the scheduler sees it.
struct Observed {
    view: TaskView,
    uid: String,
}

/// The rows as the scheduler sees them, and as the start gate sees them (a row that is not a
/// readable Task is left out: no supervisor could run it). `cache` holds the Tasks parsed by
/// the previous pass: only rows changed since are read and parsed.
fn observe_all(
    home: &Home,
    store: &Store,
    cache: &mut RowCache<Task>,
) -> Result<(Vec<Observed>, Vec<StoredTask>), LocalError> {
    let now = Timestamp::now();
    // One parse per changed row and one lock check per unfinished row, for the scheduler and
    // the start gate alike.
    let stored: Vec<StoredTask> = cache
        .read(store, Kind::Task)?
        .into_iter()
        .map(|(_, task)| {
            let finished = task
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(|p| p.is_finished());
            let alive = !finished
                && is_held(
                    &home
                        .task(task.metadata.uid.as_deref().unwrap_or_default())
                        .lock(),
                );
            StoredTask { alive, task }
        })
        .collect();
    let observed = stored
        .iter()
        .map(|s| {
            let t = &s.task;
            let status = t.status.as_ref();
            let view = TaskView {
                name: t.metadata.name.clone().unwrap_or_default(),
                phase: status.and_then(|s| s.phase),
                created: t.metadata.creation_timestamp.as_ref().map_or(now, |c| c.0),
                alive: s.alive,
                completed: status
                    .and_then(|s| s.completion_time.as_deref())
                    .and_then(ids::parse),
                ttl_seconds: t.spec.ttl_seconds_after_finished.map(|t| t.max(0)),
                message: status.and_then(|s| s.message.clone()),
                ready: true,
                cancel: axon_core::cancel::requested_by(t),
            };
            Observed {
                view,
                uid: t.metadata.uid.clone().unwrap_or_default(),
            }
        })
        .collect();
    Ok((observed, stored))
}

/// Fail Running Tasks whose supervisor is gone (used by the engine and, when no engine runs,
/// by any command that opens the backend), and record `Cancelled` for those a cancel was
/// requested for.
pub fn fail_orphans(home: &Home, store: &Store) -> Result<usize, LocalError> {
    let (tasks, _) = observe_all(home, store, &mut RowCache::default())?;
    let views: Vec<TaskView> = tasks.iter().map(|t| t.view.clone()).collect();
    let d = decide(&views, 1, Timestamp::now());
    record_cancelled(store, &d.cancelled, |name| {
        tasks
            .iter()
            .find(|t| t.view.name == name)
            .map(|t| t.uid.clone())
            .unwrap_or_default()
    })?;
    for (name, detail) in &d.orphaned {
        if let Some(t) = tasks.iter().find(|t| &t.view.name == name) {
            let obs = RunObservation::Finished {
                at: ids::now(),
                results: None,
                exit_code: None,
                cause: Some(EndCause::Orphaned {
                    detail: detail.clone(),
                }),
            };
            observe(store, name, &t.uid, &obs)?;
        }
    }
    Ok(d.orphaned.len())
}

/// Record `Cancelled` for Tasks with a cancel request that nothing runs (never started, or
/// their supervisor died before it recorded the end; see `crate::cancel`).
fn record_cancelled(
    store: &Store,
    cancelled: &[(String, String)],
    uid_of: impl Fn(&str) -> String,
) -> Result<(), LocalError> {
    for (name, by) in cancelled {
        let obs = axon_core::cancel::cancelled(by, &ids::now(), None);
        observe(store, name, &uid_of(name), &obs)?;
    }
    Ok(())
}

/// What one pass did.
struct Pass {
    idle: bool,
    wake_in: Duration,
}

struct Engine {
    home: Home,
    store: Store,
    exe: PathBuf,
    children: JoinSet<()>,
    /// The Tasks as parsed by the previous pass.
    tasks: RowCache<Task>,
    /// What the start gate read in the previous pass.
    referenced: Referenced,
}

impl Engine {
    async fn pass(&mut self) -> Result<Pass, LocalError> {
        crate::profile::mark("pass");
        let (mut tasks, stored) = observe_all(&self.home, &self.store, &mut self.tasks)?;
        let pending: Vec<&str> = tasks
            .iter()
            .filter(|t| {
                t.view.phase.unwrap_or_default() == TaskPhase::Pending
                    && !t.view.alive
                    && t.view.cancel.is_none()
            })
            .map(|t| t.view.name.as_str())
            .collect();
        let now = Timestamp::now();
        let gates = crate::gate::decide(
            &self.home,
            &self.store,
            &mut self.referenced,
            &stored,
            &pending,
            now,
        )?;
        let mut reference_wait = false;
        // A full TaskSpawner window opens with time alone: keep looking (every pass, at most a
        // second apart) until it does.
        let recheck = gates.values().filter_map(|g| g.recheck_at).min();
        for t in &mut tasks {
            if let Some(g) = gates.get(&t.view.name) {
                t.view.ready = matches!(g.gate, Gate::Start(_));
                reference_wait |= matches!(
                    g.gate,
                    Gate::Wait {
                        kind: WaitKind::Reference,
                        ..
                    }
                );
            }
        }
        let views: Vec<TaskView> = tasks.iter().map(|t| t.view.clone()).collect();
        let mut d = decide(&views, concurrency(&self.store), now);
        crate::profile::mark("pass decided");
        // A missing reference may appear without a command kicking the engine (a secret
        // file); its grace must run out even then.
        d.idle &= !reference_wait && recheck.is_none();
        let index: HashMap<&str, &Observed> =
            tasks.iter().map(|t| (t.view.name.as_str(), t)).collect();
        let uid_of = |name: &str| index.get(name).map(|t| t.uid.clone()).unwrap_or_default();
        for (name, g) in &gates {
            let unchanged = |message: &str| {
                index
                    .get(name.as_str())
                    .is_some_and(|t| t.view.message.as_deref() == Some(message))
            };
            match &g.gate {
                Gate::Start(_) => continue,
                Gate::Wait { message, .. } if unchanged(message) => continue,
                _ => observe(
                    &self.store,
                    name,
                    &uid_of(name),
                    &g.observation(&ids::now()),
                )?,
            };
        }
        for (name, detail) in &d.orphaned {
            let obs = RunObservation::Finished {
                at: ids::now(),
                results: None,
                exit_code: None,
                cause: Some(EndCause::Orphaned {
                    detail: detail.clone(),
                }),
            };
            observe(&self.store, name, &uid_of(name), &obs)?;
        }
        record_cancelled(&self.store, &d.cancelled, uid_of)?;
        for (name, reason) in &d.waiting {
            let obs = RunObservation::Waiting {
                reason: reason.clone(),
            };
            observe(&self.store, name, &uid_of(name), &obs)?;
        }
        for name in &d.start {
            if let Some(g) = gates.get(name) {
                observe(
                    &self.store,
                    name,
                    &uid_of(name),
                    &g.observation(&ids::now()),
                )?;
            }
            if let Err(e) = self.start(name, &uid_of(name)) {
                eprintln!("axon engine: cannot start Task {name}: {e}");
                let obs = RunObservation::SetupFailed {
                    at: ids::now(),
                    reason: e.to_string(),
                };
                observe(&self.store, name, &uid_of(name), &obs)?;
            }
        }
        for name in &d.expire {
            delete_task(&self.home, &self.store, name).await?;
        }
        let wake_in = d
            .wake_at
            .and_then(|w| Duration::try_from(w.duration_since(now)).ok())
            .map_or(Duration::from_secs(1), |w| w.min(Duration::from_secs(1)));
        Ok(Pass {
            idle: d.idle,
            wake_in,
        })
    }

    /// Take the run lock and start the supervisor with it.
    fn start(&mut self, name: &str, uid: &str) -> Result<(), LocalError> {
        let td = self.home.task(uid);
        std::fs::create_dir_all(&td.root)
            .map_err(|e| LocalError::io(format!("create {}", td.root.display()), e))?;
        let Some(lock) =
            Lock::try_acquire(&td.lock()).map_err(|e| LocalError::io("lock the run", e))?
        else {
            return Ok(()); // someone runs it already
        };
        // With the lock held, check it is still ours to start (it may have just finished).
        let still_pending = self.store.get(Kind::Task, name)?.is_some_and(|row| {
            row.doc.pointer("/metadata/uid").and_then(Value::as_str) == Some(uid)
                && matches!(
                    row.doc.pointer("/status/phase").and_then(Value::as_str),
                    None | Some("Pending")
                )
        });
        if !still_pending {
            return Ok(());
        }
        let fd = lock.raw_fd();
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.arg("__local")
            .arg("supervise")
            .arg("--home")
            .arg(self.home.root())
            .arg("--task")
            .arg(name)
            .arg("--uid")
            .arg(uid)
            .arg("--lock-fd")
            .arg("3")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&td.root.join("supervisor.log"))?);
        // SAFETY: setsid and dup2 are async-signal-safe; dup2 clears close-on-exec on fd 3.
        unsafe {
            cmd.as_std_mut().pre_exec(move || {
                libc::setsid();
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| LocalError::Spawn {
            what: format!("the supervisor of Task {name}"),
            reason: e.to_string(),
        })?;
        crate::profile::mark_task("supervisor spawned", name);
        drop(lock); // the child holds it now
        self.children.spawn(async move {
            let _ = child.wait().await;
        });
        Ok(())
    }
}

fn log_file(p: &Path) -> Result<std::fs::File, LocalError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(|e| LocalError::io(format!("open {}", p.display()), e))
}

/// Run the engine until `shutdown` (foreground) or until idle (`on_demand`).
pub async fn run(
    home: Home,
    exe: PathBuf,
    on_demand: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LocalError> {
    let lock_path = home.engine_lock();
    let lock = match Lock::try_acquire(&lock_path).map_err(|e| LocalError::io("engine lock", e))? {
        Some(l) => l,
        None if on_demand => return Ok(()), // another engine runs
        None => take_over(&home).await?,
    };
    let _ = std::fs::write(home.engine_pid(), std::process::id().to_string());
    let _ = std::fs::remove_file(home.engine_sock());
    let sock = UnixDatagram::bind(home.engine_sock()).ok();
    let store = Store::open(&home.db())?;
    let mut engine = Engine {
        home: home.clone(),
        store,
        exe,
        children: JoinSet::new(),
        tasks: RowCache::default(),
        referenced: Referenced::default(),
    };
    let mut lock = Some(lock);
    tokio::pin!(shutdown);
    let mut buf = [0u8; 16];
    let mut idle_since: Option<std::time::Instant> = None;
    loop {
        crate::profile::mark("engine woke");
        let pass = engine.pass().await?;
        idle_since = match (pass.idle, idle_since) {
            (false, _) => None,
            (true, None) => Some(std::time::Instant::now()),
            (true, since) => since,
        };
        let linger_over = idle_since.is_some_and(|t| t.elapsed() >= IDLE_LINGER);
        if linger_over && on_demand && engine.children.is_empty() {
            // Release, then look again: a command that stored work after our last look either
            // is seen now, or sees the lock free and starts a new engine.
            drop(lock.take());
            let again = engine.pass().await?;
            if again.idle {
                return Ok(());
            }
            match Lock::try_acquire(&lock_path).map_err(|e| LocalError::io("engine lock", e))? {
                Some(l) => lock = Some(l),
                None => return Ok(()),
            }
        }
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = async {
                match &sock {
                    Some(s) => {
                        let _ = s.recv(&mut buf).await;
                        // One pass looks at everything stored so far: the kicks queued
                        // meanwhile (a supervisor kicks and exits, commands burst) need no
                        // pass each.
                        while s.try_recv(&mut buf).is_ok() {}
                    }
                    None => std::future::pending::<()>().await,
                }
            } => {}
            Some(_) = engine.children.join_next(), if !engine.children.is_empty() => {}
            _ = tokio::time::sleep(if pass.idle { pass.wake_in.min(IDLE_LINGER) } else { pass.wake_in }) => {}
        }
    }
}

/// `axon serve` while an on-demand engine runs: ask it to stop (its runs continue, owned by
/// their supervisors) and take the lock.
async fn take_over(home: &Home) -> Result<Lock, LocalError> {
    let path = home.engine_lock();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut asked = false;
    loop {
        if let Some(l) = Lock::try_acquire(&path).map_err(|e| LocalError::io("engine lock", e))? {
            return Ok(l);
        }
        if !asked && let Some(pid) = read_pid(&home.engine_pid()) {
            asked = signal(pid, libc::SIGTERM);
        }
        if std::time::Instant::now() > deadline {
            return Err(LocalError::Spawn {
                what: "the engine".into(),
                reason: format!(
                    "another engine (pid {}) holds {} and did not stop",
                    read_pid(&home.engine_pid()).unwrap_or_default(),
                    path.display()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
