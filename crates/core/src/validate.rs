//! Checks beyond the schema that need the core's parsers: cron expressions and prompt
//! templates. `axon validate` and `axon apply` run them before anything is stored.

use axon_api::ApiError;
use axon_api::loader::{Document, Resource};

/// Check one loaded document; the error names file, document and field like the loader's.
pub fn validate_document(doc: &Document) -> Result<(), ApiError> {
    let fail = |path: &str, reason: String| ApiError::Field {
        file: doc.file.clone(),
        index: doc.index,
        what: format!("{}/{}", doc.resource.kind(), doc.resource.name()),
        path: path.to_string(),
        reason,
    };
    if let Resource::TaskSpawner(ts) = &doc.resource {
        if let Some(cron) = &ts.spec.when.cron {
            crate::cron::validate(&cron.schedule)
                .map_err(|e| fail("spec.when.cron.schedule", e.to_string()))?;
        }
        if let Some(t) = &ts.spec.task_template.prompt_template {
            crate::template::parse_template(t)
                .map_err(|e| fail("spec.taskTemplate.promptTemplate", e.to_string()))?;
        }
    }
    Ok(())
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
}
