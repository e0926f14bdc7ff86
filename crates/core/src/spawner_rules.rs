//! The rules of a TaskSpawner that need the core, beyond the loader's field rules: its
//! templates (`promptTemplate`, `branch`, `dependsOn`), checked against samples of its source
//! or, with `when.items`, rendered for every item exactly as the spawner will; and the rules of
//! `when.items` ([`crate::fanout::item_violations`]); and `.Deps` only where the Tasks have
//! dependencies to render it from. `axon validate` and apply run them through
//! [`crate::validate`].

use crate::fanout::{item_violations, work_items};
use crate::spawn_template::TaskTemplates;
use crate::template::{Samples, TemplateError, uses_deps};
use axon_api::TaskSpawner;
use axon_api::rules::Violation;

fn at(e: &TemplateError) -> Violation {
    Violation {
        path: format!("spec.taskTemplate.{}", e.field()),
        reason: e.to_string(),
    }
}

/// `.Deps` in a template of a spawner whose Tasks have no dependencies: it would never be
/// rendered (a Task without `dependsOn` is not), so the agent would read the braces.
fn deps_without_dependencies(template: &axon_api::TaskTemplate) -> Option<Violation> {
    if !template.depends_on.is_empty() {
        return None;
    }
    let fields = [
        ("promptTemplate", template.prompt_template.as_deref()),
        ("branch", template.branch.as_deref()),
    ];
    fields.into_iter().find_map(|(field, source)| {
        source.filter(|s| uses_deps(s)).map(|_| Violation {
            path: format!("spec.taskTemplate.{field}"),
            reason: "uses .Deps but spec.taskTemplate.dependsOn is empty: .Deps is rendered only for a Task with dependencies (list the Tasks it reads in dependsOn)".into(),
        })
    })
}

/// The broken rules (empty: none), the list's first.
pub fn violations(spawner: &TaskSpawner) -> Vec<Violation> {
    let mut out = template_violations(spawner);
    if out.is_empty()
        && let Some(v) = deps_without_dependencies(&spawner.spec.task_template)
    {
        out.push(v);
    }
    out
}

fn template_violations(spawner: &TaskSpawner) -> Vec<Violation> {
    let name = spawner.metadata.name.as_deref().unwrap_or_default();
    let spec = &spawner.spec;
    let template = &spec.task_template;
    if spec.when.items.is_none() {
        let mut out = item_violations(name, &spec.when);
        if let Err(e) = TaskTemplates::parse(template, Samples::Sources) {
            out.push(at(&e));
        }
        return out;
    }
    let mut out = item_violations(name, &spec.when);
    if template
        .prompt_template
        .as_deref()
        .is_none_or(|p| p.trim().is_empty())
    {
        out.push(Violation {
            path: "spec.taskTemplate.promptTemplate".into(),
            reason: "is required with spec.when.items: say what to do with each item, e.g. \"Refactor {{.Item.name}}\"".into(),
        });
    }
    if !out.is_empty() {
        return out;
    }
    let templates = match TaskTemplates::parse(template, Samples::None) {
        Ok(t) => t,
        Err(e) => return vec![at(&e)],
    };
    for item in work_items(&spec.when) {
        if let Err(e) = templates.render(&item, &format!("{name}-{}", item.id)) {
            return vec![at(&e)];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use axon_api::loader::load_str;

    /// `axon validate`'s line for a TaskSpawner with `when` and `taskTemplate` extras.
    fn check(when: &str, template: &str) -> String {
        let yaml = format!(
            "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {{name: fleet}}\nspec:\n  when: {when}\n  taskTemplate:\n    type: codex\n    credentials: {{type: api-key, secretRef: {{name: c}}}}\n{template}"
        );
        match load_str("f.yaml", &yaml) {
            Err(e) => e.to_string(),
            Ok(docs) => match crate::validate::validate_document(&docs[0]) {
                Ok(()) => "ok".to_string(),
                Err(e) => e.to_string(),
            },
        }
    }

    #[test]
    fn fan_out_templates_are_rendered_for_every_item_at_validation() {
        let items = "{items: [{name: billing, owner: ann}, {name: search}]}";
        let lines = [
            check(
                items,
                "    promptTemplate: 'Refactor {{.Item.name}} for {{.Item.owner}}'\n",
            ),
            check(
                items,
                "    promptTemplate: 'Refactor {{.Item.name}} after {{.Deps.scaffold.Branch}}'\n    dependsOn: ['scaffold', '{{.Item.name}}-tests']\n    branch: 'refactor/{{.Item.name}}'\n",
            ),
            check(items, ""),
            check(items, "    promptTemplate: '{{.Item.nmae}}'\n"),
            check(
                items,
                "    promptTemplate: 'x'\n    dependsOn: ['{{.Item.owner}}']\n",
            ),
            check(
                items,
                "    promptTemplate: 'x'\n    branch: '{{.Item.name}}..'\n",
            ),
            check(
                items,
                "    promptTemplate: 'On {{.Deps.scaffold.Branch}}'\n",
            ),
            check(
                "{cron: {schedule: '0 * * * *'}}",
                "    promptTemplate: 'x {{.Item.name}}'\n",
            ),
            check(
                "{cron: {schedule: '0 * * * *'}, items: [{name: a}]}",
                "    promptTemplate: 'x'\n",
            ),
            check(
                "{cron: {schedule: '0 * * * *'}}",
                "    promptTemplate: 'Nightly {{.ID}}'\n    dependsOn: ['build-{{.ID}}']\n    branch: 'nightly/{{.ID}}'\n",
            ),
        ];
        assert!(lines.iter().all(|l| !l.contains('\n')));
        insta::assert_snapshot!(lines.join("\n"), @r#"
        ok
        ok
        f.yaml: document 0 (TaskSpawner/fleet): spec.taskTemplate.promptTemplate: is required with spec.when.items: say what to do with each item, e.g. "Refactor {{.Item.name}}"
        f.yaml: document 0 (TaskSpawner/fleet): spec.taskTemplate.promptTemplate: promptTemplate failed to render for item billing: map has no entry for key: nmae
        f.yaml: document 0 (TaskSpawner/fleet): spec.taskTemplate.dependsOn[0]: dependsOn[0] failed to render for item search: renders to "": is empty: name the Task to use
        f.yaml: document 0 (TaskSpawner/fleet): spec.taskTemplate.branch: branch failed to render for item billing: renders to "billing..": "billing.." is not a valid git ref name: it contains ".." (a branch, tag or commit id, as `git check-ref-format` accepts)
        f.yaml: document 0 (TaskSpawner/fleet): spec.taskTemplate.promptTemplate: uses .Deps but spec.taskTemplate.dependsOn is empty: .Deps is rendered only for a Task with dependencies (list the Tasks it reads in dependsOn)
        f.yaml: document 0 (TaskSpawner/fleet): spec.taskTemplate.promptTemplate: promptTemplate cannot render: map has no entry for key: name (available variables: .ID .Number .Title .Body .URL .Labels .Comments .Kind .Time .Schedule .Command.Name .Command.Args .Command.Author .Command.URL .Check.Name .Check.Conclusion .Check.URL .Check.Branch .Check.SHA, .Item.<field> with when.items; .Deps.<name>.<Field> is kept for the Task's start)
        f.yaml: document 0 (TaskSpawner/fleet): spec.when: exactly one source must be set, found both cron and items
        ok
        "#);
    }
}
