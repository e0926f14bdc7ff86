//! An in-memory [`TaskSink`] for tests and benchmarks: a namespace's worth of TaskSpawners,
//! Tasks, Workspaces and tokens behind a mutex. Clones share state, so a test can "restart"
//! the spawner by building a new one over the same sink.

use crate::secret::Token;
use crate::sink::{CreateOutcome, SinkError, TaskSink};
use axon_api::{
    Task, TaskOutputs, TaskPhase, TaskSpawner, TaskSpawnerStatus, TaskStatus, Workspace,
};
use axon_core::spawn::LABEL_TASKSPAWNER;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Store {
    spawners: BTreeMap<String, TaskSpawner>,
    tasks: BTreeMap<String, Task>,
    workspaces: BTreeMap<String, Workspace>,
    tokens: BTreeMap<String, Token>,
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

    /// Adds or replaces a Workspace, with the token of its secret.
    pub fn put_workspace(&self, workspace: Workspace, token: Option<Token>) {
        let name = workspace.metadata.name.clone().unwrap_or_default();
        let mut s = self.store();
        match token {
            Some(t) => s.tokens.insert(name.clone(), t),
            None => s.tokens.remove(&name),
        };
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

    /// How many times `create_task` was called (including `AlreadyExists`).
    pub fn create_calls(&self) -> usize {
        self.store().create_calls
    }

    /// Makes `create_task` fail once `n` more Tasks were created (simulates a crash mid-poll).
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

    /// How many times `apply_workspace` was called.
    pub fn workspace_writes(&self) -> usize {
        self.store().workspace_writes
    }

    /// How many Tasks `create_task` actually created over the sink's life (Tasks deleted
    /// since included): with names as identities, more than one per item and generation is a
    /// duplicate.
    pub fn tasks_created(&self) -> usize {
        self.store().tasks_created
    }
}

impl TaskSink for MemorySink {
    async fn get_spawner(&self, name: &str) -> Result<Option<TaskSpawner>, SinkError> {
        Ok(self.store().spawners.get(name).cloned())
    }

    async fn list_tasks(&self, spawner: &str) -> Result<Vec<Task>, SinkError> {
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

    async fn create_task(
        &self,
        _spawner: &TaskSpawner,
        task: Task,
    ) -> Result<CreateOutcome, SinkError> {
        let mut s = self.store();
        s.create_calls += 1;
        let name = task.metadata.name.clone().unwrap_or_default();
        if s.tasks.contains_key(&name) {
            return Ok(CreateOutcome::AlreadyExists);
        }
        if let Some(n) = s.fail_creates_after {
            if n == 0 {
                return Err(SinkError::new("injected failure: store unavailable"));
            }
            s.fail_creates_after = Some(n - 1);
        }
        s.tasks.insert(name, task);
        s.tasks_created += 1;
        Ok(CreateOutcome::Created)
    }

    async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), SinkError> {
        if let Some(t) = self.store().tasks.get_mut(task) {
            t.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(key.to_string(), value.to_string());
        }
        Ok(())
    }

    async fn update_status(
        &self,
        spawner: &str,
        status: TaskSpawnerStatus,
    ) -> Result<(), SinkError> {
        let mut s = self.store();
        if s.fail_status_updates > 0 {
            s.fail_status_updates -= 1;
            return Err(SinkError::new("injected failure: status update lost"));
        }
        s.status_updates += 1;
        match s.spawners.get_mut(spawner) {
            Some(sp) => {
                sp.status = Some(status);
                Ok(())
            }
            None => Err(SinkError::new(format!("TaskSpawner {spawner} not found"))),
        }
    }

    async fn get_workspace(&self, name: &str) -> Result<Option<Workspace>, SinkError> {
        Ok(self.store().workspaces.get(name).cloned())
    }

    async fn apply_workspace(&self, workspace: Workspace) -> Result<(), SinkError> {
        let name = workspace.metadata.name.clone().unwrap_or_default();
        let mut s = self.store();
        s.workspace_writes += 1;
        s.workspaces.insert(name, workspace);
        Ok(())
    }

    async fn github_token(&self, workspace: &Workspace) -> Result<Option<Token>, SinkError> {
        let name = workspace.metadata.name.clone().unwrap_or_default();
        Ok(self.store().tokens.get(&name).cloned())
    }
}
