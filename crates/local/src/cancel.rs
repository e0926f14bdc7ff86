//! Cancelling a Task on the local backend (`axon cancel`, a `/axon cancel` comment through the
//! backend port). The request is written first, in the store, as the Task's annotation
//! `axon.io/cancel-requested` (see `axon_core::cancel`); then
//!
//! * when no supervisor holds the Task's run lock, this takes the lock itself (so the engine
//!   cannot start it meanwhile) and records `Cancelled`;
//! * otherwise the supervisor is sent SIGTERM: it reads the request, kills the sandbox's whole
//!   process tree, saves the work tree on the WIP branch and records `Cancelled`.
//!
//! Whatever dies in between (this command, the supervisor), the request stays in the store:
//! a supervisor that starts reads it before running anything, and the engine records
//! `Cancelled` for a Task with a request that nothing runs.

use crate::error::LocalError;
use crate::ids;
use crate::kick::notify;
use crate::lock::{Lock, read_pid, signal};
use crate::observe::observe;
use crate::paths::Home;
use crate::store::Store;
use axon_api::{Kind, TaskPhase};
use axon_core::cancel::{ANNOTATION_CANCEL_REQUESTED, cancelled};
use axon_port::CancelOutcome;
use serde_json::Value;

/// Ask to cancel Task `name` on behalf of `by`.
pub fn cancel_task(
    home: &Home,
    store: &Store,
    name: &str,
    by: &str,
) -> Result<CancelOutcome, LocalError> {
    let not_found = || LocalError::NotFound {
        kind: "Task".into(),
        name: name.to_string(),
    };
    let row = store.get(Kind::Task, name)?.ok_or_else(not_found)?;
    let uid = row.uid();
    let mut finished = None;
    let mut asked_by = by.to_string();
    let updated = store.update(Kind::Task, name, &uid, |doc| {
        let phase = phase_of(doc);
        if phase.is_finished() {
            finished = Some(phase);
            return false;
        }
        if let Some(earlier) = doc
            .pointer(&format!(
                "/metadata/annotations/{}",
                ANNOTATION_CANCEL_REQUESTED.replace('/', "~1")
            ))
            .and_then(Value::as_str)
        {
            asked_by = earlier.to_string();
            return false;
        }
        let meta = &mut doc["metadata"];
        if !meta["annotations"].is_object() {
            meta["annotations"] = serde_json::json!({});
        }
        meta["annotations"][ANNOTATION_CANCEL_REQUESTED] = by.into();
        true
    })?;
    if updated.is_none() {
        return Err(not_found());
    }
    if let Some(phase) = finished {
        return Ok(finished_outcome(phase));
    }
    let td = home.task(&uid);
    std::fs::create_dir_all(&td.root)
        .map_err(|e| LocalError::io(format!("create {}", td.root.display()), e))?;
    let lock = Lock::try_acquire(&td.lock()).map_err(|e| LocalError::io("lock the run", e))?;
    let Some(lock) = lock else {
        // A supervisor runs it (or the engine is handing it one, which reads the request
        // before it starts anything).
        if let Some(pid) = read_pid(&td.supervisor_pid()) {
            signal(pid, libc::SIGTERM);
        }
        return Ok(CancelOutcome::Stopping);
    };
    // Nothing runs it, and nothing can start it while the lock is held.
    let status = observe(store, name, &uid, &cancelled(&asked_by, &ids::now(), None))?;
    drop(lock);
    notify(home);
    let phase = status.and_then(|s| s.phase).unwrap_or_default();
    Ok(match phase {
        TaskPhase::Cancelled => CancelOutcome::Cancelled,
        p => finished_outcome(p),
    })
}

fn phase_of(doc: &Value) -> TaskPhase {
    doc.pointer("/status/phase")
        .cloned()
        .and_then(|p| serde_json::from_value(p).ok())
        .unwrap_or_default()
}

fn finished_outcome(phase: TaskPhase) -> CancelOutcome {
    match phase {
        TaskPhase::Cancelled => CancelOutcome::AlreadyCancelled,
        p => CancelOutcome::Finished(p),
    }
}
