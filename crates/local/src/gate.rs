//! The local engine's side of the start gate: gather what `axon_core::start_gate` needs from
//! the store (every Task, the Workspaces and AgentConfigs referenced, which Secret keys exist,
//! the TaskSpawner of a Task a spawner made, with its budget and its Tasks' spending) and ask
//! it about each Pending Task no supervisor holds. Observes only; the engine acts.
//!
//! The referenced resources are kept parsed across passes ([`RowCache`]), and each Secret a
//! pass needs is read once in that pass whatever the number of Tasks naming it: a pass is
//! on the path from a dependency's end to its dependant's start.

use crate::error::LocalError;
use crate::paths::Home;
use crate::row_cache::RowCache;
use crate::secrets::Secrets;
use crate::store::Store;
use axon_api::{AgentConfig, Kind, Task, TaskSpawner, Workspace};
use axon_core::references::{FoundSecrets, References, missing_secrets, plan_or_missing};
use axon_core::spawner_window::{SpawnerWindow, owning_spawner};
use axon_core::start_gate::{GateDecision, TaskFacts, gate};
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One stored Task and whether a supervisor holds its run.
pub struct StoredTask {
    pub task: Arc<Task>,
    pub alive: bool,
}

/// What the gate reads besides the Tasks, kept parsed across passes.
#[derive(Default)]
pub struct Referenced {
    workspaces: RowCache<Workspace>,
    configs: RowCache<AgentConfig>,
    spawners: RowCache<TaskSpawner>,
    secrets: Option<Secrets>,
}

fn by_name<T: serde::de::DeserializeOwned>(
    cache: &mut RowCache<T>,
    store: &Store,
    kind: Kind,
) -> Result<BTreeMap<String, Arc<T>>, LocalError> {
    Ok(cache.read(store, kind)?.into_iter().collect())
}

/// The gate's decision for each Task in `pending` (names), looking at all of `tasks`.
pub fn decide(
    home: &Home,
    store: &Store,
    referenced: &mut Referenced,
    tasks: &[StoredTask],
    pending: &[&str],
    now: Timestamp,
) -> Result<BTreeMap<String, GateDecision>, LocalError> {
    if pending.is_empty() {
        return Ok(BTreeMap::new());
    }
    let workspaces = by_name(&mut referenced.workspaces, store, Kind::Workspace)?;
    let configs = by_name(&mut referenced.configs, store, Kind::AgentConfig)?;
    let secrets = match &referenced.secrets {
        Some(s) => s.clone(),
        None => referenced
            .secrets
            .insert(Secrets::open(&home.secrets())?)
            .clone(),
    };
    // Each Secret read at most once in this pass: its keys, `None` when it does not exist.
    let mut secret_keys: HashMap<String, Option<BTreeSet<String>>> = HashMap::new();
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((t.task.metadata.name.as_deref()?, i)))
        .collect();
    // The spawners are read only when a Task waiting to start was made by one.
    let spawned = pending.iter().any(|name| {
        index
            .get(name)
            .is_some_and(|&i| owning_spawner(&tasks[i].task).is_some())
    });
    let spawners = if spawned {
        by_name(&mut referenced.spawners, store, Kind::TaskSpawner)?
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
        let Some((me, stored)) = index.get(name).map(|&i| (&facts[i], &tasks[i])) else {
            continue;
        };
        let task = &stored.task;
        let workspace = task
            .spec
            .workspace_ref
            .as_ref()
            .and_then(|r| workspaces.get(&r.name))
            .map(|w| &**w);
        let agent_configs: Vec<AgentConfig> = task
            .spec
            .agent_config_names()
            .into_iter()
            .filter_map(|n| configs.get(n).map(|c| (**c).clone()))
            .collect();
        let missing = match plan_or_missing(task, workspace, &agent_configs) {
            Ok(References::Missing(m)) => m,
            Ok(References::Ready(plan)) => {
                let mut found = FoundSecrets::new();
                for secret in plan.secret_refs().keys() {
                    let keys = match secret_keys.get(secret) {
                        Some(keys) => keys.clone(),
                        None => {
                            let keys = secrets
                                .get(secret)?
                                .map(|d| d.into_keys().collect::<BTreeSet<String>>());
                            secret_keys.insert(secret.clone(), keys.clone());
                            keys
                        }
                    };
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
            owning_spawner(task)
                .and_then(|s| spawners.get(s))
                .map(|s| &**s),
            tasks.iter().map(|t| &*t.task),
            now,
        );
        out.insert(
            name.to_string(),
            gate(me, &facts, &missing, window.as_ref(), now),
        );
    }
    Ok(out)
}
