//! Running TaskSpawner loops from the CLI.
//!
//! * `axon spawner --name X` ([`run_one`]): one loop, until SIGTERM/Ctrl-C or the spawner is
//!   deleted. On Kubernetes the spawner's Deployment runs it.
//! * `axon serve` ([`host_all`]): one loop per stored TaskSpawner, reconciled every
//!   [`RECONCILE_INTERVAL`]: new spawners start, deleted ones stop, a loop that ended on a
//!   backend error is restarted at the next round. All stop on shutdown.
//!
//! The GitHub API base defaults to the Workspace's host (`https://api.github.com`, or
//! `https://HOST/api/v3` for GitHub Enterprise); `AXON_GITHUB_API_URL` overrides it for every
//! spawner of the process (a GitHub Enterprise proxy, or a fake GitHub in tests).

use crate::backend::SharedBackend;
use axon_api::Kind;
use axon_spawner::{Spawner, SpawnerError, SpawnerOptions, SystemClock};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Environment variable overriding the GitHub API base URL of every spawner.
pub const GITHUB_API_URL_ENV: &str = axon_api::contract::ENV_GITHUB_API_URL;
/// How often `axon serve` looks for TaskSpawners created or deleted.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(2);
/// How long shutdown waits for loops to finish a poll in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Spawner settings from the environment.
pub fn options_from_env() -> SpawnerOptions {
    SpawnerOptions {
        github_api_base: std::env::var(GITHUB_API_URL_ENV)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()),
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs TaskSpawner `name`'s loop until `shutdown` completes or the spawner is deleted.
pub async fn run_one(
    backend: SharedBackend,
    name: &str,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), SpawnerError> {
    let mut spawner = Spawner::new(name, backend, SystemClock, options_from_env());
    spawner.run(shutdown).await
}

/// Which loops to start and which to stop, given the spawners stored and the loops running.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HostPlan {
    /// Stored spawners without a running loop.
    pub start: Vec<String>,
    /// Running loops whose spawner is gone.
    pub stop: Vec<String>,
}

/// The reconciliation decision of [`host_all`].
pub fn plan_host(stored: &BTreeSet<String>, running: &BTreeSet<String>) -> HostPlan {
    HostPlan {
        start: stored.difference(running).cloned().collect(),
        stop: running.difference(stored).cloned().collect(),
    }
}

struct Running {
    stop: watch::Sender<bool>,
    handle: JoinHandle<Result<(), SpawnerError>>,
}

fn start(backend: &SharedBackend, name: &str) -> Running {
    let (stop, mut rx) = watch::channel(false);
    let backend = backend.clone();
    let name = name.to_string();
    let handle = tokio::spawn(async move {
        // Another process (`axon spawner --name`) may run this spawner: then leave it to it;
        // the next round tries again.
        let _guard = match backend.hold_spawner_lock(&name) {
            Ok(Some(guard)) => guard,
            Ok(None) => {
                tracing::debug!(spawner = %name, "another process runs this TaskSpawner");
                return Ok(());
            }
            Err(e) => {
                eprintln!("axon serve: TaskSpawner {name}: {e}");
                return Ok(());
            }
        };
        tracing::info!(spawner = %name, "starting TaskSpawner loop");
        let shutdown = async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        run_one(backend, &name, shutdown).await
    });
    Running { stop, handle }
}

/// Runs a loop per stored TaskSpawner until `shutdown` completes, then stops them all.
pub async fn host_all(backend: SharedBackend, shutdown: impl std::future::Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut running: BTreeMap<String, Running> = BTreeMap::new();
    loop {
        // Loops that ended (spawner deleted, or a backend error) are forgotten, and restarted
        // below if their spawner still exists.
        let ended: Vec<String> = running
            .iter()
            .filter(|(_, r)| r.handle.is_finished())
            .map(|(n, _)| n.clone())
            .collect();
        for name in ended {
            if let Some(r) = running.remove(&name)
                && let Ok(Err(e)) = r.handle.await
            {
                eprintln!("axon serve: TaskSpawner {name}: {e}; restarting");
            }
        }
        match backend.list(Kind::TaskSpawner).await {
            Ok(list) => {
                let stored: BTreeSet<String> = list.iter().map(|r| r.name().to_string()).collect();
                let names: BTreeSet<String> = running.keys().cloned().collect();
                let plan = plan_host(&stored, &names);
                for name in plan.stop {
                    if let Some(r) = running.remove(&name) {
                        let _ = r.stop.send(true);
                        let _ = r.handle.await;
                    }
                }
                for name in plan.start {
                    let r = start(&backend, &name);
                    running.insert(name, r);
                }
            }
            Err(e) => eprintln!("axon serve: cannot list TaskSpawners: {e}"),
        }
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            () = tokio::time::sleep(RECONCILE_INTERVAL) => {}
        }
    }
    for r in running.values() {
        let _ = r.stop.send(true);
    }
    let all = futures_join(running.into_values().map(|r| r.handle));
    if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
        eprintln!("axon serve: TaskSpawner loops did not stop within {SHUTDOWN_GRACE:?}");
    }
}

async fn futures_join(handles: impl Iterator<Item = JoinHandle<Result<(), SpawnerError>>>) {
    for h in handles {
        let _ = h.await;
    }
}

/// The note `axon get taskspawners` prints when nothing runs the local spawners.
pub fn serve_note(backend: &dyn axon_port::Backend) -> Option<&'static str> {
    (!backend.runs_spawners()).then_some(
        "note: no `axon serve` is running on this AXON_HOME: TaskSpawners create no Tasks until you start one",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn starts_new_spawners_and_stops_deleted_ones() {
        let plan = plan_host(&set(&["a", "b", "c"]), &set(&["b", "d"]));
        assert_eq!(
            plan,
            HostPlan {
                start: vec!["a".into(), "c".into()],
                stop: vec!["d".into()],
            }
        );
        assert_eq!(plan_host(&set(&["a"]), &set(&["a"])), HostPlan::default());
    }
}
