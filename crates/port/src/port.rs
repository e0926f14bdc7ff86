//! The port itself: [`SpawnerPort`], what the spawner loop needs from a backend, and
//! [`Backend`], everything a command needs (a superset: every backend can host a spawner).
//!
//! A backend is scoped to one namespace. Writes are idempotent: creating a spawned Task whose
//! name exists is [`CreateOutcome::AlreadyExists`], not an error, because Task names are
//! identities and a restarted spawner re-creates whatever it is unsure about.

use crate::error::BackendError;
use crate::valid::Valid;
use axon_api::loader::Resource;
use axon_api::{Kind, Task, TaskPhase, TaskSpawner, TaskSpawnerStatus, Workspace};
use axon_core::apply::ApplyOutcome;
use std::collections::BTreeMap;

/// The result of creating a spawned Task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The Task is new.
    Created,
    /// A Task of that name existed; nothing changed.
    AlreadyExists,
}

/// What asking to cancel a Task did ([`SpawnerPort::cancel_task`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The Task had not started: it is `Cancelled` now.
    Cancelled,
    /// The request is recorded and its run is being stopped; the backend records `Cancelled`
    /// once the agent is gone (its work tree saved where it can be).
    Stopping,
    /// It was cancelled already (a second request changes nothing).
    AlreadyCancelled,
    /// It finished (`Succeeded` or `Failed`) before: nothing was recorded or stopped.
    Finished(TaskPhase),
}

/// Held while this process runs one TaskSpawner's loop (see [`Backend::hold_spawner_lock`]);
/// what it holds is released when it is dropped, or when the process dies.
pub struct SpawnerGuard {
    _held: Option<Box<dyn Send + Sync>>,
}

impl SpawnerGuard {
    /// A guard that holds nothing (a backend where one loop per spawner is ensured elsewhere).
    pub fn nothing() -> SpawnerGuard {
        SpawnerGuard { _held: None }
    }

    /// A guard that keeps `lock` until dropped.
    pub fn holding(lock: impl Send + Sync + 'static) -> SpawnerGuard {
        SpawnerGuard {
            _held: Some(Box::new(lock)),
        }
    }
}

/// Where `axon logs` says what it waits for and how the Task ended: not part of the log.
pub type LogNotice<'a> = &'a mut (dyn FnMut(&str) + Send);

/// What the spawner loop needs from a backend, and nothing more.
#[async_trait::async_trait]
pub trait SpawnerPort: Send + Sync {
    /// One resource, `None` when it does not exist.
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, BackendError>;

    /// Every Task a spawner created (label `axon.io/taskspawner=<spawner>`), whatever its
    /// phase, with its annotations and `status.phase`.
    async fn list_spawned_tasks(&self, spawner: &str) -> Result<Vec<Task>, BackendError>;

    /// Creates `task` owned by `spawner` (labelled with it and carrying an owner reference to
    /// it, so deleting the spawner deletes the Task on either backend). An existing name is
    /// left as it is: [`CreateOutcome::AlreadyExists`].
    async fn create_spawned_task(
        &self,
        spawner: &TaskSpawner,
        task: Valid<Task>,
    ) -> Result<CreateOutcome, BackendError>;

    /// Sets annotation `key=value` on Task `task` (idempotent; a missing Task is not an error).
    async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), BackendError>;

    /// Creates or replaces Workspace `workspace` (a fan-out item's `repo`, see
    /// `axon_core::fanout`) owned by `spawner`: labelled with it and carrying an owner
    /// reference to it (`axon_core::ownership::owned_workspace`), so deleting the spawner
    /// deletes it on either backend. Idempotent. The spawner decides beforehand whether the
    /// Workspace is its own to replace (`axon_core::fanout::workspace_action`).
    async fn apply_spawned_workspace(
        &self,
        spawner: &TaskSpawner,
        workspace: Valid<Workspace>,
    ) -> Result<(), BackendError>;

    /// Replaces the spawner-owned part of TaskSpawner `spawner`'s status (`deploymentName`
    /// belongs to the controller and is kept). A missing spawner is an error.
    async fn write_spawner_status(
        &self,
        spawner: &str,
        status: &TaskSpawnerStatus,
    ) -> Result<(), BackendError>;

    /// The value of `key` in Secret `name`; `None` when the Secret or the key is missing. The
    /// value never reaches an error message.
    async fn secret_value(&self, name: &str, key: &str) -> Result<Option<String>, BackendError>;

    /// Asks to cancel Task `task` on behalf of `by` (`axon cancel`, `/axon cancel by @alice`):
    /// the request is recorded on the Task first (annotation `axon.io/cancel-requested`, see
    /// `axon_core::cancel`), durably, then a Task that has not started is `Cancelled` at once
    /// and a running one has its run stopped. Idempotent; a finished Task is left as it is. A
    /// missing Task is an error of kind [`crate::ErrorKind::NotFound`]. Returns without
    /// waiting for the run to stop ([`Backend::wait`] does).
    async fn cancel_task(&self, task: &str, by: &str) -> Result<CancelOutcome, BackendError> {
        let _ = by;
        Err(BackendError::message(
            crate::ErrorKind::Failed,
            format!("cannot cancel Task {task}: this backend does not cancel Tasks"),
        ))
    }
}

/// Everything the CLI's commands need from a backend.
#[async_trait::async_trait]
pub trait Backend: SpawnerPort {
    /// A one-line description for `axon version` / `axon status` (`local`, `kubernetes
    /// (namespace team)`).
    fn describe(&self) -> String;

    /// Creates or updates a resource.
    async fn apply(&self, r: Valid<Resource>) -> Result<ApplyOutcome, BackendError>;

    /// Every resource of a kind, by name.
    async fn list(&self, kind: Kind) -> Result<Vec<Resource>, BackendError>;

    /// Deletes a resource, and what it owns (a TaskSpawner's Tasks, see
    /// `axon_core::ownership`); `false` when it did not exist.
    async fn delete(&self, kind: Kind, name: &str) -> Result<bool, BackendError>;

    /// Creates or replaces a Secret with these keys. Values never appear in errors.
    async fn create_secret(
        &self,
        name: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), BackendError>;

    /// Whether a Secret exists (its data is not read).
    async fn secret_exists(&self, name: &str) -> Result<bool, BackendError>;

    /// Writes Task `task`'s log to `out`; with `follow`, keeps writing until the Task ends.
    /// What it waits for and how the Task ended go to `notice`.
    async fn logs(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
        notice: LogNotice<'_>,
    ) -> Result<(), BackendError>;

    /// Writes the requests Task `task`'s Axon gateway served to `out`, one JSON line each (the
    /// gateway's audit record, `axon_gateway::AuditRecord`: no header, no query, no secret);
    /// with `follow`, keeps writing until the Task ends. What it waits for goes to `notice`.
    /// A backend whose Tasks run without a gateway fails, saying where request logs are.
    async fn requests(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
        notice: LogNotice<'_>,
    ) -> Result<(), BackendError>;

    /// Waits until Task `task` has finished, and returns it.
    async fn wait(&self, task: &str) -> Result<Task, BackendError>;

    /// Held while this process runs TaskSpawner `name`'s loop, so one backend never runs two
    /// loops of one spawner: `None` when another process runs it.
    fn hold_spawner_lock(&self, name: &str) -> Result<Option<SpawnerGuard>, BackendError>;

    /// Whether something runs this backend's TaskSpawners now (on the local backend an
    /// `axon serve`; on Kubernetes each spawner's Deployment, so always).
    fn runs_spawners(&self) -> bool;
}

/// A shared backend is one too (`Arc<dyn Backend>` runs a spawner loop).
#[async_trait::async_trait]
impl<T: SpawnerPort + ?Sized> SpawnerPort for std::sync::Arc<T> {
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, BackendError> {
        (**self).get(kind, name).await
    }

    async fn list_spawned_tasks(&self, spawner: &str) -> Result<Vec<Task>, BackendError> {
        (**self).list_spawned_tasks(spawner).await
    }

    async fn create_spawned_task(
        &self,
        spawner: &TaskSpawner,
        task: Valid<Task>,
    ) -> Result<CreateOutcome, BackendError> {
        (**self).create_spawned_task(spawner, task).await
    }

    async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), BackendError> {
        (**self).annotate_task(task, key, value).await
    }

    async fn apply_spawned_workspace(
        &self,
        spawner: &TaskSpawner,
        workspace: Valid<Workspace>,
    ) -> Result<(), BackendError> {
        (**self).apply_spawned_workspace(spawner, workspace).await
    }

    async fn write_spawner_status(
        &self,
        spawner: &str,
        status: &TaskSpawnerStatus,
    ) -> Result<(), BackendError> {
        (**self).write_spawner_status(spawner, status).await
    }

    async fn secret_value(&self, name: &str, key: &str) -> Result<Option<String>, BackendError> {
        (**self).secret_value(name, key).await
    }

    async fn cancel_task(&self, task: &str, by: &str) -> Result<CancelOutcome, BackendError> {
        (**self).cancel_task(task, by).await
    }
}
