//! The rules of a TaskSpawner that need the core, beyond the loader's field rules: its
//! templates (`promptTemplate`, `branch`, `dependsOn`), checked against samples of its source
//! or, with `when.items`, rendered for every item exactly as the spawner will; and the rules of
//! `when.items` ([`crate::fanout::item_violations`]). `axon validate` and apply run them through
//! [`crate::validate`].

use crate::fanout::{item_violations, work_items};
use crate::spawn_template::TaskTemplates;
use crate::template::{Samples, TemplateError};
use axon_api::TaskSpawner;
use axon_api::rules::Violation;

fn at(e: &TemplateError) -> Violation {
    Violation {
        path: format!("spec.taskTemplate.{}", e.field()),
        reason: e.to_string(),
    }
}

/// The broken rules (empty: none), the list's first.
pub fn violations(spawner: &TaskSpawner) -> Vec<Violation> {
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
