//! What a TaskSpawner runs: a Deployment of `axon spawner --name X -n NS --backend kubernetes`
//! (also `AXON_BACKEND=kubernetes`, `AXON_LOG=info`) with its own
//! ServiceAccount and a Role that allows only what the spawner does: read its TaskSpawner, its
//! Workspace and that Workspace's Secret, write its TaskSpawner's status, create and list Tasks
//! in its namespace. Pure rendering, the spawner's phase from its Deployment, and the check of
//! the spec's rules the CRD schema cannot express (a bad cron expression fails the TaskSpawner
//! with a `SpecValid=False` condition instead of a spawner that cannot start).

use crate::names::{
    BACKEND_ENV, LABEL_COMPONENT, LABEL_MANAGED_BY, LABEL_NAME, LABEL_SPAWNER, LOG_ENV,
    POD_LOG_LEVEL, spawner_name,
};
use crate::security::{container_security_context, pod_security_context, resources};
use axon_api::config::Backend;
use axon_api::{Condition, TaskSpawner, TaskSpawnerPhase, TaskSpawnerStatus};
use axon_core::fanout;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::{Resource as _, ResourceExt};
use std::collections::BTreeMap;

/// The objects that run one TaskSpawner.
#[derive(Clone, Debug, PartialEq)]
pub struct SpawnerObjects {
    pub service_account: ServiceAccount,
    pub role: Role,
    pub role_binding: RoleBinding,
    pub deployment: Deployment,
}

fn labels(spawner: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_SPAWNER.to_string(), spawner.to_string()),
        (LABEL_NAME.to_string(), "axon".to_string()),
        (LABEL_COMPONENT.to_string(), "spawner".to_string()),
        (LABEL_MANAGED_BY.to_string(), "axon".to_string()),
    ])
}

fn owner(ts: &TaskSpawner) -> OwnerReference {
    ts.controller_owner_ref(&())
        .unwrap_or_else(|| OwnerReference {
            api_version: axon_api::API_VERSION.into(),
            kind: "TaskSpawner".into(),
            name: ts.name_any(),
            uid: ts.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: None,
        })
}

fn rule(resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(vec![if resources.contains(&"secrets") {
            String::new()
        } else if resources.contains(&"events") {
            "events.k8s.io".to_string()
        } else {
            "axon.io".to_string()
        }]),
        resources: Some(v(resources)),
        resource_names: (!names.is_empty()).then(|| v(names)),
        verbs: v(verbs),
        ..Default::default()
    }
}

/// The Role's rules for spawner `name` reading Workspace `workspace` and its Secret `secret`,
/// and making the Workspaces `derived` of its `when.items` (`axon_core::fanout`): it may
/// create Workspaces (Kubernetes cannot limit a create to names) and read and replace only
/// those names (server-side apply: `patch`, which creates through the `create` rule).
pub fn spawner_rules(
    name: &str,
    workspace: Option<&str>,
    secret: Option<&str>,
    derived: &[String],
) -> Vec<PolicyRule> {
    let mut rules = vec![
        rule(&["taskspawners"], &[name], &["get", "watch"]),
        rule(
            &["taskspawners/status"],
            &[name],
            &["get", "patch", "update"],
        ),
        rule(
            &["tasks"],
            &[],
            &["get", "list", "watch", "create", "patch"],
        ),
    ];
    if let Some(ws) = workspace {
        rules.push(rule(&["workspaces"], &[ws], &["get"]));
    }
    if !derived.is_empty() {
        let names: Vec<&str> = derived.iter().map(String::as_str).collect();
        rules.push(rule(&["workspaces"], &[], &["create"]));
        rules.push(rule(&["workspaces"], &names, &["get", "patch"]));
    }
    if let Some(s) = secret {
        rules.push(rule(&["secrets"], &[s], &["get"]));
    }
    rules.push(rule(&["events"], &[], &["create", "patch"]));
    rules
}

/// The spawner container's arguments (after `axon`): the loop of TaskSpawner `name` in
/// `namespace`, on the Kubernetes backend. Without `--backend kubernetes` (or `AXON_BACKEND`,
/// also set) the binary would pick the local backend, find no such spawner and exit.
pub fn spawner_args(name: &str, namespace: &str) -> Vec<String> {
    vec![
        "spawner".into(),
        "--name".into(),
        name.into(),
        "-n".into(),
        namespace.into(),
        "--backend".into(),
        Backend::Kubernetes.as_str().into(),
    ]
}

/// Render the objects for `ts`, whose Workspace's Secret is `workspace_secret`, running `image`.
pub fn render_spawner(
    ts: &TaskSpawner,
    workspace_secret: Option<&str>,
    image: &str,
) -> SpawnerObjects {
    let name = ts.name_any();
    let ns = ts.namespace();
    let obj = spawner_name(&name);
    let meta = ObjectMeta {
        name: Some(obj.clone()),
        namespace: ns.clone(),
        labels: Some(labels(&name)),
        owner_references: Some(vec![owner(ts)]),
        ..Default::default()
    };
    let workspace = ts
        .spec
        .task_template
        .workspace_ref
        .as_ref()
        .map(|w| w.name.as_str());
    let derived = fanout::derived_workspace_names(&name, &ts.spec.when);
    let selector = BTreeMap::from([(LABEL_SPAWNER.to_string(), name.clone())]);
    let container = Container {
        name: "spawner".into(),
        image: Some(image.into()),
        image_pull_policy: Some("Always".into()),
        command: Some(vec!["axon".into()]),
        args: Some(spawner_args(&name, ns.as_deref().unwrap_or_default())),
        env: Some(vec![
            EnvVar {
                name: BACKEND_ENV.into(),
                value: Some(Backend::Kubernetes.as_str().into()),
                value_from: None,
            },
            EnvVar {
                name: LOG_ENV.into(),
                value: Some(POD_LOG_LEVEL.into()),
                value_from: None,
            },
        ]),
        security_context: Some(container_security_context()),
        resources: Some(resources("10m", "32Mi", "200m", "128Mi")),
        ..Default::default()
    };
    SpawnerObjects {
        service_account: ServiceAccount {
            metadata: meta.clone(),
            automount_service_account_token: Some(true),
            ..Default::default()
        },
        role: Role {
            metadata: meta.clone(),
            rules: Some(spawner_rules(&name, workspace, workspace_secret, &derived)),
        },
        role_binding: RoleBinding {
            metadata: meta.clone(),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Role".into(),
                name: obj.clone(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: obj.clone(),
                namespace: ns.clone(),
                api_group: None,
            }]),
        },
        deployment: Deployment {
            metadata: meta,
            spec: DeploymentSpec {
                replicas: Some(1),
                strategy: Some(DeploymentStrategy {
                    type_: Some("Recreate".into()),
                    rolling_update: None,
                }),
                selector: LabelSelector {
                    match_labels: Some(selector),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(&name)),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        service_account_name: Some(obj),
                        automount_service_account_token: Some(true),
                        security_context: Some(pod_security_context()),
                        containers: vec![container],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            },
            status: None,
        },
    }
}

/// The spawner's phase and message from its Deployment (`None`: not created yet).
pub fn spawner_phase(deployment: Option<&Deployment>) -> (TaskSpawnerPhase, Option<String>) {
    let Some(d) = deployment else {
        return (
            TaskSpawnerPhase::Pending,
            Some("creating the spawner's Deployment".into()),
        );
    };
    let name = d.metadata.name.clone().unwrap_or_default();
    let status = d.status.as_ref();
    if let Some(c) = status.and_then(|s| s.conditions.as_ref()).and_then(|cs| {
        cs.iter().find(|c| {
            c.type_.as_deref() == Some("Progressing") && c.status.as_deref() == Some("False")
        })
    }) {
        return (
            TaskSpawnerPhase::Failed,
            Some(format!(
                "Deployment {name} is not progressing: {}",
                c.message
                    .clone()
                    .or_else(|| c.reason.clone())
                    .unwrap_or_default()
            )),
        );
    }
    if status.and_then(|s| s.available_replicas).unwrap_or(0) >= 1 {
        (TaskSpawnerPhase::Running, None)
    } else {
        (
            TaskSpawnerPhase::Pending,
            Some(format!("waiting for Deployment {name} to become available")),
        )
    }
}

/// Condition type set to `False` while the TaskSpawner's spec breaks a rule `axon apply`
/// enforces but the CRD's schema cannot express (a cron expression, a prompt template, an agent
/// and credential type that do not go together).
pub const SPEC_VALID: &str = "SpecValid";

/// The first rule the spec breaks, as `field: reason` (`None`: valid): the loader's field rules
/// and the core's, the same `axon validate` applies.
pub fn spec_problem(ts: &TaskSpawner) -> Option<String> {
    let resource = axon_api::Resource::TaskSpawner(Box::new(ts.clone()));
    axon_core::validate::all_violations(&resource)
        .into_iter()
        .next()
        .map(|v| format!("{}: {}", v.path, v.reason))
}

/// The status merge patch for an invalid spec (`None` when status already says so): phase
/// Failed, a message naming the field, and a `SpecValid=False` condition (other conditions,
/// written by the spawner, are kept).
pub fn invalid_spec_patch(
    status: &TaskSpawnerStatus,
    problem: &str,
    generation: Option<i64>,
    now: &str,
) -> Option<serde_json::Value> {
    let message = format!(
        "invalid spec, the spawner is not started: {problem} (fix the TaskSpawner; `axon validate -f FILE` checks a file)"
    );
    let already = status.phase == Some(TaskSpawnerPhase::Failed)
        && status.message.as_deref() == Some(message.as_str())
        && status
            .conditions
            .iter()
            .any(|c| c.type_ == SPEC_VALID && c.status == "False" && c.message == message);
    if already {
        return None;
    }
    let mut conditions: Vec<Condition> = status
        .conditions
        .iter()
        .filter(|c| c.type_ != SPEC_VALID)
        .cloned()
        .collect();
    conditions.push(Condition {
        type_: SPEC_VALID.into(),
        status: "False".into(),
        reason: "InvalidSpec".into(),
        message: message.clone(),
        last_transition_time: Some(now.to_string()),
        observed_generation: generation,
    });
    Some(serde_json::json!({ "status": {
        "phase": TaskSpawnerPhase::Failed,
        "message": message,
        "conditions": conditions,
        "observedGeneration": generation,
    }}))
}

/// The conditions without a `SpecValid` one, when status has one (the spec was fixed).
pub fn without_spec_condition(status: &TaskSpawnerStatus) -> Option<Vec<Condition>> {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == SPEC_VALID)
        .then(|| {
            status
                .conditions
                .iter()
                .filter(|c| c.type_ != SPEC_VALID)
                .cloned()
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verbs_on(rules: &[PolicyRule], resource: &str) -> Vec<(Option<Vec<String>>, Vec<String>)> {
        rules
            .iter()
            .filter(|r| r.resources.as_deref() == Some(&[resource.to_string()][..]))
            .map(|r| (r.resource_names.clone(), r.verbs.clone()))
            .collect()
    }

    /// A `when.items` spawner may create Workspaces and read and replace only its
    /// `<spawner>-<key>` ones; a spawner without derived Workspaces gets no such rule.
    #[test]
    fn the_role_grants_exactly_the_derived_workspaces() {
        let derived = ["refactor-billing".to_string(), "refactor-cart".to_string()];
        let rules = spawner_rules("refactor", Some("base"), None, &derived);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            verbs_on(&rules, "workspaces"),
            vec![
                (Some(s(&["base"])), s(&["get"])),
                (None, s(&["create"])),
                (
                    Some(s(&["refactor-billing", "refactor-cart"])),
                    s(&["get", "patch"])
                ),
            ]
        );
        let plain = spawner_rules("refactor", Some("base"), None, &[]);
        assert_eq!(
            verbs_on(&plain, "workspaces"),
            vec![(Some(s(&["base"])), s(&["get"]))]
        );
    }

    /// The names come from the spec: items with a `repo` and no `workspace`.
    #[test]
    fn render_spawner_derives_the_names_from_the_items() {
        let ts: TaskSpawner = serde_json::from_value(serde_json::json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "TaskSpawner",
            "metadata": {"name": "refactor", "namespace": "ns", "uid": "u"},
            "spec": {
                "when": {"items": [
                    {"name": "billing", "repo": "https://example.com/b.git"},
                    {"name": "search", "workspace": "shared"},
                ]},
                "taskTemplate": {"type": "claude-code",
                    "credentials": {"type": "api-key", "secretRef": {"name": "c"}}},
            },
        }))
        .expect("spawner");
        let role = render_spawner(&ts, None, "img").role;
        let rules = role.rules.unwrap_or_default();
        let patchable: Vec<_> = verbs_on(&rules, "workspaces")
            .into_iter()
            .filter(|(_, verbs)| verbs.contains(&"patch".to_string()))
            .collect();
        assert_eq!(
            patchable,
            vec![(
                Some(vec!["refactor-billing".to_string()]),
                vec!["get".to_string(), "patch".to_string()]
            )]
        );
    }
}
