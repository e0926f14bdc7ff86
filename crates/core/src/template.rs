//! The TaskSpawner `promptTemplate`: Go `text/template` syntax (through the `gotmpl` port), with
//! the variables of the seed's table (`ID Number Title Body URL Labels Comments Kind Time
//! Schedule`) for both sources.
//!
//! Two promises matter to users. A template that cannot work is rejected when it is validated
//! (`axon validate`, apply), not at the first poll: [`parse_template`] parses it and renders it
//! once against a sample item, so a misspelt variable (`{{.Titel}}`) is caught early. And a
//! render error is an error: [`PromptTemplate::render`] returns either the whole prompt or an
//! error, never a half-rendered prompt, so no Task is ever created from one.

use crate::spawn_item::{ItemKind, ItemState, WorkItem};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use gotmpl::{MissingKey, Template, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The prompt used when a TaskSpawner gives no `promptTemplate`.
pub const DEFAULT_PROMPT_TEMPLATE: &str = "{{.Title}}\n\n{{.Body}}";

/// Separator between comments in `{{.Comments}}`.
pub const COMMENT_SEPARATOR: &str = "\n\n---\n\n";

/// Why a prompt template was rejected or failed to render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template is not valid Go template syntax.
    #[error(
        "promptTemplate does not parse: {message} (Go text/template syntax, e.g. \"Fix: {{{{.Title}}}}\")"
    )]
    Parse {
        /// The parser's message, with line and column.
        message: String,
    },
    /// The template refers to something that does not exist for any item, such as a misspelt
    /// variable.
    #[error(
        "promptTemplate cannot render: {message} (available variables: .ID .Number .Title .Body .URL .Labels .Comments .Kind .Time .Schedule)"
    )]
    Invalid {
        /// The engine's message.
        message: String,
    },
    /// Rendering failed for one particular item.
    #[error("promptTemplate failed to render for item {item_id}: {message}")]
    Render {
        /// `{{.ID}}` of the item.
        item_id: String,
        /// The engine's message.
        message: String,
    },
}

/// A parsed, validated prompt template.
pub struct PromptTemplate {
    source: String,
    template: Template,
}

impl fmt::Debug for PromptTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromptTemplate")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Clone for PromptTemplate {
    fn clone(&self) -> Self {
        // `source` parsed once already, so parsing it again cannot fail; fall back to the
        // default template rather than panic if the engine ever disagrees with itself.
        parse_template(&self.source).unwrap_or_else(|_| default_template())
    }
}

fn compile(source: &str) -> Result<Template, TemplateError> {
    check_blocks(source)?;
    Template::new("promptTemplate")
        .missing_key(MissingKey::Error)
        .parse(source)
        .map_err(|e| TemplateError::Parse {
            message: e.to_string(),
        })
}

/// Go rejects unbalanced blocks (`{{if}}` without `{{end}}`, a stray `{{end}}` or `{{else}}`);
/// `gotmpl` 0.6 accepts them, so check the block structure here to keep Go's behaviour.
fn check_blocks(source: &str) -> Result<(), TemplateError> {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break; // the parser reports the unclosed action
        };
        let action = after[..end]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        rest = &after[end + 2..];
        if action.starts_with("/*") {
            continue;
        }
        let keyword = action.split_whitespace().next().unwrap_or("");
        match keyword {
            "if" | "range" | "with" | "block" | "define" => open.push(keyword),
            "end" if open.pop().is_none() => {
                return Err(TemplateError::Parse {
                    message: "unexpected {{end}}".to_string(),
                });
            }
            "else" | "break" | "continue" if open.is_empty() => {
                return Err(TemplateError::Parse {
                    message: format!("unexpected {{{{{keyword}}}}} outside a block"),
                });
            }
            _ => {}
        }
    }
    match open.last() {
        Some(keyword) => Err(TemplateError::Parse {
            message: format!("unexpected EOF: {{{{{keyword}}}}} has no {{{{end}}}}"),
        }),
        None => Ok(()),
    }
}

/// The default template, parsed.
pub fn default_template() -> PromptTemplate {
    PromptTemplate {
        source: DEFAULT_PROMPT_TEMPLATE.to_string(),
        // The default template is a constant known to parse; an empty template is the
        // harmless fallback if it ever did not.
        template: compile(DEFAULT_PROMPT_TEMPLATE).unwrap_or_else(|_| Template::new("empty")),
    }
}

/// Parses and validates a prompt template; `None` or an empty string gives the default.
///
/// Validation renders the template once against a sample GitHub item and a sample cron tick
/// and rejects references to variables, functions or templates that do not exist. Errors that
/// depend on an item's data (an index out of range, say) are left to render time.
pub fn parse_template(source: &str) -> Result<PromptTemplate, TemplateError> {
    if source.trim().is_empty() {
        return Ok(default_template());
    }
    let template = compile(source)?;
    let parsed = PromptTemplate {
        source: source.to_string(),
        template,
    };
    for sample in sample_items() {
        if let Err(e) = parsed.template.execute_to_string(&template_data(&sample))
            && is_structural(&e)
        {
            return Err(TemplateError::Invalid {
                message: e.to_string(),
            });
        }
    }
    Ok(parsed)
}

/// Errors that no item's data can avoid.
fn is_structural(e: &gotmpl::TemplateError) -> bool {
    use gotmpl::TemplateError as E;
    matches!(
        e,
        E::MissingKey { .. }
            | E::UndefinedFunction(_)
            | E::UndefinedTemplate(_)
            | E::UndefinedVariable(_)
            | E::Parse { .. }
            | E::Lex { .. }
    )
}

fn sample_items() -> [WorkItem; 2] {
    let tick = Utc
        .with_ymd_and_hms(2026, 2, 7, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let github = WorkItem {
        body: "Steps to reproduce: run the tests.".to_string(),
        url: "https://github.com/owner/repo/issues/42".to_string(),
        labels: vec!["bug".to_string(), "help wanted".to_string()],
        comments: "First comment.".to_string(),
        state: ItemState::Open,
        ..WorkItem::github(42, ItemKind::Issue, "Sample title")
    };
    [github, WorkItem::cron_tick(tick, "0 * * * *")]
}

/// The template data for an item: a map with exactly the seed's variables.
pub fn template_data(item: &WorkItem) -> Value {
    let time = item
        .time
        .map(|t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    let mut map: BTreeMap<String, Value> = BTreeMap::new();
    map.insert("ID".into(), Value::from(item.id.as_str()));
    map.insert("Number".into(), Value::Uint(item.number));
    map.insert("Title".into(), Value::from(item.title.as_str()));
    map.insert("Body".into(), Value::from(item.body.as_str()));
    map.insert("URL".into(), Value::from(item.url.as_str()));
    map.insert("Labels".into(), Value::from(item.labels.join(", ")));
    map.insert("Comments".into(), Value::from(item.comments.as_str()));
    map.insert("Kind".into(), Value::from(item.kind.as_str()));
    map.insert("Time".into(), Value::from(time));
    map.insert("Schedule".into(), Value::from(item.schedule.as_str()));
    Value::from(map)
}

impl PromptTemplate {
    /// The template text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders the prompt for one item: all of it, or an error.
    pub fn render(&self, item: &WorkItem) -> Result<String, TemplateError> {
        self.template
            .execute_to_string(&template_data(item))
            .map_err(|e| TemplateError::Render {
                item_id: item.id.clone(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue() -> WorkItem {
        WorkItem {
            body: "It crashes.".into(),
            url: "https://github.com/o/r/issues/42".into(),
            labels: vec!["bug".into(), "p1".into()],
            comments: format!("first{COMMENT_SEPARATOR}second"),
            ..WorkItem::github(42, ItemKind::Issue, "Crash on start")
        }
    }

    fn tick() -> WorkItem {
        let t = Utc
            .with_ymd_and_hms(2026, 2, 7, 9, 0, 0)
            .single()
            .expect("valid");
        WorkItem::cron_tick(t, "0 * * * *")
    }

    const ALL: &str = "ID={{.ID}}|Number={{.Number}}|Title={{.Title}}|Body={{.Body}}|URL={{.URL}}|Labels={{.Labels}}|Comments={{.Comments}}|Kind={{.Kind}}|Time={{.Time}}|Schedule={{.Schedule}}";

    #[test]
    fn every_variable_for_a_github_issue() {
        let t = parse_template(ALL).expect("parses");
        insta::assert_snapshot!(t.render(&issue()).expect("renders"), @r"
        ID=42|Number=42|Title=Crash on start|Body=It crashes.|URL=https://github.com/o/r/issues/42|Labels=bug, p1|Comments=first

        ---

        second|Kind=Issue|Time=|Schedule=
        ");
    }

    #[test]
    fn every_variable_for_a_pull_request() {
        let t = parse_template("{{.Kind}} #{{.Number}}").expect("parses");
        let pr = WorkItem::github(7, ItemKind::PullRequest, "Add feature");
        assert_eq!(t.render(&pr).expect("renders"), "PR #7");
    }

    #[test]
    fn every_variable_for_a_cron_tick() {
        let t = parse_template(ALL).expect("parses");
        insta::assert_snapshot!(t.render(&tick()).expect("renders"), @"ID=20260207-0900|Number=0|Title=2026-02-07T09:00:00Z|Body=|URL=|Labels=|Comments=|Kind=Issue|Time=2026-02-07T09:00:00Z|Schedule=0 * * * *");
    }

    #[test]
    fn go_template_control_flow_works() {
        let t = parse_template("{{if .Comments}}Discussion:\n{{.Comments}}{{else}}No comments{{end}} {{printf \"%05d\" .Number}} {{.Title | len}}").expect("parses");
        let mut item = issue();
        item.comments.clear();
        assert_eq!(t.render(&item).expect("renders"), "No comments 00042 14");
    }

    #[test]
    fn default_template_when_none_given() {
        let t = parse_template("  ").expect("default");
        assert_eq!(t.source(), DEFAULT_PROMPT_TEMPLATE);
        assert_eq!(
            t.render(&issue()).expect("renders"),
            "Crash on start\n\nIt crashes."
        );
    }

    #[test]
    fn syntax_errors_are_rejected_with_position() {
        let err = parse_template("Fix {{.Title").expect_err("unterminated action");
        assert!(matches!(err, TemplateError::Parse { .. }), "{err:?}");
        assert!(err.to_string().contains("promptTemplate does not parse"));
        for bad in [
            "{{end}}",
            "{{if .Title}}x",
            "{{else}}",
            "{{range .Labels}}{{if .}}{{end}}",
        ] {
            let err = parse_template(bad).expect_err(bad);
            assert!(matches!(err, TemplateError::Parse { .. }), "{bad}: {err:?}");
        }
        let ok = "{{/* {{if */}}{{- if .Title -}} {{.Title}} {{- else}}none{{end}}";
        assert_eq!(
            parse_template(ok)
                .expect("balanced")
                .render(&issue())
                .expect("renders"),
            "Crash on start"
        );
    }

    #[test]
    fn misspelt_variables_are_rejected_at_validation() {
        let err = parse_template("Fix {{.Titel}}").expect_err("unknown variable");
        assert!(matches!(err, TemplateError::Invalid { .. }), "{err:?}");
        assert!(err.to_string().contains("available variables"), "{err}");
        let err = parse_template("{{nosuchfunc .Title}}").expect_err("unknown function");
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn data_dependent_errors_fail_the_render_and_produce_no_prompt() {
        // Valid for the samples (their body is long enough), fails for a short body.
        let t = parse_template("{{slice .Body 0 10}}").expect("parses");
        let mut item = issue();
        item.body = "short".into();
        let err = t.render(&item).expect_err("out of range");
        assert!(
            matches!(&err, TemplateError::Render { item_id, .. } if item_id == "42"),
            "{err:?}"
        );
    }

    #[test]
    fn clone_keeps_the_source() {
        let t = parse_template("x {{.ID}}").expect("parses");
        let c = t.clone();
        assert_eq!(c.render(&tick()).expect("renders"), "x 20260207-0900");
    }
}
