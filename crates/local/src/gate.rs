//! The local engine's side of the start gate: gather what `axon_core::start_gate` needs from
//! the store (every Task, the Workspaces and AgentConfigs referenced, which Secret keys exist,
//! the TaskSpawner of a Task a spawner made, with its budget and its Tasks' spending) and ask
//! it about each Pending Task no supervisor holds. Observes only; the engine acts.

use crate::error::LocalError;
use crate::paths::Home;
use crate::secrets::Secrets;
use crate::store::Store;
use axon_api::{AgentConfig, Kind, Task, TaskSpawner, Workspace};
use axon_core::references::{FoundSecrets, References, missing_secrets, plan_or_missing};
use axon_core::spawner_window::{SpawnerWindow, owning_spawner};
use axon_core::start_gate::{GateDecision, TaskFacts, gate};
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

/// One stored Task and whether a supervisor holds its run.
pub struct StoredTask {
    pub task: Task,
    pub alive: bool,
}

fn by_name<T: serde::de::DeserializeOwned>(
    store: &Store,
    kind: Kind,
) -> Result<BTreeMap<String, T>, LocalError> {
    Ok(store
        .list(kind)?
        .into_iter()
        .filter_map(|row| {
            let name = row.doc.pointer("/metadata/name")?.as_str()?.to_string();
            Some((name, serde_json::from_value::<T>(row.doc).ok()?))
        })
        .collect())
}

/// The gate's decision for each Task in `pending` (names), looking at all of `tasks`.
pub fn decide(
    home: &Home,
    store: &Store,
    tasks: &[StoredTask],
    pending: &[&str],
    now: Timestamp,
) -> Result<BTreeMap<String, GateDecision>, LocalError> {
    if pending.is_empty() {
        return Ok(BTreeMap::new());
    }
    let workspaces: BTreeMap<String, Workspace> = by_name(store, Kind::Workspace)?;
    let configs: BTreeMap<String, AgentConfig> = by_name(store, Kind::AgentConfig)?;
    let secrets = Secrets::open(&home.secrets())?;
    // The spawners are read only when a Task waiting to start was made by one.
    let spawned = pending.iter().any(|name| {
        tasks.iter().any(|t| {
            t.task.metadata.name.as_deref() == Some(name) && owning_spawner(&t.task).is_some()
        })
    });
    let spawners: BTreeMap<String, TaskSpawner> = if spawned {
        by_name(store, Kind::TaskSpawner)?
    } else {
        BTreeMap::new()
    };
    let repo_of = |t: &Task| {
        t.spec
            .workspace_ref
            .as_ref()
            .and_then(|r| workspaces.get(&r.name))
            .map(|w| w.spec.repo.as_str())
    };
    let facts: Vec<TaskFacts<'_>> = tasks
        .iter()
        .map(|s| TaskFacts::of(&s.task, s.alive, repo_of(&s.task), now))
        .collect();
    let mut out = BTreeMap::new();
    for name in pending {
        let Some((me, stored)) = facts.iter().zip(tasks).find(|(f, _)| f.name == *name) else {
            continue;
        };
        let task = &stored.task;
        let workspace = task
            .spec
            .workspace_ref
            .as_ref()
            .and_then(|r| workspaces.get(&r.name));
        let found: Vec<AgentConfig> = task
            .spec
            .agent_config_names()
            .into_iter()
            .filter_map(|n| configs.get(n).cloned())
            .collect();
        let missing = match plan_or_missing(task, workspace, &found) {
            Ok(References::Missing(m)) => m,
            Ok(References::Ready(plan)) => {
                let mut found = FoundSecrets::new();
                for secret in plan.secret_refs().keys() {
                    let keys = secrets
                        .get(secret)?
                        .map(|d| d.into_keys().collect::<BTreeSet<String>>());
                    found.insert(secret.clone(), keys);
                }
                missing_secrets(&plan.secret_refs(), &found)
            }
            Err(e) => {
                out.insert(
                    name.to_string(),
                    GateDecision {
                        gate: axon_core::start_gate::Gate::Fail(e.to_string()),
                        dependencies: Vec::new(),
                        recheck_at: None,
                    },
                );
                continue;
            }
        };
        let window = SpawnerWindow::of(
            task,
            owning_spawner(task).and_then(|s| spawners.get(s)),
            tasks.iter().map(|t| &t.task),
            now,
        );
        out.insert(
            name.to_string(),
            gate(me, &facts, &missing, window.as_ref(), now),
        );
    }
    Ok(out)
}
