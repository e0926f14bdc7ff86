//! Ownership: which Tasks (and fan-out Workspaces) a TaskSpawner owns, and so which deleting
//! it deletes — one rule for both backends.
//!
//! A spawner's Task carries the label `axon.io/taskspawner=<spawner>` (how the spawner finds
//! its Tasks) and a controller owner reference to the spawner's uid (what makes it owned). On
//! Kubernetes the garbage collector deletes owned Tasks when their spawner goes; the local
//! backend applies [`deleted_with`] itself. Both backends create spawned Tasks through
//! [`owned_task`], so the same Tasks carry the same reference and go the same way: a Task
//! someone labelled by hand, or one owned by an earlier spawner of the same name (another uid),
//! is left alone, as the garbage collector leaves it.
//!
//! The Workspaces a `when.items` spawner makes for items with a `repo` (`<spawner>-<key>`, see
//! [`crate::fanout`]) are owned the same way ([`owned_workspace`], [`workspaces_deleted_with`]):
//! they exist only for the spawner's Tasks, so they go with it.

use axon_api::contract::LABEL_TASKSPAWNER;
use axon_api::{API_VERSION, Kind, Task, TaskSpawner, Workspace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// The owner reference a spawner puts on each Task it creates; `None` for a spawner not
/// stored yet (no uid).
pub fn owner_reference(spawner: &TaskSpawner) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: API_VERSION.to_string(),
        kind: Kind::TaskSpawner.as_str().to_string(),
        name: spawner.metadata.name.clone().unwrap_or_default(),
        uid: spawner.metadata.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Labels `meta` with `spawner`'s name and makes it owned by `spawner`.
fn own(spawner: &TaskSpawner, meta: &mut ObjectMeta) {
    let name = spawner.metadata.name.clone().unwrap_or_default();
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(LABEL_TASKSPAWNER.to_string(), name);
    if let Some(reference) = owner_reference(spawner) {
        meta.owner_references = Some(vec![reference]);
    }
}

/// Whether `meta` carries an owner reference of kind TaskSpawner to `spawner`'s uid.
fn owns(spawner: &TaskSpawner, meta: &ObjectMeta) -> bool {
    let Some(uid) = spawner.metadata.uid.as_deref() else {
        return false;
    };
    meta.owner_references
        .iter()
        .flatten()
        .any(|r| r.kind == Kind::TaskSpawner.as_str() && r.uid == uid)
}

/// `task` as `spawner` creates it: labelled with the spawner's name and owned by it.
pub fn owned_task(spawner: &TaskSpawner, mut task: Task) -> Task {
    own(spawner, &mut task.metadata);
    task
}

/// A fan-out item's Workspace as `spawner` makes it: labelled and owned like its Tasks.
pub fn owned_workspace(spawner: &TaskSpawner, mut workspace: Workspace) -> Workspace {
    own(spawner, &mut workspace.metadata);
    workspace
}

/// Whether `task` is owned by `spawner`: it carries an owner reference of kind TaskSpawner to
/// the spawner's uid.
pub fn is_owned_by(task: &Task, spawner: &TaskSpawner) -> bool {
    owns(spawner, &task.metadata)
}

/// The names of the Tasks deleting `spawner` deletes, among `tasks`: those it owns.
pub fn deleted_with(spawner: &TaskSpawner, tasks: &[Task]) -> Vec<String> {
    tasks
        .iter()
        .filter(|t| is_owned_by(t, spawner))
        .filter_map(|t| t.metadata.name.clone())
        .collect()
}

/// The names of the Workspaces deleting `spawner` deletes, among `workspaces`: those it owns
/// (the fan-out Workspaces it made); a Workspace an item only names is not.
pub fn workspaces_deleted_with(spawner: &TaskSpawner, workspaces: &[Workspace]) -> Vec<String> {
    workspaces
        .iter()
        .filter(|w| owns(spawner, &w.metadata))
        .filter_map(|w| w.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spawner(uid: Option<&str>) -> TaskSpawner {
        serde_json::from_value(json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "TaskSpawner",
            "metadata": {"name": "fix-bugs", "namespace": "ns", "uid": uid},
            "spec": {
                "when": {"cron": {"schedule": "* * * * *"}},
                "taskTemplate": {"type": "claude-code",
                    "credentials": {"type": "api-key", "secretRef": {"name": "c"}}},
            },
        }))
        .expect("spawner")
    }

    fn task(name: &str) -> Task {
        serde_json::from_value(json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "Task",
            "metadata": {"name": name},
            "spec": {"type": "claude-code", "prompt": "p",
                "credentials": {"type": "api-key", "secretRef": {"name": "c"}}},
        }))
        .expect("task")
    }

    #[test]
    fn spawned_tasks_are_labelled_and_owned() {
        let t = owned_task(&spawner(Some("u-1")), task("fix-bugs-1"));
        insta::assert_json_snapshot!(t.metadata, @r#"
        {
          "labels": {
            "axon.io/taskspawner": "fix-bugs"
          },
          "name": "fix-bugs-1",
          "ownerReferences": [
            {
              "apiVersion": "axon.io/v1alpha1",
              "blockOwnerDeletion": true,
              "controller": true,
              "kind": "TaskSpawner",
              "name": "fix-bugs",
              "uid": "u-1"
            }
          ]
        }
        "#);
    }

    fn workspace(name: &str) -> Workspace {
        serde_json::from_value(json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "Workspace",
            "metadata": {"name": name},
            "spec": {"repo": "https://example.com/a/b.git"},
        }))
        .expect("workspace")
    }

    #[test]
    fn fanout_workspaces_are_owned_like_tasks() {
        let current = spawner(Some("u-2"));
        let made = owned_workspace(&current, workspace("fix-bugs-billing"));
        assert_eq!(
            made.metadata.owner_references,
            owned_task(&current, task("t")).metadata.owner_references
        );
        assert_eq!(
            made.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_TASKSPAWNER)),
            Some(&"fix-bugs".to_string())
        );
        let earlier = owned_workspace(&spawner(Some("u-1")), workspace("fix-bugs-old"));
        let named = workspace("shared");
        let all = [made, earlier, named];
        assert_eq!(
            workspaces_deleted_with(&current, &all),
            vec!["fix-bugs-billing".to_string()]
        );
        assert!(workspaces_deleted_with(&spawner(None), &all).is_empty());
    }

    #[test]
    fn deleting_a_spawner_deletes_the_tasks_it_owns_and_nothing_else() {
        let current = spawner(Some("u-2"));
        let earlier = spawner(Some("u-1"));
        let mine = owned_task(&current, task("fix-bugs-1"));
        let also_mine = owned_task(&current, task("fix-bugs-2"));
        // Same name, earlier spawner (deleted and re-created): another uid.
        let earlier_one = owned_task(&earlier, task("fix-bugs-0"));
        // Labelled by hand, never owned.
        let mut labelled = task("by-hand");
        labelled.metadata.labels = Some([(LABEL_TASKSPAWNER.into(), "fix-bugs".into())].into());
        let unrelated = task("other");
        let tasks = [mine, earlier_one, labelled, also_mine, unrelated];
        assert_eq!(
            deleted_with(&current, &tasks),
            vec!["fix-bugs-1".to_string(), "fix-bugs-2".to_string()]
        );
        assert_eq!(
            deleted_with(&earlier, &tasks),
            vec!["fix-bugs-0".to_string()]
        );
        // A spawner without a uid (never stored) owns nothing.
        assert!(deleted_with(&spawner(None), &tasks).is_empty());
        assert!(
            owned_task(&spawner(None), task("x"))
                .metadata
                .owner_references
                .is_none()
        );
    }
}
