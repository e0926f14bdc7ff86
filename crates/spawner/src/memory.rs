//! An in-memory backend (the spawner's narrow part of the backend port, [`SpawnerPort`]) for
//! tests and benchmarks: a namespace's worth of TaskSpawners, Tasks, Workspaces and Secrets
//! behind a mutex. Clones share state, so a test can "restart"
//! the spawner by building a new one over the same sink.

use crate::secret::Token;
use axon_api::contract::LABEL_TASKSPAWNER;
use axon_api::loader::Resource;
use axon_api::{
    Kind, Task, TaskOutputs, TaskPhase, TaskSpawner, TaskSpawnerStatus, TaskStatus, Workspace,
};
use axon_core::ownership::owned_workspace;
use axon_core::plan::GITHUB_TOKEN_KEY;
use axon_port::{BackendError, CreateOutcome, ErrorKind, SpawnerPort, Valid};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Store {
    spawners: BTreeMap<String, TaskSpawner>,
    tasks: BTreeMap<String, Task>,
    workspaces: BTreeMap<String, Workspace>,
    secrets: BTreeMap<String, BTreeMap<String, String>>,
    status_updates: usize,
    create_calls: usize,
    fail_creates_after: Option<usize>,
    fail_status_updates: usize,
    tasks_created: usize,
    workspace_writes: usize,
}

/// The in-memory sink.
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    store: Arc<Mutex<Store>>,
}

impl MemorySink {
    /// An empty namespace.
    pub fn new() -> Self {
        Self::default()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds or replaces a TaskSpawner.
    pub fn put_spawner(&self, spawner: TaskSpawner) {
        let name = spawner.metadata.name.clone().unwrap_or_default();
        self.store().spawners.insert(name, spawner);
    }

    /// Removes a TaskSpawner.
    pub fn delete_spawner(&self, name: &str) {
        self.store().spawners.remove(name);
    }

    /// Adds or replaces a Workspace, with the GitHub token of its `secretRef` (if it has one).
    pub fn put_workspace(&self, workspace: Workspace, token: Option<Token>) {
        let name = workspace.metadata.name.clone().unwrap_or_default();
        let mut s = self.store();
        if let Some(secret) = &workspace.spec.secret_ref {
            let data = s.secrets.entry(secret.name.clone()).or_default();
            match token {
                Some(t) => data.insert(GITHUB_TOKEN_KEY.to_string(), t.expose().to_string()),
                None => data.remove(GITHUB_TOKEN_KEY),
            };
        }
        s.workspaces.insert(name, workspace);
    }

    /// The TaskSpawner as stored (with the status the spawner wrote).
    pub fn spawner(&self, name: &str) -> Option<TaskSpawner> {
        self.store().spawners.get(name).cloned()
    }

    /// Every Task, by name.
    pub fn tasks(&self) -> BTreeMap<String, Task> {
        self.store().tasks.clone()
    }

    /// Sets a Task's phase, as the scheduler would.
    pub fn set_phase(&self, task: &str, phase: TaskPhase) {
        if let Some(t) = self.store().tasks.get_mut(task) {
            t.status.get_or_insert_with(TaskStatus::default).phase = Some(phase);
        }
    }

    /// Sets a Task's results (`status.outputs`), as the backend would when it finishes.
    pub fn set_outputs(&self, task: &str, outputs: TaskOutputs) {
        if let Some(t) = self.store().tasks.get_mut(task) {
            t.status.get_or_insert_with(TaskStatus::default).outputs = Some(outputs);
        }
    }

    /// Deletes a Task, as TTL cleanup would.
    pub fn delete_task(&self, task: &str) {
        self.store().tasks.remove(task);
    }

    /// How many times status was written.
    pub fn status_updates(&self) -> usize {
        self.store().status_updates
    }

    /// How many times `create_spawned_task` was called (including `AlreadyExists`).
    pub fn create_calls(&self) -> usize {
        self.store().create_calls
    }

    /// Makes `create_spawned_task` fail once `n` more Tasks were created (simulates a crash mid-poll).
    pub fn fail_creates_after(&self, n: Option<usize>) {
        self.store().fail_creates_after = n;
    }

    /// Makes the next `n` status updates fail (simulates a crash after creating Tasks and
    /// before writing status).
    pub fn fail_status_updates(&self, n: usize) {
        self.store().fail_status_updates = n;
    }

    /// Every Workspace, by name.
    pub fn workspaces(&self) -> BTreeMap<String, Workspace> {
        self.store().workspaces.clone()
    }

    /// How many times `apply_spawned_workspace` was called.
    pub fn workspace_writes(&self) -> usize {
        self.store().workspace_writes
    }

    /// How many Tasks `create_spawned_task` actually created over the sink's life (Tasks deleted
    /// since included): with names as identities, more than one per item and generation is a
    /// duplicate.
    pub fn tasks_created(&self) -> usize {
        self.store().tasks_created
    }
}

fn injected(message: &str) -> BackendError {
    BackendError::message(ErrorKind::Failed, format!("injected failure: {message}"))
}

#[axon_port::async_trait]
impl SpawnerPort for MemorySink {
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, BackendError> {
        let s = self.store();
        Ok(match kind {
            Kind::TaskSpawner => s
                .spawners
                .get(name)
                .map(|t| Resource::TaskSpawner(Box::new(t.clone()))),
            Kind::Workspace => s
                .workspaces
                .get(name)
                .map(|w| Resource::Workspace(Box::new(w.clone()))),
            Kind::Task => s
                .tasks
                .get(name)
                .map(|t| Resource::Task(Box::new(t.clone()))),
            Kind::AgentConfig => None,
        })
    }

    async fn list_spawned_tasks(&self, spawner: &str) -> Result<Vec<Task>, BackendError> {
        Ok(self
            .store()
            .tasks
            .values()
            .filter(|t| {
                t.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_TASKSPAWNER))
                    .is_some_and(|s| s == spawner)
            })
            .cloned()
            .collect())
    }

    async fn create_spawned_task(
        &self,
        _spawner: &TaskSpawner,
        task: Valid<Task>,
    ) -> Result<CreateOutcome, BackendError> {
        let task = task.into_inner();
        let mut s = self.store();
        s.create_calls += 1;
        let name = task.metadata.name.clone().unwrap_or_default();
        if s.tasks.contains_key(&name) {
            return Ok(CreateOutcome::AlreadyExists);
        }
        if let Some(n) = s.fail_creates_after {
            if n == 0 {
                return Err(injected("store unavailable"));
            }
            s.fail_creates_after = Some(n - 1);
        }
        s.tasks.insert(name, task);
        s.tasks_created += 1;
        Ok(CreateOutcome::Created)
    }

    async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), BackendError> {
        if let Some(t) = self.store().tasks.get_mut(task) {
            t.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(key.to_string(), value.to_string());
        }
        Ok(())
    }

    async fn write_spawner_status(
        &self,
        spawner: &str,
        status: &TaskSpawnerStatus,
    ) -> Result<(), BackendError> {
        let mut s = self.store();
        if s.fail_status_updates > 0 {
            s.fail_status_updates -= 1;
            return Err(injected("status update lost"));
        }
        s.status_updates += 1;
        match s.spawners.get_mut(spawner) {
            Some(sp) => {
                let deployment_name = sp.status.as_ref().and_then(|st| st.deployment_name.clone());
                let mut status = status.clone();
                status.deployment_name = deployment_name;
                sp.status = Some(status);
                Ok(())
            }
            None => Err(BackendError::message(
                ErrorKind::NotFound,
                format!("TaskSpawner {spawner} not found"),
            )),
        }
    }

    async fn apply_spawned_workspace(
        &self,
        spawner: &TaskSpawner,
        workspace: Valid<Workspace>,
    ) -> Result<(), BackendError> {
        let workspace = owned_workspace(spawner, workspace.into_inner());
        let name = workspace.metadata.name.clone().unwrap_or_default();
        let mut s = self.store();
        s.workspace_writes += 1;
        s.workspaces.insert(name, workspace);
        Ok(())
    }

    async fn secret_value(&self, name: &str, key: &str) -> Result<Option<String>, BackendError> {
        Ok(self
            .store()
            .secrets
            .get(name)
            .and_then(|d| d.get(key))
            .cloned())
    }
}
