//! Deleting a Task: the row goes first (so nobody schedules or updates it again), then its run
//! is stopped (the supervisor is asked with SIGTERM to kill its sandbox's whole process tree;
//! if it does not let go of the run lock in time it is SIGKILLed, which takes the sandbox down
//! with it through `--die-with-parent` and the PID namespace), then its directory is removed.

use crate::error::LocalError;
use crate::kick::notify;
use crate::lock::{is_held, read_pid, signal, signal_group};
use crate::paths::Home;
use crate::store::Store;
use axon_api::Kind;
use std::time::{Duration, Instant};

/// How long a supervisor gets to stop its sandbox after SIGTERM.
const GRACE: Duration = Duration::from_secs(10);

/// Delete Task `name` (and its run and directory). False when it did not exist.
pub async fn delete_task(home: &Home, store: &Store, name: &str) -> Result<bool, LocalError> {
    let Some(row) = store.get(Kind::Task, name)? else {
        return Ok(false);
    };
    let uid = row.uid();
    let gone = store.delete(Kind::Task, name, Some(&uid))?;
    if !uid.is_empty() {
        stop_run(home, &uid).await;
        let dir = home.task(&uid).root;
        remove_settled(&dir)
            .await
            .map_err(|e| LocalError::io(format!("remove {}", dir.display()), e))?;
    }
    notify(home);
    Ok(gone)
}

/// Remove a Task's directory. Something may still be writing in it — most likely a supervisor
/// the engine started from a pass that read the row before it was deleted (it finds the row
/// gone and exits) — which makes one `remove_dir_all` fail with "directory not empty" (seen
/// once in the conformance suite's `spawner_deletion` on a loaded machine): retry that for a
/// bounded time.
async fn remove_settled(dir: &std::path::Path) -> std::io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.kind() == std::io::ErrorKind::DirectoryNotEmpty
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Stop the run of Task `uid` if one is alive, and wait until it is gone.
pub async fn stop_run(home: &Home, uid: &str) {
    let td = home.task(uid);
    let deadline = Instant::now() + GRACE;
    let mut asked = false;
    while is_held(&td.lock()) {
        if !asked && let Some(pid) = read_pid(&td.supervisor_pid()) {
            asked = signal(pid, libc::SIGTERM);
        }
        if Instant::now() > deadline {
            if let Some(pid) = read_pid(&td.supervisor_pid()) {
                signal(pid, libc::SIGKILL);
            }
            if let Some(pid) = read_pid(&td.sandbox_pid()) {
                signal_group(pid, libc::SIGKILL);
            }
            let hard = Instant::now() + Duration::from_secs(5);
            while is_held(&td.lock()) && Instant::now() < hard {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
