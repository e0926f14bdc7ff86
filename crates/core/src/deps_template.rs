//! The start-time render of a Task with dependencies: its `prompt` and `branch` are Go
//! templates that see what the Tasks it depends on produced, as `{{.Deps.<name>.Branch}}`,
//! `.Commits`, `.PullRequests`, `.FinalAnswer`, `.Usage` (`.InputTokens`, `.OutputTokens`,
//! `.CostUSD`, `.Turns`), `.Pushed` and `.Phase`.
//!
//! Rendered once, when the Task starts (the dependencies have all succeeded by then), and the
//! result is what runs and what status shows. Task names contain `-`, which a Go template field
//! cannot, so every dependency is also reachable with `_` for `-` (`{{.Deps.fix_api.Branch}}`)
//! and through `index` (`{{(index .Deps "fix-api").Branch}}`). A reference to anything absent is
//! an error (never an empty string), so a misspelt name fails the Task with the reason instead of
//! running the agent on a half-rendered prompt. A Task without dependencies is never rendered:
//! its prompt may contain `{{` for any other reason.

use axon_api::TaskStatus;
use gotmpl::{MissingKey, Template, Value};
use std::collections::BTreeMap;

/// Why a field could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "spec.{field} cannot render: {message} (variables: .Deps.<name>.Branch .Commits .PullRequests .FinalAnswer .Usage .Pushed .Phase; write a name with '-' as '_' or use (index .Deps \"<name>\"))"
)]
pub struct DepsTemplateError {
    /// `prompt` or `branch`.
    pub field: &'static str,
    /// The template engine's message.
    pub message: String,
}

/// One dependency's results as the template sees them.
fn dependency_value(status: &TaskStatus) -> Value {
    let outputs = status.outputs.clone().unwrap_or_default();
    let strings = |v: &[String]| {
        Value::from(
            v.iter()
                .map(|s| Value::from(s.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    let mut usage: BTreeMap<String, Value> = BTreeMap::new();
    let u = status.usage.clone().unwrap_or_default();
    usage.insert("InputTokens".into(), Value::Uint(u.input_tokens));
    usage.insert("OutputTokens".into(), Value::Uint(u.output_tokens));
    usage.insert("CostUSD".into(), Value::Float(u.cost_usd.unwrap_or(0.0)));
    usage.insert("Turns".into(), Value::Uint(u.turns));
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    m.insert(
        "Branch".into(),
        Value::from(outputs.branch.unwrap_or_default()),
    );
    m.insert("Commits".into(), strings(&outputs.commits));
    m.insert("PullRequests".into(), strings(&outputs.pull_requests));
    m.insert(
        "FinalAnswer".into(),
        Value::from(outputs.final_answer.unwrap_or_default()),
    );
    m.insert("Pushed".into(), Value::Bool(outputs.pushed));
    m.insert(
        "Phase".into(),
        Value::from(status.phase.map(|p| p.as_str()).unwrap_or("Pending")),
    );
    m.insert("Usage".into(), Value::from(usage));
    Value::from(m)
}

/// The template data: `.Deps` keyed by name and by name with `_` for `-`.
pub fn deps_data<'a>(deps: impl IntoIterator<Item = (&'a str, &'a TaskStatus)>) -> Value {
    let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
    for (name, status) in deps {
        let v = dependency_value(status);
        if name.contains('-') {
            by_name.insert(name.replace('-', "_"), v.clone());
        }
        by_name.insert(name.to_string(), v);
    }
    let mut root: BTreeMap<String, Value> = BTreeMap::new();
    root.insert("Deps".into(), Value::from(by_name));
    Value::from(root)
}

/// Render `source` (the Task's `field`) against `data` from [`deps_data`]: all of it or an error.
pub fn render(
    field: &'static str,
    source: &str,
    data: &Value,
) -> Result<String, DepsTemplateError> {
    let err = |message: String| DepsTemplateError { field, message };
    Template::new(field)
        .missing_key(MissingKey::Error)
        .parse(source)
        .map_err(|e| err(e.to_string()))?
        .execute_to_string(data)
        .map_err(|e| err(e.to_string()))
}

/// Check that `source` parses as a template (apply time; the data comes at start).
pub fn check_syntax(field: &'static str, source: &str) -> Result<(), DepsTemplateError> {
    Template::new(field)
        .parse(source)
        .map(|_| ())
        .map_err(|e| DepsTemplateError {
            field,
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::{TaskOutputs, TaskPhase, TaskUsage};

    fn done(branch: &str, prs: &[&str]) -> TaskStatus {
        TaskStatus {
            phase: Some(TaskPhase::Succeeded),
            outputs: Some(TaskOutputs {
                branch: Some(branch.into()),
                commits: vec!["a1".into(), "b2".into()],
                pull_requests: prs.iter().map(|s| s.to_string()).collect(),
                final_answer: Some("Scaffolded.".into()),
                pushed: true,
                ..Default::default()
            }),
            usage: Some(TaskUsage {
                input_tokens: 10,
                output_tokens: 5,
                cost_usd: Some(0.25),
                turns: 2,
                source: None,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn every_variable_renders() {
        let scaffold = done("axon/scaffold", &["https://example.test/pr/1"]);
        let data = deps_data([("fix-api", &scaffold)]);
        let out = render(
            "prompt",
            "Continue on {{.Deps.fix_api.Branch}} ({{len .Deps.fix_api.Commits}} commits: {{range .Deps.fix_api.Commits}}{{.}} {{end}}), PRs {{.Deps.fix_api.PullRequests}}; it said {{.Deps.fix_api.FinalAnswer}} in {{.Deps.fix_api.Usage.Turns}} turns for ${{.Deps.fix_api.Usage.CostUSD}}; pushed={{.Deps.fix_api.Pushed}} phase={{(index .Deps \"fix-api\").Phase}}",
            &data,
        )
        .expect("renders");
        insta::assert_snapshot!(out);
    }

    #[test]
    fn an_unknown_dependency_or_field_is_an_error_not_an_empty_string() {
        let data = deps_data([("scaffold", &done("b", &[]))]);
        let e = render("branch", "{{.Deps.scafold.Branch}}", &data).expect_err("misspelt");
        assert_eq!(e.field, "branch");
        assert!(
            e.to_string().starts_with("spec.branch cannot render"),
            "{e}"
        );
        assert!(render("prompt", "{{.Deps.scaffold.Brnch}}", &data).is_err());
    }

    #[test]
    fn syntax_is_checked_without_data() {
        assert!(check_syntax("prompt", "{{.Deps.a.Branch}}").is_ok());
        assert!(check_syntax("prompt", "{{.Deps.a.Branch").is_err());
    }
}
