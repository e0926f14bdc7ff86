//! [`BackendSink`]: the spawner loop's [`TaskSink`] over whichever backend the CLI opened, so
//! `axon spawner` (in a Kubernetes Deployment) and `axon serve` (locally) run the very same
//! `axon_spawner::Spawner`.
//!
//! Backend errors become [`SinkError`]s by their message; no backend error carries a secret
//! value, and the GitHub token read here only travels inside an `axon_spawner::Token`.

use crate::backend::Backend;
use axon_api::loader::Resource;
use axon_api::{Kind, Task, TaskSpawner, TaskSpawnerStatus, Workspace};
use axon_core::plan::GITHUB_TOKEN_KEY;
use axon_spawner::{CreateOutcome, SinkError, TaskSink, Token};
use std::sync::Arc;

/// A [`TaskSink`] over a shared [`Backend`] (one namespace on Kubernetes).
#[derive(Clone)]
pub struct BackendSink {
    backend: Arc<Backend>,
}

impl BackendSink {
    /// A sink over `backend`.
    pub fn new(backend: Arc<Backend>) -> BackendSink {
        BackendSink { backend }
    }
}

fn sink_error(e: impl std::fmt::Display) -> SinkError {
    SinkError::new(e.to_string())
}

impl TaskSink for BackendSink {
    async fn get_spawner(&self, name: &str) -> Result<Option<TaskSpawner>, SinkError> {
        match self.backend.get(Kind::TaskSpawner, name).await {
            Ok(Some(Resource::TaskSpawner(s))) => Ok(Some(*s)),
            Ok(_) => Ok(None),
            Err(e) => Err(sink_error(e)),
        }
    }

    async fn list_tasks(&self, spawner: &str) -> Result<Vec<Task>, SinkError> {
        self.backend
            .list_spawned_tasks(spawner)
            .await
            .map_err(sink_error)
    }

    async fn create_task(
        &self,
        spawner: &TaskSpawner,
        task: Task,
    ) -> Result<CreateOutcome, SinkError> {
        match self.backend.create_spawned_task(spawner, task).await {
            Ok(true) => Ok(CreateOutcome::Created),
            Ok(false) => Ok(CreateOutcome::AlreadyExists),
            Err(e) => Err(sink_error(e)),
        }
    }

    async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), SinkError> {
        self.backend
            .annotate_task(task, key, value)
            .await
            .map_err(sink_error)
    }

    async fn update_status(
        &self,
        spawner: &str,
        status: TaskSpawnerStatus,
    ) -> Result<(), SinkError> {
        self.backend
            .write_spawner_status(spawner, &status)
            .await
            .map_err(sink_error)
    }

    async fn get_workspace(&self, name: &str) -> Result<Option<Workspace>, SinkError> {
        match self.backend.get(Kind::Workspace, name).await {
            Ok(Some(Resource::Workspace(w))) => Ok(Some(*w)),
            Ok(_) => Ok(None),
            Err(e) => Err(sink_error(e)),
        }
    }

    async fn apply_workspace(&self, workspace: Workspace) -> Result<(), SinkError> {
        self.backend
            .apply(Resource::Workspace(Box::new(workspace)))
            .await
            .map(|_| ())
            .map_err(sink_error)
    }

    async fn github_token(&self, workspace: &Workspace) -> Result<Option<Token>, SinkError> {
        let Some(secret) = &workspace.spec.secret_ref else {
            return Ok(None);
        };
        let value = self
            .backend
            .secret_value(&secret.name, GITHUB_TOKEN_KEY)
            .await
            .map_err(sink_error)?;
        Ok(value.and_then(Token::new))
    }
}
