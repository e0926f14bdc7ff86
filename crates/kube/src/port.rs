//! The Kubernetes backend behind Axon's backend port (`axon_port::Backend`): what the CLI's
//! commands and the spawner loop (`axon spawner` in a spawner's Deployment) call, over
//! [`KubeBackend`]'s own methods. Kubernetes errors keep their messages and gain a kind.

use crate::backend::KubeBackend;
use crate::error::KubeError;
use crate::logs::{LOG_WAIT, LogOptions};
use axon_api::loader::Resource;
use axon_api::{Kind, Task, TaskSpawner, TaskSpawnerStatus, Workspace};
use axon_core::apply::ApplyOutcome;
use axon_port::{
    Backend, BackendError, CancelOutcome, CreateOutcome, ErrorKind, LogNotice, SpawnerGuard,
    SpawnerPort, Valid,
};
use std::collections::BTreeMap;

impl From<KubeError> for BackendError {
    fn from(e: KubeError) -> BackendError {
        let kind = match &e {
            KubeError::NotFound { .. } => ErrorKind::NotFound,
            KubeError::NotInstalled { .. } => ErrorKind::NotInstalled,
            KubeError::PromptTooLarge(_) | KubeError::NoRequestLog { .. } => ErrorKind::Invalid,
            _ => ErrorKind::Failed,
        };
        BackendError::new(kind, e)
    }
}

#[axon_port::async_trait]
impl SpawnerPort for KubeBackend {
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, BackendError> {
        Ok(KubeBackend::get(self, kind, name).await?)
    }

    async fn list_spawned_tasks(&self, spawner: &str) -> Result<Vec<Task>, BackendError> {
        Ok(KubeBackend::list_spawned_tasks(self, spawner).await?)
    }

    async fn create_spawned_task(
        &self,
        spawner: &TaskSpawner,
        task: Valid<Task>,
    ) -> Result<CreateOutcome, BackendError> {
        Ok(
            match KubeBackend::create_task_if_absent(self, spawner, task.into_inner()).await? {
                true => CreateOutcome::Created,
                false => CreateOutcome::AlreadyExists,
            },
        )
    }

    async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), BackendError> {
        Ok(KubeBackend::annotate_task(self, task, key, value).await?)
    }

    async fn apply_spawned_workspace(
        &self,
        spawner: &TaskSpawner,
        workspace: Valid<Workspace>,
    ) -> Result<(), BackendError> {
        Ok(KubeBackend::apply_spawned_workspace(self, spawner, workspace.into_inner()).await?)
    }

    async fn write_spawner_status(
        &self,
        spawner: &str,
        status: &TaskSpawnerStatus,
    ) -> Result<(), BackendError> {
        Ok(KubeBackend::write_spawner_status(self, spawner, status).await?)
    }

    async fn secret_value(&self, name: &str, key: &str) -> Result<Option<String>, BackendError> {
        Ok(KubeBackend::secret_value(self, name, key).await?)
    }

    async fn cancel_task(&self, task: &str, by: &str) -> Result<CancelOutcome, BackendError> {
        Ok(KubeBackend::cancel_task(self, task, by).await?)
    }
}

#[axon_port::async_trait]
impl Backend for KubeBackend {
    fn describe(&self) -> String {
        format!("kubernetes (namespace {})", self.namespace())
    }

    async fn apply(&self, r: Valid<Resource>) -> Result<ApplyOutcome, BackendError> {
        Ok(KubeBackend::apply(self, r.into_inner()).await?)
    }

    async fn list(&self, kind: Kind) -> Result<Vec<Resource>, BackendError> {
        Ok(KubeBackend::list(self, kind).await?)
    }

    async fn delete(&self, kind: Kind, name: &str) -> Result<bool, BackendError> {
        Ok(KubeBackend::delete(self, kind, name).await?)
    }

    async fn create_secret(
        &self,
        name: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        Ok(KubeBackend::create_secret(self, name, data).await?)
    }

    async fn secret_exists(&self, name: &str) -> Result<bool, BackendError> {
        Ok(KubeBackend::secret_exists(self, name).await?)
    }

    async fn logs(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
        notice: LogNotice<'_>,
    ) -> Result<(), BackendError> {
        let opts = LogOptions {
            follow,
            wait: LOG_WAIT,
        };
        Ok(KubeBackend::logs_with(self, task, opts, out, notice).await?)
    }

    /// The gateway does not run on Kubernetes yet, so its Tasks have no request records: say
    /// so (never an empty success) and where they are.
    async fn requests(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
        _notice: LogNotice<'_>,
    ) -> Result<(), BackendError> {
        Ok(KubeBackend::requests(self, task, follow, out).await?)
    }

    async fn wait(&self, task: &str) -> Result<Task, BackendError> {
        Ok(KubeBackend::wait(self, task).await?)
    }

    /// Nothing to hold: the spawner's Deployment has one replica.
    fn hold_spawner_lock(&self, _name: &str) -> Result<Option<SpawnerGuard>, BackendError> {
        Ok(Some(SpawnerGuard::nothing()))
    }

    /// Each TaskSpawner's Deployment runs its loop.
    fn runs_spawners(&self) -> bool {
        true
    }
}
