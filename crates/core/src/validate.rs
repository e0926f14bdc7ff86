//! Checks beyond the schema that need the core: cron expressions, TaskSpawner templates and
//! items ([`crate::spawner_rules`]), and which
//! credential types an agent supports (the rule of [`crate::plan::credential_env`], so `axon
//! validate` and a run refuse the same things). `axon validate` and `axon apply` run them
//! before anything is stored, after the loader's own field rules (`axon_api::rules`).

use axon_api::loader::{Document, Resource};
use axon_api::rules::Violation;
use axon_api::{AgentType, ApiError, Credentials};

/// Check one loaded document; the error names file, document and field like the loader's.
pub fn validate_document(doc: &Document) -> Result<(), ApiError> {
    match violations(&doc.resource).into_iter().next() {
        None => Ok(()),
        Some(v) => Err(ApiError::Field {
            file: doc.file.clone(),
            index: doc.index,
            what: format!("{}/{}", doc.resource.kind(), doc.resource.name()),
            path: v.path,
            reason: v.reason,
        }),
    }
}

/// The core's broken rules of a resource (empty: none), in field order.
pub fn violations(resource: &Resource) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut push = |path: &str, reason: String| {
        out.push(Violation {
            path: path.to_string(),
            reason,
        })
    };
    match resource {
        Resource::Task(t) => {
            if let Err(reason) = credentials(t.spec.type_, &t.spec.credentials) {
                push("spec.credentials.type", reason);
            }
            for (path, reason) in
                templates(&t.spec.depends_on, &t.spec.prompt, t.spec.branch.as_deref())
            {
                push(path, reason);
            }
        }
        Resource::TaskSpawner(ts) => {
            if let Some(cron) = &ts.spec.when.cron
                && let Err(e) = crate::cron::validate(&cron.schedule)
            {
                push("spec.when.cron.schedule", e.to_string());
            }
            let template = &ts.spec.task_template;
            if let Err(reason) = credentials(template.type_, &template.credentials) {
                push("spec.taskTemplate.credentials.type", reason);
            }
            for v in crate::spawner_rules::violations(ts) {
                push(&v.path, v.reason);
            }
        }
        Resource::Workspace(_) | Resource::AgentConfig(_) => {}
    }
    out
}

/// With dependencies, `prompt` and `branch` are templates rendered at start: check their
/// syntax now; a templated `branch` without dependencies has nothing to render from.
fn templates(deps: &[String], prompt: &str, branch: Option<&str>) -> Vec<(&'static str, String)> {
    use crate::deps_template::check_syntax;
    let mut out = Vec::new();
    if !deps.is_empty()
        && let Err(e) = check_syntax("prompt", prompt)
    {
        out.push(("spec.prompt", e.to_string()));
    }
    if let Some(b) = branch.filter(|b| b.contains("{{")) {
        if deps.is_empty() {
            out.push((
                "spec.branch",
                format!(
                    "{b:?} is a template but the Task has no dependsOn: templates see only .Deps"
                ),
            ));
        } else if let Err(e) = check_syntax("branch", b) {
            out.push(("spec.branch", e.to_string()));
        }
    }
    out
}

/// Problems of a set of documents taken together (one `axon validate`/`apply` invocation):
/// a `dependsOn` cycle among their Tasks is an error; warnings name dependencies that none of
/// them defines (allowed: such a Task waits until one of that name is created).
pub fn graph_problems(resources: &[&Resource]) -> (Option<String>, Vec<String>) {
    let graph: crate::deps::Graph = resources
        .iter()
        .filter_map(|r| match r {
            Resource::Task(t) => Some((r.name().to_string(), t.spec.depends_on.clone())),
            _ => None,
        })
        .collect();
    let cycle = crate::deps::find_cycle(&graph).map(|c| {
        format!(
            "spec.dependsOn: dependency cycle {}: these Tasks would wait for each other forever",
            crate::deps::describe_cycle(&c)
        )
    });
    let mut warnings = Vec::new();
    for (name, deps) in &graph {
        for d in deps.iter().filter(|d| !graph.contains_key(*d)) {
            warnings.push(format!(
                "Task {name} depends on {d}, which these files do not define: it will wait until a Task {d} exists"
            ));
        }
    }
    (cycle, warnings)
}

/// Every broken rule of a resource: the loader's field rules, then the core's.
pub fn all_violations(resource: &Resource) -> Vec<Violation> {
    let mut out = axon_api::rules::violations(resource);
    out.extend(violations(resource));
    out
}

fn credentials(agent: AgentType, c: &Credentials) -> Result<(), String> {
    crate::plan::credential_env(agent, c.type_)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::loader::load_str;

    fn check(when: &str, template: &str) -> Result<(), String> {
        let yaml = format!(
            "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {{name: sp}}\nspec:\n  when: {when}\n  taskTemplate:\n    type: codex\n    credentials: {{type: api-key, secretRef: {{name: c}}}}\n    promptTemplate: {template:?}\n"
        );
        let docs = load_str("s.yaml", &yaml).map_err(|e| e.to_string())?;
        validate_document(&docs[0]).map_err(|e| e.to_string())
    }

    #[test]
    fn bad_cron_and_template_name_the_field() {
        assert!(check("{cron: {schedule: '0 * * * *'}}", "Fix {{.Title}}").is_ok());
        let e = check("{cron: {schedule: '61 * * * *'}}", "x").expect_err("bad cron");
        assert!(
            e.starts_with("s.yaml: document 0 (TaskSpawner/sp): spec.when.cron.schedule: "),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let e = check("{cron: {schedule: '0 * * * *'}}", "{{.Title").expect_err("bad template");
        assert!(
            e.starts_with(
                "s.yaml: document 0 (TaskSpawner/sp): spec.taskTemplate.promptTemplate: "
            ),
            "{e}"
        );
    }

    fn task(agent: &str, credential: &str) -> Result<(), String> {
        let yaml = format!(
            "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {{name: t}}\nspec:\n  type: {agent}\n  prompt: hi\n  credentials: {{type: {credential}, secretRef: {{name: c}}}}\n"
        );
        let docs = load_str("t.yaml", &yaml).map_err(|e| e.to_string())?;
        validate_document(&docs[0]).map_err(|e| e.to_string())
    }

    #[test]
    fn oauth_only_for_claude_code_the_plan_rule() {
        assert!(task("claude-code", "oauth").is_ok());
        for agent in ["codex", "gemini", "opencode"] {
            assert!(task(agent, "api-key").is_ok());
            assert_eq!(
                task(agent, "oauth"),
                Err(format!(
                    "t.yaml: document 0 (Task/t): spec.credentials.type: credential type oauth is supported only by claude-code, not {agent}: use credentials.type api-key"
                ))
            );
        }
        let e = check("{cron: {schedule: '0 * * * *'}}", "x").map(|_| ());
        assert!(e.is_ok());
        let yaml = "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: sp}\nspec:\n  when: {cron: {schedule: '0 * * * *'}}\n  taskTemplate: {type: gemini, credentials: {type: oauth, secretRef: {name: c}}}\n";
        let docs = load_str("s.yaml", yaml).expect("loads");
        let e = validate_document(&docs[0]).expect_err("oauth").to_string();
        assert!(
            e.contains("spec.taskTemplate.credentials.type: credential type oauth"),
            "{e}"
        );
    }

    /// A file with every mistake the rules know, one document per kind: every message, one
    /// line each, as `axon validate` prints them.
    #[test]
    fn every_mistake_snapshot() {
        let text = include_str!("../tests/fixtures/every-mistake.yaml");
        let values: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(text).expect("fixture is YAML");
        let mut lines = Vec::new();
        for (index, value) in values.into_iter().enumerate() {
            // Structural checks only, so every field rule of the document is reported.
            let resource = Resource::from_value(value).expect("structurally valid");
            for v in all_violations(&resource) {
                let e = ApiError::Field {
                    file: "every-mistake.yaml".into(),
                    index,
                    what: format!("{}/{}", resource.kind(), resource.name()),
                    path: v.path,
                    reason: v.reason,
                };
                lines.push(e.to_string());
            }
        }
        // The prompt over the size limit, without a 10 MiB fixture.
        let big = format!(
            "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {{name: big}}\nspec:\n  type: codex\n  prompt: {}\n  credentials: {{type: api-key, secretRef: {{name: c}}}}\n",
            "x".repeat(12 * 1024 * 1024 + 300 * 1024)
        );
        lines.push(load_str("big.yaml", &big).expect_err("too big").to_string());
        assert!(lines.iter().all(|l| !l.contains('\n')));
        insta::assert_snapshot!(lines.join("\n"));
    }
}
