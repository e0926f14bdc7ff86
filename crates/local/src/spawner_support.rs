//! What a TaskSpawner loop needs from the local backend beyond apply/get/list: the Tasks of a
//! spawner, creating one only if its name is free, annotating one, making a fan-out item's
//! Workspace owned by its spawner, writing a spawner's status,
//! reading one key of a local secret, and the `axon serve` lock that tells whether spawners
//! are being run at all.
//!
//! Each call opens its own handle on the store (SQLite in WAL mode, shared by every `axon`
//! process), so these methods touch nothing of [`LocalBackend`]'s private state.

use crate::backend::LocalBackend;
use crate::error::LocalError;
use crate::lock::{Lock, is_held};
use crate::paths::Home;
use crate::secrets::Secrets;
use crate::store::Store;
use axon_api::contract::LABEL_TASKSPAWNER;
use axon_api::{Kind, Resource, Task, TaskSpawner, TaskSpawnerStatus, Workspace};
use axon_core::ownership::{owned_task, owned_workspace};
use serde_json::Value;
use std::path::PathBuf;

/// A file lock held by `axon serve` while it runs (see [`LocalBackend::hold_serve_lock`]), or by
/// the process running one spawner's loop ([`LocalBackend::hold_spawner_lock`]); released when
/// dropped or when the process dies, however it dies.
#[derive(Debug)]
pub struct ServeLock {
    _lock: Lock,
}

impl LocalBackend {
    fn spawner_home(&self) -> Home {
        Home::new(self.home())
    }

    pub(crate) fn spawner_store(&self) -> Result<Store, LocalError> {
        Store::open(&self.spawner_home().db())
    }

    fn serve_lock_path(&self) -> PathBuf {
        self.home().join("serve.lock")
    }

    /// Every Task labelled `axon.io/taskspawner=<spawner>`, oldest first.
    pub async fn list_spawned_tasks(&self, spawner: &str) -> Result<Vec<Task>, LocalError> {
        let mut out = Vec::new();
        for r in self.list(Kind::Task).await? {
            if let Resource::Task(t) = r
                && t.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_TASKSPAWNER))
                    .is_some_and(|s| s == spawner)
            {
                out.push(*t);
            }
        }
        Ok(out)
    }

    /// Creates `task`, owned by `spawner` (`axon_core::ownership::owned_task`: deleting the
    /// spawner deletes it), unless a Task of that name exists (then nothing changes): `true`
    /// when created. A spawner is the only writer of its Tasks' names, so read-then-apply is
    /// safe.
    pub async fn create_task_if_absent(
        &self,
        spawner: &TaskSpawner,
        task: Task,
    ) -> Result<bool, LocalError> {
        let task = owned_task(spawner, task);
        let name = task.metadata.name.clone().unwrap_or_default();
        if self.get(Kind::Task, &name).await?.is_some() {
            return Ok(false);
        }
        self.apply(Resource::Task(Box::new(task))).await?;
        Ok(true)
    }

    /// Creates or replaces fan-out Workspace `workspace`, owned by `spawner`
    /// (`axon_core::ownership::owned_workspace`: deleting the spawner deletes it).
    pub async fn apply_spawned_workspace(
        &self,
        spawner: &TaskSpawner,
        workspace: Workspace,
    ) -> Result<(), LocalError> {
        let workspace = owned_workspace(spawner, workspace);
        self.apply(Resource::Workspace(Box::new(workspace))).await?;
        Ok(())
    }

    /// Sets annotation `key=value` on Task `task`; a missing Task is not an error.
    pub async fn annotate_task(
        &self,
        task: &str,
        key: &str,
        value: &str,
    ) -> Result<(), LocalError> {
        let store = self.spawner_store()?;
        let Some(row) = store.get(Kind::Task, task)? else {
            return Ok(());
        };
        let uid = row.uid();
        store.update(Kind::Task, task, &uid, |doc| {
            let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) else {
                return false;
            };
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            let Some(map) = annotations.as_object_mut() else {
                return false;
            };
            if map.get(key).and_then(Value::as_str) == Some(value) {
                return false;
            }
            map.insert(key.to_string(), value.into());
            true
        })?;
        Ok(())
    }

    /// Replaces TaskSpawner `spawner`'s status (keeping its `deploymentName`, which the
    /// spawner does not own). A missing spawner is [`LocalError::NotFound`].
    pub async fn write_spawner_status(
        &self,
        spawner: &str,
        status: &TaskSpawnerStatus,
    ) -> Result<(), LocalError> {
        let store = self.spawner_store()?;
        let not_found = || LocalError::NotFound {
            kind: "TaskSpawner".into(),
            name: spawner.into(),
        };
        let row = store
            .get(Kind::TaskSpawner, spawner)?
            .ok_or_else(not_found)?;
        let uid = row.uid();
        let mut value = serde_json::to_value(status).map_err(|e| {
            LocalError::io(format!("encode the status of TaskSpawner {spawner}"), e)
        })?;
        let updated = store.update(Kind::TaskSpawner, spawner, &uid, |doc| {
            if let (Some(kept), Some(obj)) = (
                doc.pointer("/status/deploymentName").cloned(),
                value.as_object_mut(),
            ) {
                obj.insert("deploymentName".into(), kept);
            }
            if doc.get("status") == Some(&value) {
                return false;
            }
            if let Some(o) = doc.as_object_mut() {
                o.insert("status".into(), value.take());
            }
            true
        })?;
        updated.map(|_| ()).ok_or_else(not_found)
    }

    /// The value of `key` in local secret `name`; `None` when the secret or the key is missing.
    pub async fn secret_value(&self, name: &str, key: &str) -> Result<Option<String>, LocalError> {
        let secrets = Secrets::open(&self.spawner_home().secrets())?;
        Ok(secrets.get(name)?.and_then(|mut data| data.remove(key)))
    }

    /// Takes the `axon serve` lock of this AXON_HOME: `None` when another `axon serve` holds it.
    pub fn hold_serve_lock(&self) -> Result<Option<ServeLock>, LocalError> {
        let path = self.serve_lock_path();
        Lock::try_acquire(&path)
            .map(|l| l.map(|lock| ServeLock { _lock: lock }))
            .map_err(|e| LocalError::io(format!("lock {}", path.display()), e))
    }

    /// Whether an `axon serve` runs on this AXON_HOME (and so runs its TaskSpawners).
    pub fn serve_running(&self) -> bool {
        is_held(&self.serve_lock_path())
    }

    /// Held while a process runs TaskSpawner `name`'s loop, so one AXON_HOME never runs two
    /// loops of one spawner (`axon serve` and `axon spawner --name`, or two of either): `None`
    /// when another process runs it.
    pub fn hold_spawner_lock(&self, name: &str) -> Result<Option<ServeLock>, LocalError> {
        let dir = self.home().join("spawners");
        std::fs::create_dir_all(&dir)
            .map_err(|e| LocalError::io(format!("create {}", dir.display()), e))?;
        let path = dir.join(format!("{name}.lock"));
        Lock::try_acquire(&path)
            .map(|l| l.map(|lock| ServeLock { _lock: lock }))
            .map_err(|e| LocalError::io(format!("lock {}", path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::TaskSpawnerPhase;

    fn backend() -> (tempfile::TempDir, LocalBackend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = LocalBackend::open_with_exe(&dir.path().join("home"), Path::new("/bin/false"))
            .expect("open");
        (dir, b)
    }

    use std::path::Path;

    #[test]
    fn one_loop_per_spawner() {
        let (_dir, b) = backend();
        let first = b.hold_spawner_lock("fix-bugs").expect("lock");
        assert!(first.is_some());
        assert!(b.hold_spawner_lock("fix-bugs").expect("lock").is_none());
        assert!(b.hold_spawner_lock("other").expect("lock").is_some());
        drop(first);
        assert!(b.hold_spawner_lock("fix-bugs").expect("lock").is_some());
    }

    fn spawner_doc() -> Resource {
        Resource::from_value(serde_json::json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "TaskSpawner",
            "metadata": {"name": "s"},
            "spec": {
                "when": {"cron": {"schedule": "* * * * *"}},
                "taskTemplate": {"type": "claude-code",
                    "credentials": {"type": "api-key", "secretRef": {"name": "c"}}},
            },
        }))
        .expect("spawner")
    }

    fn task_doc(name: &str, labels: serde_json::Value) -> Task {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "Task",
            "metadata": {"name": name, "labels": labels},
            "spec": {"type": "claude-code", "prompt": "p",
                "credentials": {"type": "api-key", "secretRef": {"name": "c"}}},
        }))
        .expect("task")
    }

    async fn task_names(b: &LocalBackend) -> Vec<String> {
        b.list(Kind::Task)
            .await
            .expect("list")
            .iter()
            .map(|r| r.name().to_string())
            .collect()
    }

    /// The ownership rule of Kubernetes' garbage collector, on the local backend: deleting a
    /// TaskSpawner deletes the Tasks it created, and only those.
    #[tokio::test]
    async fn deleting_a_spawner_deletes_its_tasks() {
        let (_dir, b) = backend();
        b.set_sandbox(crate::sandbox::SandboxMode::None);
        b.apply(spawner_doc()).await.expect("apply");
        let Some(Resource::TaskSpawner(s)) = b.get(Kind::TaskSpawner, "s").await.expect("get")
        else {
            panic!("spawner missing");
        };
        for name in ["s-1", "s-2"] {
            let created = b
                .create_task_if_absent(&s, task_doc(name, serde_json::json!({})))
                .await
                .expect("create");
            assert!(created, "{name}");
        }
        assert!(
            !b.create_task_if_absent(&s, task_doc("s-1", serde_json::json!({})))
                .await
                .expect("create")
        );
        // Labelled by hand as the spawner's, but not created by it: not owned.
        let by_hand = task_doc("by-hand", serde_json::json!({LABEL_TASKSPAWNER: "s"}));
        b.apply(Resource::Task(Box::new(by_hand)))
            .await
            .expect("apply");
        b.apply(Resource::Task(Box::new(task_doc(
            "other",
            serde_json::json!({}),
        ))))
        .await
        .expect("apply");
        assert_eq!(task_names(&b).await, ["by-hand", "other", "s-1", "s-2"]);

        assert!(b.delete(Kind::TaskSpawner, "s").await.expect("delete"));
        assert_eq!(task_names(&b).await, ["by-hand", "other"]);
        assert!(b.get(Kind::TaskSpawner, "s").await.expect("get").is_none());
        assert!(!b.delete(Kind::TaskSpawner, "s").await.expect("delete"));
    }

    #[tokio::test]
    async fn status_secrets_and_the_serve_lock() {
        let (_dir, b) = backend();
        b.apply(spawner_doc()).await.expect("apply");
        let status = TaskSpawnerStatus {
            phase: Some(TaskSpawnerPhase::Running),
            total_tasks_created: 3,
            ..TaskSpawnerStatus::default()
        };
        b.write_spawner_status("s", &status).await.expect("status");
        let Some(Resource::TaskSpawner(s)) = b.get(Kind::TaskSpawner, "s").await.expect("get")
        else {
            panic!("spawner missing");
        };
        assert_eq!(s.status, Some(status.clone()));
        // Re-applying the spec keeps the status.
        b.apply(spawner_doc()).await.expect("apply");
        let Some(Resource::TaskSpawner(s)) = b.get(Kind::TaskSpawner, "s").await.expect("get")
        else {
            panic!("spawner missing");
        };
        assert_eq!(s.status.map(|s| s.total_tasks_created), Some(3));
        assert!(matches!(
            b.write_spawner_status("gone", &status).await,
            Err(LocalError::NotFound { .. })
        ));

        b.create_secret(
            "gh",
            [("GITHUB_TOKEN".to_string(), "t0k".to_string())].into(),
        )
        .await
        .expect("secret");
        assert_eq!(
            b.secret_value("gh", "GITHUB_TOKEN")
                .await
                .expect("read")
                .as_deref(),
            Some("t0k")
        );
        assert_eq!(b.secret_value("gh", "OTHER").await.expect("read"), None);
        assert_eq!(
            b.secret_value("none", "GITHUB_TOKEN").await.expect("read"),
            None
        );

        assert!(!b.serve_running());
        let lock = b.hold_serve_lock().expect("lock").expect("free");
        assert!(b.serve_running());
        assert!(b.hold_serve_lock().expect("lock").is_none());
        drop(lock);
        assert!(!b.serve_running());
    }
}
