//! CRD generation from the resource types: the single source of the schemas installed in a
//! cluster and checked in under `deploy/`.

use crate::rules::{LABEL_NAME_CEL, MAX_LABEL_NAME_LENGTH};
use crate::{AgentConfig, Task, TaskSpawner, Workspace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, ValidationRule,
};
use kube::CustomResourceExt;

/// The four CRDs, in install order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        with_label_name(Task::crd(), "Task"),
        Workspace::crd(),
        AgentConfig::crd(),
        with_label_name(TaskSpawner::crd(), "TaskSpawner"),
    ]
}

/// `crd` with the rule that its objects' names are DNS-1123 labels (`rules::check_label_name`),
/// as a CEL rule on the root schema: the only place a CRD can check `metadata.name`.
fn with_label_name(mut crd: CustomResourceDefinition, kind: &str) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            schema
                .x_kubernetes_validations
                .get_or_insert_with(Vec::new)
                .push(ValidationRule {
                    rule: LABEL_NAME_CEL.to_string(),
                    message: Some(format!(
                        "metadata.name: a {kind} name is a DNS-1123 label of at most {MAX_LABEL_NAME_LENGTH} characters (lowercase letters, digits and '-'), as Kubernetes requires of Job names and label values"
                    )),
                    ..ValidationRule::default()
                });
        }
    }
    crd
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

    /// The schema node at a dotted path of properties (`[]` steps into array items).
    fn node<'a>(schema: &'a Value, path: &str) -> &'a Value {
        let mut n = schema;
        for part in path.split('.') {
            n = match part.strip_suffix("[]") {
                Some(p) => &n["properties"][p]["items"],
                None => &n["properties"][part],
            };
        }
        n
    }

    fn schema_of(crd: &CustomResourceDefinition) -> Value {
        let v = serde_json::to_value(crd).expect("crd json");
        v["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
    }

    fn pattern(n: &Value) -> regex::Regex {
        regex::Regex::new(n["pattern"].as_str().expect("pattern")).expect("pattern compiles")
    }

    #[test]
    fn task_and_spawner_names_are_labels_in_the_schema() {
        for crd in crds() {
            let kind = crd.spec.names.kind.clone();
            let rules = schema_of(&crd)["x-kubernetes-validations"].clone();
            let has = rules
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["rule"] == crate::rules::LABEL_NAME_CEL);
            assert_eq!(has, kind == "Task" || kind == "TaskSpawner", "{kind}");
        }
    }

    #[test]
    fn field_rules_are_in_the_schema() {
        let task = schema_of(&Task::crd());
        assert_eq!(node(&task, "spec.timeoutSeconds")["minimum"], 0.0);
        assert_eq!(node(&task, "spec.ttlSecondsAfterFinished")["minimum"], 0.0);
        let backoff = node(&task, "spec.backoffLimit");
        assert_eq!(backoff["minimum"], 0.0);
        assert_eq!(
            backoff["maximum"],
            f64::from(crate::rules::MAX_BACKOFF_LIMIT)
        );
        let prompt = node(&task, "spec.prompt");
        assert_eq!(prompt["maxLength"], crate::rules::MAX_PROMPT_BYTES);
        assert_eq!(prompt["minLength"], 1);
        for name in [
            "spec.credentials.secretRef.name",
            "spec.workspaceRef.name",
            "spec.agentConfigRef.name",
        ] {
            assert_eq!(node(&task, name)["maxLength"], 253, "{name}");
            assert!(node(&task, name)["pattern"].is_string(), "{name}");
        }
        let spawner = schema_of(&TaskSpawner::crd());
        for field in [
            "promptTemplate",
            "timeoutSeconds",
            "credentials.secretRef.name",
            "workspaceRef.name",
        ] {
            let t = node(&spawner, &format!("spec.taskTemplate.{field}"));
            let f = node(
                &task,
                &format!("spec.{}", field.replace("promptTemplate", "prompt")),
            );
            for key in ["minLength", "maxLength", "pattern", "minimum", "maximum"] {
                assert_eq!(t[key], f[key], "taskTemplate.{field}: {key}");
            }
        }
        let ws = schema_of(&Workspace::crd());
        assert!(
            node(&ws, "spec.ref")["x-kubernetes-validations"][0]["rule"]
                .as_str()
                .is_some_and(|r| r.contains("!self.contains('..')"))
        );
    }

    /// The schema's patterns agree with the loader's rules on the cases both can say.
    #[test]
    fn schema_patterns_agree_with_the_rules() {
        use crate::rules::*;
        let task = schema_of(&Task::crd());
        let name = pattern(node(&task, "spec.credentials.secretRef.name"));
        for s in [
            "a",
            "my-secret",
            "a.b-c",
            "../x",
            "A",
            "a_b",
            "-a",
            "a-",
            "a..b",
            "a.-b",
            "",
        ] {
            assert_eq!(
                name.is_match(s),
                check_reference_name(s, "Secret").is_ok(),
                "name {s:?}"
            );
        }
        let blank = pattern(node(&task, "spec.prompt"));
        for s in ["x", " x ", "", " ", "\n\t "] {
            assert_eq!(blank.is_match(s), check_prompt(s).is_ok(), "prompt {s:?}");
        }
        let ws = schema_of(&Workspace::crd());
        let repo = pattern(node(&ws, "spec.repo"));
        for s in [
            "https://h/r.git",
            "git@h:o/r",
            "/srv/r",
            "-x",
            "--upload-pack=x",
            "a b",
            "a\tb",
            "a\u{1}",
            "a\u{7f}",
        ] {
            assert_eq!(repo.is_match(s), check_repo(s).is_ok(), "repo {s:?}");
        }
        let git_ref = pattern(node(&ws, "spec.ref"));
        for s in [
            "",
            "main",
            "v1.2",
            "refs/pull/7/head",
            "-x",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a\u{1}",
        ] {
            assert_eq!(git_ref.is_match(s), check_git_ref(s).is_ok(), "ref {s:?}");
        }
        let path = pattern(node(&ws, "spec.files[].path"));
        for s in [
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "notes.md",
            ".axon/notes.md",
            ".gitignore",
            ".gi",
            "x/.gitkeep",
            "..a",
            "a..",
            "src/./main.rs",
            ".github/ci.yml",
            "/etc/passwd",
            "../x",
            "a/../x",
            "a/..",
            "..",
            ".git",
            ".GIT",
            ".Git/config",
            "a/.git",
            "a/.gIt/hooks/x",
        ] {
            assert_eq!(path.is_match(s), check_file_path(s).is_ok(), "path {s:?}");
        }
    }

    #[test]
    fn gateway_fields_and_their_rules_are_in_the_schema() {
        let task = schema_of(&Task::crd());
        let spawner = schema_of(&TaskSpawner::crd());
        for prefix in ["spec", "spec.taskTemplate"] {
            let schema = if prefix == "spec" { &task } else { &spawner };
            let at = |p: &str| node(schema, &format!("{prefix}.{p}"));
            assert_eq!(at("budget.maxCostUSD")["minimum"], 0.0, "{prefix}");
            assert_eq!(at("budget.maxTokens")["minimum"], 1.0, "{prefix}");
            assert_eq!(at("budget.maxTurns")["minimum"], 1.0, "{prefix}");
            assert_eq!(
                at("network.mode")["enum"],
                serde_json::json!(["open", "restricted"]),
                "{prefix}"
            );
            let rules = &at("network")["x-kubernetes-validations"];
            assert_eq!(
                rules[0]["rule"],
                crate::network::ALLOW_NEEDS_RESTRICTED_CEL,
                "{prefix}"
            );
            assert!(
                rules[0]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("set mode: restricted or remove allow"))
            );
            assert_eq!(
                at("network.allow")["items"]["pattern"],
                crate::network::ALLOW_ENTRY_PATTERN
            );
            assert_eq!(
                at("policy.protectedBranches")["items"]["pattern"],
                crate::policy::BRANCH_PATTERN_PATTERN
            );
            assert_eq!(at("policy.protectedBranches")["items"]["minLength"], 1);
            let pricing = at("pricing");
            assert_eq!(pricing["x-kubernetes-list-type"], "map", "{prefix}");
            assert_eq!(
                pricing["x-kubernetes-list-map-keys"],
                serde_json::json!(["model"])
            );
            for f in [
                "inputPerMTok",
                "outputPerMTok",
                "cacheReadPerMTok",
                "cacheWritePerMTok",
            ] {
                assert_eq!(pricing["items"]["properties"][f]["minimum"], 0.0, "{f}");
            }
            let required = &pricing["items"]["required"];
            for f in ["model", "inputPerMTok", "outputPerMTok"] {
                assert!(
                    required.as_array().is_some_and(|r| r.contains(&f.into())),
                    "{prefix}.pricing: {f} required"
                );
            }
        }
        for window in ["perHour", "perDay"] {
            let cost = node(&spawner, &format!("spec.budget.{window}.maxCostUSD"));
            assert_eq!(cost["minimum"], 0.0);
            assert_eq!(cost["exclusiveMinimum"], true);
            assert_eq!(
                node(&spawner, &format!("spec.budget.{window}.maxTokens"))["minimum"],
                1.0
            );
        }
        for usage in [
            "status.usage.cacheReadTokens",
            "status.usage.cacheWriteTokens",
            "status.usage.requests",
            "status.usage.source",
        ] {
            assert!(node(&task, usage).is_object(), "{usage}");
        }
        assert_eq!(
            node(&task, "status.usage.source")["enum"],
            serde_json::json!(["agent", "gateway"])
        );
    }

    /// The allowlist and branch-pattern schemas agree with the loader's rules where a pattern
    /// can say it.
    #[test]
    fn gateway_patterns_agree_with_the_rules() {
        let task = schema_of(&Task::crd());
        let allow = pattern(&node(&task, "spec.network.allow")["items"]);
        for s in [
            "pypi.org",
            "*.npmjs.org",
            "localhost",
            "127.0.0.1",
            "a-b.c",
            "",
            "*",
            "*.",
            "https://pypi.org",
            "pypi.org:443",
            "pypi.org/x",
            "a b",
            "A.org",
            "a.*.org",
            "-a.org",
            "a-.org",
            "a..b",
            "a_b.org",
            "::1",
        ] {
            assert_eq!(
                allow.is_match(s),
                crate::network::check_allow_entry(s).is_ok(),
                "allow {s:?}"
            );
        }
        let branches = pattern(&node(&task, "spec.policy.protectedBranches")["items"]);
        for s in [
            "main",
            "release/*",
            "**",
            "hotfix-*",
            "-x",
            "/x",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a[0]",
            "a\\b",
            "a\u{1}",
        ] {
            assert_eq!(
                branches.is_match(s),
                crate::policy::check_branch_pattern(s).is_ok(),
                "branch pattern {s:?}"
            );
        }
    }

    #[test]
    fn one_source_rule_is_in_the_schema() {
        let v = serde_json::to_string(&TaskSpawner::crd()).expect("json");
        assert!(v.contains(
            "(has(self.githubIssues) ? 1 : 0) + (has(self.cron) ? 1 : 0) + (has(self.items) ? 1 : 0) == 1"
        ));
        assert!(v.contains("\"maxItems\":1000"), "the item limit");
        assert!(v.contains("has(self.spec.taskTemplate.workspaceRef)"));
    }
}
