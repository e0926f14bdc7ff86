//! One face for both backends: the user commands call these methods and never care whether
//! resources live in SQLite or in a cluster.

use crate::args::GlobalArgs;
use crate::error::CliError;
use crate::settings::{Settings, axon_home};
use axon_api::config::Backend as BackendKind;
use axon_api::loader::Resource;
use axon_api::{Kind, Task, TaskSpawner, TaskSpawnerStatus};
use axon_core::apply::ApplyOutcome;
use axon_kube::KubeBackend;
use axon_local::LocalBackend;
use std::collections::BTreeMap;

/// Proof that this process runs a spawner's loop (see [`Backend::hold_spawner_lock`]).
pub enum SpawnerGuard {
    /// Released when dropped (or when the process dies).
    Local(#[allow(dead_code)] axon_local::ServeLock),
    Cluster,
}

/// The backend a command talks to.
pub enum Backend {
    Local(Box<LocalBackend>),
    Kube(Box<KubeBackend>),
}

impl Backend {
    /// Open the backend the settings name.
    pub async fn open(settings: &Settings, global: &GlobalArgs) -> Result<Backend, CliError> {
        match settings.backend {
            BackendKind::Local => {
                let backend = LocalBackend::open(&axon_home()?)?;
                if let Some(c) = settings.config.concurrency {
                    backend.set_concurrency(c as usize);
                }
                backend.set_default_timeout(settings.config.timeout_seconds);
                if let Some(mode) = global.sandbox {
                    if mode == axon_local::SandboxMode::None {
                        eprintln!("{}", axon_local::NO_SANDBOX_WARNING);
                    }
                    backend.set_sandbox(mode);
                }
                Ok(Backend::Local(Box::new(backend)))
            }
            BackendKind::Kubernetes => {
                let ns = global
                    .namespace
                    .clone()
                    .or_else(|| settings.config.namespace.clone());
                Ok(Backend::Kube(Box::new(
                    KubeBackend::connect(global.kubeconfig.as_deref(), ns.as_deref()).await?,
                )))
            }
        }
    }

    /// Store `r`, after the same field rules as `axon validate` (so `axon run` and
    /// `axon create` refuse what `apply -f` would).
    pub async fn apply(&self, r: Resource) -> Result<ApplyOutcome, CliError> {
        if let Some(v) = axon_core::validate::all_violations(&r).first() {
            return Err(CliError::Invalid(format!(
                "{} {:?}: {}: {}",
                r.kind(),
                r.name(),
                v.path,
                v.reason
            )));
        }
        Ok(match self {
            Backend::Local(b) => b.apply(r).await?,
            Backend::Kube(b) => b.apply(r).await?,
        })
    }

    pub async fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, CliError> {
        Ok(match self {
            Backend::Local(b) => b.get(kind, name).await?,
            Backend::Kube(b) => b.get(kind, name).await?,
        })
    }

    pub async fn list(&self, kind: Kind) -> Result<Vec<Resource>, CliError> {
        Ok(match self {
            Backend::Local(b) => b.list(kind).await?,
            Backend::Kube(b) => b.list(kind).await?,
        })
    }

    pub async fn delete(&self, kind: Kind, name: &str) -> Result<bool, CliError> {
        Ok(match self {
            Backend::Local(b) => b.delete(kind, name).await?,
            Backend::Kube(b) => b.delete(kind, name).await?,
        })
    }

    pub async fn create_secret(
        &self,
        name: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), CliError> {
        match self {
            Backend::Local(b) => b.create_secret(name, data).await?,
            Backend::Kube(b) => b.create_secret(name, data).await?,
        }
        Ok(())
    }

    pub async fn secret_exists(&self, name: &str) -> Result<bool, CliError> {
        Ok(match self {
            Backend::Local(b) => b.secret_exists(name).await?,
            Backend::Kube(b) => b.secret_exists(name).await?,
        })
    }

    pub async fn logs(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(), CliError> {
        match self {
            Backend::Local(b) => b.logs(task, follow, out).await?,
            Backend::Kube(b) => {
                // What it waits for, and how the Task ended, go to stderr: not part of the log.
                let opts = axon_kube::logs::LogOptions {
                    follow,
                    wait: axon_kube::logs::LOG_WAIT,
                };
                b.logs_with(task, opts, out, &mut |m| eprintln!("axon logs: {m}"))
                    .await?
            }
        }
        Ok(())
    }

    pub async fn wait(&self, task: &str) -> Result<Task, CliError> {
        Ok(match self {
            Backend::Local(b) => b.wait(task).await?,
            Backend::Kube(b) => b.wait(task).await?,
        })
    }

    /// Tasks labelled `axon.io/taskspawner=<spawner>` (for the spawner loop).
    pub async fn list_spawned_tasks(&self, spawner: &str) -> Result<Vec<Task>, CliError> {
        Ok(match self {
            Backend::Local(b) => b.list_spawned_tasks(spawner).await?,
            Backend::Kube(b) => b.list_spawned_tasks(spawner).await?,
        })
    }

    /// Creates a spawned Task unless its name exists (on Kubernetes, owned by the spawner):
    /// `true` when created.
    pub async fn create_spawned_task(
        &self,
        spawner: &TaskSpawner,
        task: Task,
    ) -> Result<bool, CliError> {
        Ok(match self {
            Backend::Local(b) => b.create_task_if_absent(task).await?,
            Backend::Kube(b) => b.create_task_if_absent(spawner, task).await?,
        })
    }

    /// Sets one annotation on a Task (a missing Task is not an error).
    pub async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), CliError> {
        match self {
            Backend::Local(b) => b.annotate_task(task, key, value).await?,
            Backend::Kube(b) => b.annotate_task(task, key, value).await?,
        }
        Ok(())
    }

    /// Writes the spawner-owned part of a TaskSpawner's status.
    pub async fn write_spawner_status(
        &self,
        spawner: &str,
        status: &TaskSpawnerStatus,
    ) -> Result<(), CliError> {
        match self {
            Backend::Local(b) => b.write_spawner_status(spawner, status).await?,
            Backend::Kube(b) => b.write_spawner_status(spawner, status).await?,
        }
        Ok(())
    }

    /// One key of a secret, `None` when the secret or key is missing.
    pub async fn secret_value(&self, name: &str, key: &str) -> Result<Option<String>, CliError> {
        Ok(match self {
            Backend::Local(b) => b.secret_value(name, key).await?,
            Backend::Kube(b) => b.secret_value(name, key).await?,
        })
    }

    /// Held while this process runs TaskSpawner `name`'s loop: on the local backend a file
    /// lock (`None` when another process already runs that spawner); on Kubernetes nothing is
    /// needed, the spawner's Deployment has one replica.
    pub fn hold_spawner_lock(&self, name: &str) -> Result<Option<SpawnerGuard>, CliError> {
        Ok(match self {
            Backend::Local(b) => b.hold_spawner_lock(name)?.map(SpawnerGuard::Local),
            Backend::Kube(_) => Some(SpawnerGuard::Cluster),
        })
    }

    /// A one-line description for `axon version` / `axon status`.
    pub fn describe(&self) -> String {
        match self {
            Backend::Local(_) => "local".to_string(),
            Backend::Kube(b) => format!("kubernetes (namespace {})", b.namespace()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::args::{Cli, Command};
    use axon_api::config::Backend as BackendKind;
    use clap::Parser;

    /// The spawner Deployment's command line selects the Kubernetes backend: without it the
    /// binary in the Pod would use the local backend, find no spawner and exit.
    #[test]
    fn the_spawner_deployment_runs_on_the_kubernetes_backend() {
        let args = axon_kube::spawner_deployment::spawner_args("fix-bugs", "team");
        let cli = Cli::try_parse_from(std::iter::once("axon".to_string()).chain(args))
            .expect("the spawner's arguments parse");
        assert_eq!(cli.global.backend, Some(BackendKind::Kubernetes));
        assert_eq!(cli.global.namespace.as_deref(), Some("team"));
        match cli.command {
            Command::Spawner(a) => assert_eq!(a.name, "fix-bugs"),
            other => panic!("parsed as {other:?}"),
        }
    }
}
