//! A TaskSpawner's `taskTemplate` rendered for one item: the prompt (`promptTemplate`), the
//! `branch` and every `dependsOn` entry are templates over the item's variables (see
//! [`crate::template`]), rendered together so that a spawned Task is created whole or not at
//! all, and checked once rendered: a dependency must render to a Task name other than the Task
//! itself, a branch to a name git accepts. A branch that still holds `.Deps` actions is
//! checked when the Task starts, after the second render.
//!
//! `axon validate` renders every `when.items` entry through here, and the spawner renders each
//! item it creates a Task for through the same code, so what validation accepts is what runs.

use crate::spawn_item::WorkItem;
use crate::template::{
    PromptTemplate, Samples, TemplateError, default_template, parse_field, parse_template,
};
use axon_api::TaskTemplate;

/// One template field: literal text (no `{{`) or a parsed template.
#[derive(Clone, Debug)]
enum Field {
    Text(String),
    Template(PromptTemplate),
}

impl Field {
    fn parse(field: &str, source: &str, samples: Samples<'_>) -> Result<Field, TemplateError> {
        if source.contains("{{") {
            parse_field(field, source, samples).map(Field::Template)
        } else {
            Ok(Field::Text(source.to_string()))
        }
    }

    fn render(&self, item: &WorkItem) -> Result<String, TemplateError> {
        match self {
            Field::Text(t) => Ok(t.clone()),
            Field::Template(t) => t.render(item),
        }
    }
}

/// The parsed templates of a `taskTemplate`.
#[derive(Clone, Debug)]
pub struct TaskTemplates {
    prompt: PromptTemplate,
    branch: Option<Field>,
    depends_on: Vec<Field>,
}

/// A `taskTemplate` rendered for one item.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RenderedTemplate {
    /// The Task's `prompt`.
    pub prompt: String,
    /// The Task's `branch`.
    pub branch: Option<String>,
    /// The Task's `dependsOn`.
    pub depends_on: Vec<String>,
}

impl TaskTemplates {
    /// Parses the templates of `template`, validating them against `samples`
    /// ([`Samples::Sources`] for GitHub and cron spawners; [`Samples::None`] when every item
    /// is rendered through [`TaskTemplates::render`] anyway). A blank `promptTemplate` is the
    /// default one.
    pub fn parse(template: &TaskTemplate, samples: Samples<'_>) -> Result<Self, TemplateError> {
        let prompt = match template.prompt_template.as_deref() {
            Some(p) if !p.trim().is_empty() => match samples {
                Samples::Sources => parse_template(p)?,
                _ => parse_field("promptTemplate", p, samples)?,
            },
            _ => default_template(),
        };
        let branch = template
            .branch
            .as_deref()
            .map(|b| Field::parse("branch", b, samples))
            .transpose()?;
        let depends_on = template
            .depends_on
            .iter()
            .enumerate()
            .map(|(i, d)| Field::parse(&format!("dependsOn[{i}]"), d, samples))
            .collect::<Result<_, _>>()?;
        Ok(TaskTemplates {
            prompt,
            branch,
            depends_on,
        })
    }

    /// The `promptTemplate` as written (or the default).
    pub fn prompt_source(&self) -> &str {
        self.prompt.source()
    }

    /// Renders everything for `item`, whose Task is `task_name`: all of it, or the first
    /// error.
    pub fn render(
        &self,
        item: &WorkItem,
        task_name: &str,
    ) -> Result<RenderedTemplate, TemplateError> {
        let bad = |field: &str, message: String| TemplateError::Render {
            field: field.to_string(),
            item_id: item.id.clone(),
            message,
        };
        let prompt = self.prompt.render(item)?;
        if prompt.trim().is_empty() {
            return Err(bad(
                "promptTemplate",
                "renders to an empty prompt: say what the agent is asked to do".into(),
            ));
        }
        let branch = match &self.branch {
            None => None,
            Some(b) => {
                let rendered = b.render(item)?;
                axon_api::rules::check_branch(&rendered)
                    .map_err(|why| bad("branch", format!("renders to {rendered:?}: {why}")))?;
                Some(rendered)
            }
        };
        let mut depends_on: Vec<String> = Vec::with_capacity(self.depends_on.len());
        for (i, d) in self.depends_on.iter().enumerate() {
            let field = format!("dependsOn[{i}]");
            let rendered = d.render(item)?;
            axon_api::rules::check_reference_name(&rendered, "Task")
                .map_err(|why| bad(&field, format!("renders to {rendered:?}: {why}")))?;
            if rendered == task_name {
                return Err(bad(
                    &field,
                    format!(
                        "renders to {rendered:?}, the Task itself: a Task cannot depend on itself"
                    ),
                ));
            }
            if depends_on.contains(&rendered) {
                return Err(bad(
                    &field,
                    format!("renders to {rendered:?}, which dependsOn already lists"),
                ));
            }
            depends_on.push(rendered);
        }
        Ok(RenderedTemplate {
            prompt,
            branch,
            depends_on,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::{AgentType, CredentialType, Credentials, SecretReference};
    use std::collections::BTreeMap;

    fn template(prompt: &str, branch: Option<&str>, deps: &[&str]) -> TaskTemplate {
        TaskTemplate {
            type_: AgentType::ClaudeCode,
            credentials: Credentials {
                type_: CredentialType::ApiKey,
                secret_ref: SecretReference { name: "k".into() },
            },
            model: None,
            image: None,
            workspace_ref: None,
            agent_config_refs: Vec::new(),
            agent_config_ref: None,
            prompt_template: Some(prompt.into()),
            ttl_seconds_after_finished: None,
            timeout_seconds: None,
            backoff_limit: None,
            model_base_url: None,
            env: Vec::new(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            branch: branch.map(String::from),
            budget: None,
            network: None,
            policy: None,
            pricing: vec![],
        }
    }

    fn billing() -> WorkItem {
        WorkItem::listed(
            "billing",
            BTreeMap::from([
                ("name".to_string(), "billing".to_string()),
                ("lang".to_string(), "go".to_string()),
            ]),
        )
    }

    #[test]
    fn prompt_branch_and_dependencies_render_per_item_keeping_deps() {
        let t = template(
            "Refactor {{.Item.name}} ({{.Item.lang}}) on top of {{.Deps.scaffold.Branch}}",
            Some("refactor/{{.Item.name}}"),
            &["{{.Item.name}}-scaffold", "lint"],
        );
        let parsed = TaskTemplates::parse(&t, Samples::None).expect("parses");
        let rendered = parsed
            .render(&billing(), "refactor-billing")
            .expect("renders");
        insta::assert_yaml_snapshot!(rendered, @r#"
        prompt: "Refactor billing (go) on top of {{.Deps.scaffold.Branch}}"
        branch: refactor/billing
        depends_on:
          - billing-scaffold
          - lint
        "#);
    }

    #[test]
    fn rendered_values_are_checked() {
        let item = billing();
        let cases = [
            template("x", Some("{{.Item.name}}..x"), &[]),
            template("x", None, &["{{.Item.lang}}_x"]),
            template("x", None, &["refactor-{{.Item.name}}"]),
            template("x", None, &["{{.Item.name}}", "billing"]),
            template("{{if false}}x{{end}}", None, &[]),
            template("{{.Item.nme}}", None, &[]),
        ];
        let errors: Vec<String> = cases
            .iter()
            .map(|t| {
                TaskTemplates::parse(t, Samples::None)
                    .and_then(|p| p.render(&item, "refactor-billing"))
                    .expect_err("refused")
                    .to_string()
            })
            .collect();
        insta::assert_snapshot!(errors.join("\n"), @r#"
        branch failed to render for item billing: renders to "billing..x": "billing..x" is not a valid git ref name: it contains ".." (a branch, tag or commit id, as `git check-ref-format` accepts)
        dependsOn[0] failed to render for item billing: renders to "go_x": "go_x" is not a valid Task name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (at most 253 characters)
        dependsOn[0] failed to render for item billing: renders to "refactor-billing", the Task itself: a Task cannot depend on itself
        dependsOn[1] failed to render for item billing: renders to "billing", which dependsOn already lists
        promptTemplate failed to render for item billing: renders to an empty prompt: say what the agent is asked to do
        promptTemplate failed to render for item billing: map has no entry for key: nme
        "#);
    }

    #[test]
    fn github_spawners_render_branch_and_dependencies_too() {
        let t = template("Fix {{.Title}}", Some("fix/{{.ID}}"), &["triage-{{.ID}}"]);
        let parsed = TaskTemplates::parse(&t, Samples::Sources).expect("parses");
        let issue = WorkItem::github(42, crate::spawn_item::ItemKind::Issue, "Crash");
        let r = parsed.render(&issue, "bugs-42").expect("renders");
        assert_eq!(r.branch.as_deref(), Some("fix/42"));
        assert_eq!(r.depends_on, ["triage-42"]);
        // `.Item` does not exist for GitHub items: refused at validation.
        let t = template("Fix {{.Item.name}}", None, &[]);
        let e = TaskTemplates::parse(&t, Samples::Sources).expect_err("no .Item");
        assert!(e.to_string().contains("with when.items"), "{e}");
    }
}
