//! What the spawner loop needs from a backend, and nothing more. The local backend (SQLite)
//! and the Kubernetes backend each implement [`TaskSink`]; [`crate::memory::MemorySink`] is the
//! in-memory one for tests.
//!
//! A sink is scoped to one namespace. Every write must be idempotent: `create_task` of a name
//! that exists is `AlreadyExists`, not an error, because Task names are identities and a
//! restarted spawner re-creates whatever it is unsure about.

use crate::secret::Token;
use axon_api::{Task, TaskSpawner, TaskSpawnerStatus, Workspace};
use std::future::Future;

/// The result of creating a Task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The Task is new.
    Created,
    /// A Task of that name existed; nothing changed.
    AlreadyExists,
}

/// A backend failure, with a message for status and logs (never a secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// What failed, in words for the user.
    pub message: String,
}

impl SinkError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        SinkError {
            message: message.into(),
        }
    }
}

/// The backend operations the spawner loop uses.
pub trait TaskSink: Send + Sync {
    /// The TaskSpawner `name`, read fresh at every poll (spec changes take effect at the next
    /// poll); `None` when it was deleted, which ends [`crate::Spawner::run`].
    fn get_spawner(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<TaskSpawner>, SinkError>> + Send;

    /// Every Task labelled `axon.io/taskspawner=<spawner>`, whatever its phase, with its
    /// annotations and `status.phase`.
    fn list_tasks(
        &self,
        spawner: &str,
    ) -> impl Future<Output = Result<Vec<Task>, SinkError>> + Send;

    /// Creates `task` as given (name, labels, annotations, spec). The Kubernetes backend adds
    /// the owner reference to the TaskSpawner. An existing name is `AlreadyExists`.
    fn create_task(
        &self,
        spawner: &TaskSpawner,
        task: Task,
    ) -> impl Future<Output = Result<CreateOutcome, SinkError>> + Send;

    /// Sets annotation `key=value` on Task `task` (idempotent; a missing Task is not an error).
    fn annotate_task(
        &self,
        task: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Replaces the TaskSpawner's status. Fields the spawner does not own
    /// (`deploymentName`) are passed through from the status it read.
    fn update_status(
        &self,
        spawner: &str,
        status: TaskSpawnerStatus,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// The Workspace `name` (for its repo URL), `None` when missing.
    fn get_workspace(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Workspace>, SinkError>> + Send;

    /// Creates or replaces Workspace `workspace` (a fan-out item's `repo`; the spawner only
    /// replaces Workspaces labelled with its name, see `axon_core::fanout::workspace_action`).
    fn apply_workspace(
        &self,
        workspace: Workspace,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// The GitHub token of a Workspace (`GITHUB_TOKEN` of its `secretRef`), `None` without one.
    fn github_token(
        &self,
        workspace: &Workspace,
    ) -> impl Future<Output = Result<Option<Token>, SinkError>> + Send;
}
