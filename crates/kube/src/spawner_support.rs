//! What a TaskSpawner loop (`axon spawner --name X`, run by the spawner's Deployment) needs
//! from the cluster beyond apply/get/list: the Tasks of a spawner by label, creating one
//! owned by its spawner (an existing name is left alone), annotating one, making a fan-out
//! item's Workspace owned by its spawner, writing the spawner's status, and reading one key of
//! a Secret (the Workspace's GitHub token).

use crate::backend::KubeBackend;
use crate::error::KubeError;
use crate::names::SPAWNER_FIELD_MANAGER;
use axon_api::contract::LABEL_TASKSPAWNER;
use axon_api::{Task, TaskSpawner, TaskSpawnerStatus, Workspace};
use axon_core::ownership::{owned_task, owned_workspace};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::Value;

/// Status fields the spawner owns: absent from its status means "clear", which a JSON merge
/// patch only does with an explicit `null`. `deploymentName` belongs to the controller.
const SPAWNER_OWNED: [&str; 10] = [
    "items",
    "phase",
    "source",
    "lastDiscoveryTime",
    "message",
    "conditions",
    "observedGeneration",
    "spawnedItems",
    "totalDiscovered",
    "activeTasks",
];

/// The merge patch body that replaces the spawner-owned part of a TaskSpawner's status.
pub fn spawner_status_patch(status: &TaskSpawnerStatus) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(status)?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("deploymentName");
        for key in SPAWNER_OWNED {
            obj.entry(key).or_insert(Value::Null);
        }
    }
    Ok(serde_json::json!({ "status": value }))
}

impl KubeBackend {
    /// Every Task labelled `axon.io/taskspawner=<spawner>` in the namespace.
    pub async fn list_spawned_tasks(&self, spawner: &str) -> Result<Vec<Task>, KubeError> {
        let api: Api<Task> = Api::namespaced(self.client.clone(), self.namespace());
        let lp = ListParams::default().labels(&format!("{LABEL_TASKSPAWNER}={spawner}"));
        Ok(api
            .list(&lp)
            .await
            .map_err(|e| {
                KubeError::api(
                    format!("list Tasks of TaskSpawner {}/{spawner}", self.namespace()),
                    e,
                )
            })?
            .items)
    }

    /// Creates `task` owned by `spawner` (`axon_core::ownership::owned_task`; the garbage
    /// collector deletes it with the spawner): `true` when created, `false`
    /// when a Task of that name exists (`409`; it is left as it is).
    pub async fn create_task_if_absent(
        &self,
        spawner: &TaskSpawner,
        task: Task,
    ) -> Result<bool, KubeError> {
        let api: Api<Task> = Api::namespaced(self.client.clone(), self.namespace());
        let mut task = owned_task(spawner, task);
        task.metadata.namespace = Some(self.namespace().to_string());
        let name = task.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &task).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(KubeError::api(
                format!("create Task {}/{name}", self.namespace()),
                e,
            )),
        }
    }

    /// Creates or replaces fan-out Workspace `workspace`, owned by `spawner`
    /// (`axon_core::ownership::owned_workspace`; the garbage collector deletes it with the
    /// spawner), by server-side apply (field manager `axon-spawner`): idempotent, and a field
    /// the spawner no longer sets (a `ref` the template dropped) is removed. The spawner's Role
    /// allows exactly this: `create` on Workspaces, `patch` on its `<spawner>-<key>` names.
    pub async fn apply_spawned_workspace(
        &self,
        spawner: &TaskSpawner,
        workspace: Workspace,
    ) -> Result<(), KubeError> {
        let api: Api<Workspace> = Api::namespaced(self.client.clone(), self.namespace());
        let mut workspace = owned_workspace(spawner, workspace);
        workspace.metadata.namespace = Some(self.namespace().to_string());
        workspace.metadata.resource_version = None;
        workspace.metadata.uid = None;
        workspace.metadata.managed_fields = None;
        let name = workspace.metadata.name.clone().unwrap_or_default();
        let pp = PatchParams::apply(SPAWNER_FIELD_MANAGER).force();
        api.patch(&name, &pp, &Patch::Apply(&workspace))
            .await
            .map_err(|e| {
                KubeError::api(format!("apply Workspace {}/{name}", self.namespace()), e)
            })?;
        Ok(())
    }

    /// Sets annotation `key=value` on Task `task`; a missing Task is not an error.
    pub async fn annotate_task(&self, task: &str, key: &str, value: &str) -> Result<(), KubeError> {
        let api: Api<Task> = Api::namespaced(self.client.clone(), self.namespace());
        let body = serde_json::json!({ "metadata": { "annotations": { key: value } } });
        match api
            .patch(task, &PatchParams::default(), &Patch::Merge(&body))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(KubeError::api(
                format!("annotate Task {}/{task}", self.namespace()),
                e,
            )),
        }
    }

    /// Replaces the spawner-owned part of TaskSpawner `spawner`'s status (not
    /// `deploymentName`).
    pub async fn write_spawner_status(
        &self,
        spawner: &str,
        status: &TaskSpawnerStatus,
    ) -> Result<(), KubeError> {
        let what = format!(
            "update status of TaskSpawner {}/{spawner}",
            self.namespace()
        );
        let body = spawner_status_patch(status).map_err(|e| KubeError::Serde {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        let api: Api<TaskSpawner> = Api::namespaced(self.client.clone(), self.namespace());
        api.patch_status(spawner, &PatchParams::default(), &Patch::Merge(&body))
            .await
            .map_err(|e| KubeError::api(what, e))?;
        Ok(())
    }

    /// The value of `key` in Secret `name`; `None` when the Secret or the key is missing, or
    /// the value is not UTF-8. The value never reaches an error message.
    pub async fn secret_value(&self, name: &str, key: &str) -> Result<Option<String>, KubeError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.namespace());
        let secret = api
            .get_opt(name)
            .await
            .map_err(|e| KubeError::api(format!("read Secret {}/{name}", self.namespace()), e))?;
        Ok(secret
            .and_then(|s| s.data)
            .and_then(|mut d| d.remove(key))
            .and_then(|b| String::from_utf8(b.0).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::{SpawnedItem, TaskSpawnerPhase};

    #[test]
    fn status_patch_clears_what_the_spawner_dropped_and_keeps_deployment_name() {
        let status = TaskSpawnerStatus {
            phase: Some(TaskSpawnerPhase::Running),
            deployment_name: Some("ignored".into()),
            total_tasks_created: 2,
            spawned_items: vec![SpawnedItem {
                id: "1".into(),
                generation: 1,
                updated_at: None,
                needs_input: false,
            }],
            ..TaskSpawnerStatus::default()
        };
        let patch = spawner_status_patch(&status).expect("patch");
        insta::assert_json_snapshot!(patch, @r#"
        {
          "status": {
            "activeTasks": 0,
            "conditions": null,
            "items": null,
            "lastDiscoveryTime": null,
            "message": null,
            "observedGeneration": null,
            "phase": "Running",
            "source": null,
            "spawnedItems": [
              {
                "generation": 1,
                "id": "1"
              }
            ],
            "totalDiscovered": 0,
            "totalTasksCreated": 2
          }
        }
        "#);
    }
}
