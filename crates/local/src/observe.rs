//! Recording what a driver observed: the observation goes through the core state machine
//! (`next_status`) inside one store transaction, so concurrent writers and late observations
//! cannot undo a finished Task.

use crate::error::LocalError;
use crate::store::Store;
use axon_api::{Kind, TaskStatus};
use axon_core::task_status::{RunObservation, next_status};
use serde_json::Value;

/// Apply `obs` to Task `name` (only if it still has `uid`). Returns the new status.
pub fn observe(
    store: &Store,
    name: &str,
    uid: &str,
    obs: &RunObservation,
) -> Result<Option<TaskStatus>, LocalError> {
    let mut out = None;
    store.update(Kind::Task, name, uid, |doc| {
        let current: TaskStatus = doc
            .get("status")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .unwrap_or_default();
        let generation = doc.pointer("/metadata/generation").and_then(Value::as_i64);
        let next = next_status(&current, obs, generation);
        let changed = next != current;
        if changed && let Ok(v) = serde_json::to_value(&next) {
            doc["status"] = v;
        }
        out = Some(next);
        changed
    })?;
    Ok(out)
}
