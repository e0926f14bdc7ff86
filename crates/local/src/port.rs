//! The local backend behind Axon's backend port (`axon_port::Backend`): what the CLI's
//! commands and the spawner loop call, over [`LocalBackend`]'s own methods. Local errors keep
//! their messages and gain a kind (`axon_port::ErrorKind`).

use crate::backend::LocalBackend;
use crate::error::LocalError;
use axon_api::loader::Resource;
use axon_api::{Kind, Task, TaskSpawner, TaskSpawnerStatus, Workspace};
use axon_core::apply::ApplyOutcome;
use axon_port::{
    Backend, BackendError, CancelOutcome, CreateOutcome, ErrorKind, LogNotice, SpawnerGuard,
    SpawnerPort, Valid,
};
use std::collections::BTreeMap;

impl From<LocalError> for BackendError {
    fn from(e: LocalError) -> BackendError {
        let kind = match &e {
            LocalError::NotFound { .. } => ErrorKind::NotFound,
            LocalError::Invalid { .. } | LocalError::Conflict { .. } => ErrorKind::Invalid,
            _ => ErrorKind::Failed,
        };
        BackendError::new(kind, e)
    }
}

#[axon_port::async_trait]
impl SpawnerPort for LocalBackend {
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, BackendError> {
        Ok(LocalBackend::get(self, kind, name).await?)
    }

    async fn list_spawned_tasks(&self, spawner: &str) -> Result<Vec<Task>, BackendError> {
        Ok(LocalBackend::list_spawned_tasks(self, spawner).await?)
    }

    async fn create_spawned_task(
        &self,
        spawner: &TaskSpawner,
        task: Valid<Task>,
    ) -> Result<CreateOutcome, BackendError> {
        Ok(
            match LocalBackend::create_task_if_absent(self, spawner, task.into_inner()).await? {
                true => CreateOutcome::Created,
                false => CreateOutcome::AlreadyExists,
            },
        )
    }

    async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), BackendError> {
        Ok(LocalBackend::annotate_task(self, task, key, value).await?)
    }

    async fn apply_spawned_workspace(
        &self,
        spawner: &TaskSpawner,
        workspace: Valid<Workspace>,
    ) -> Result<(), BackendError> {
        Ok(LocalBackend::apply_spawned_workspace(self, spawner, workspace.into_inner()).await?)
    }

    async fn write_spawner_status(
        &self,
        spawner: &str,
        status: &TaskSpawnerStatus,
    ) -> Result<(), BackendError> {
        Ok(LocalBackend::write_spawner_status(self, spawner, status).await?)
    }

    async fn secret_value(&self, name: &str, key: &str) -> Result<Option<String>, BackendError> {
        Ok(LocalBackend::secret_value(self, name, key).await?)
    }

    async fn cancel_task(&self, task: &str, by: &str) -> Result<CancelOutcome, BackendError> {
        Ok(LocalBackend::cancel_task(self, task, by).await?)
    }
}

#[axon_port::async_trait]
impl Backend for LocalBackend {
    fn describe(&self) -> String {
        "local".to_string()
    }

    async fn apply(&self, r: Valid<Resource>) -> Result<ApplyOutcome, BackendError> {
        Ok(LocalBackend::apply(self, r.into_inner()).await?)
    }

    async fn list(&self, kind: Kind) -> Result<Vec<Resource>, BackendError> {
        Ok(LocalBackend::list(self, kind).await?)
    }

    async fn delete(&self, kind: Kind, name: &str) -> Result<bool, BackendError> {
        Ok(LocalBackend::delete(self, kind, name).await?)
    }

    async fn create_secret(
        &self,
        name: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        Ok(LocalBackend::create_secret(self, name, data).await?)
    }

    async fn secret_exists(&self, name: &str) -> Result<bool, BackendError> {
        Ok(LocalBackend::secret_exists(self, name).await?)
    }

    async fn logs(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
        _notice: LogNotice<'_>,
    ) -> Result<(), BackendError> {
        Ok(LocalBackend::logs(self, task, follow, out).await?)
    }

    async fn requests(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
        _notice: LogNotice<'_>,
    ) -> Result<(), BackendError> {
        Ok(LocalBackend::requests(self, task, follow, out).await?)
    }

    async fn wait(&self, task: &str) -> Result<Task, BackendError> {
        Ok(LocalBackend::wait(self, task).await?)
    }

    fn hold_spawner_lock(&self, name: &str) -> Result<Option<SpawnerGuard>, BackendError> {
        Ok(LocalBackend::hold_spawner_lock(self, name)?.map(SpawnerGuard::holding))
    }

    fn runs_spawners(&self) -> bool {
        self.serve_running()
    }
}
