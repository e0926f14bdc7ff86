//! CRD generation from the resource types: the single source of the schemas installed in a
//! cluster and checked in under `deploy/`.

use crate::{AgentConfig, Task, TaskSpawner, Workspace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The four CRDs, in install order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        Task::crd(),
        Workspace::crd(),
        AgentConfig::crd(),
        TaskSpawner::crd(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every object schema node must be structural: a `type`, and no `additionalProperties`
    /// next to `properties`.
    fn assert_structural(path: &str, node: &Value) {
        let Some(obj) = node.as_object() else { return };
        let is_int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
        let preserves = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        assert!(
            obj.contains_key("type") || is_int_or_string || preserves,
            "{path}: no type in {node}"
        );
        assert!(
            !obj.contains_key("anyOf") && !obj.contains_key("oneOf") || obj.contains_key("type"),
            "{path}: anyOf/oneOf without type"
        );
        assert!(
            !(obj.contains_key("properties") && obj.contains_key("additionalProperties")),
            "{path}: properties and additionalProperties"
        );
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                assert_structural(&format!("{path}.{k}"), v);
            }
        }
        if let Some(items) = obj.get("items") {
            assert_structural(&format!("{path}[]"), items);
        }
    }

    #[test]
    fn crds_are_structural() {
        for crd in crds() {
            let v = serde_json::to_value(&crd).expect("crd json");
            let schema = &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            assert_structural(&crd.spec.names.kind, schema);
        }
    }

    fn has_path(schema: &Value, path: &str) -> bool {
        let mut node = schema;
        for part in path.split('.') {
            let part = part.trim_end_matches("[]");
            let props = if node.get("type") == Some(&Value::String("array".into())) {
                &node["items"]["properties"]
            } else {
                &node["properties"]
            };
            match props.get(part) {
                Some(n) => node = n,
                None => return false,
            }
        }
        true
    }

    #[test]
    fn every_seed_field_is_in_the_schema() {
        let fields: &[(&str, &[&str])] = &[
            (
                "Task",
                &[
                    "spec.type",
                    "spec.prompt",
                    "spec.credentials.type",
                    "spec.credentials.secretRef.name",
                    "spec.model",
                    "spec.image",
                    "spec.workspaceRef.name",
                    "spec.agentConfigRef.name",
                    "spec.ttlSecondsAfterFinished",
                    "status.phase",
                    "status.jobName",
                    "status.podName",
                    "status.startTime",
                    "status.completionTime",
                    "status.message",
                    "status.outputs.branch",
                    "status.outputs.commits",
                    "status.outputs.pullRequests",
                    "status.usage.inputTokens",
                    "status.usage.costUSD",
                    "status.conditions",
                ],
            ),
            (
                "Workspace",
                &[
                    "spec.repo",
                    "spec.ref",
                    "spec.secretRef.name",
                    "spec.files.path",
                    "spec.files.content",
                ],
            ),
            (
                "AgentConfig",
                &[
                    "spec.agentsMD",
                    "spec.plugins.name",
                    "spec.plugins.skills.name",
                    "spec.plugins.skills.content",
                    "spec.plugins.agents.name",
                    "spec.plugins.agents.content",
                ],
            ),
            (
                "TaskSpawner",
                &[
                    "spec.taskTemplate.workspaceRef.name",
                    "spec.when.githubIssues.labels",
                    "spec.when.githubIssues.excludeLabels",
                    "spec.when.githubIssues.state",
                    "spec.when.githubIssues.types",
                    "spec.when.cron.schedule",
                    "spec.taskTemplate.type",
                    "spec.taskTemplate.credentials",
                    "spec.taskTemplate.model",
                    "spec.taskTemplate.image",
                    "spec.taskTemplate.agentConfigRef.name",
                    "spec.taskTemplate.promptTemplate",
                    "spec.taskTemplate.ttlSecondsAfterFinished",
                    "spec.pollInterval",
                    "spec.maxConcurrency",
                    "status.phase",
                    "status.deploymentName",
                    "status.totalDiscovered",
                    "status.totalTasksCreated",
                    "status.activeTasks",
                    "status.lastDiscoveryTime",
                    "status.message",
                ],
            ),
        ];
        for crd in crds() {
            let v = serde_json::to_value(&crd).expect("crd json");
            let schema = &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            let (_, paths) = fields
                .iter()
                .find(|(k, _)| *k == crd.spec.names.kind)
                .expect("kind listed");
            for p in *paths {
                assert!(
                    has_path(schema, p),
                    "{}: {p} missing from the CRD schema",
                    crd.spec.names.kind
                );
            }
        }
    }

    #[test]
    fn one_source_rule_is_in_the_schema() {
        let v = serde_json::to_string(&TaskSpawner::crd()).expect("json");
        assert!(v.contains("has(self.githubIssues) != has(self.cron)"));
        assert!(v.contains("has(self.spec.taskTemplate.workspaceRef)"));
    }
}
