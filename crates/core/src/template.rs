//! The TaskSpawner's templates: `promptTemplate`, and `branch` and each `dependsOn` entry of
//! its `taskTemplate`, in Go `text/template` syntax (through the `gotmpl` port), with the
//! variables of the seed's table (`ID Number Title Body URL Labels Comments Kind Time
//! Schedule`) for every source, and `Item.<field>` for the fields of a `when.items` entry.
//!
//! Two promises matter to users. A template that cannot work is rejected when it is validated
//! (`axon validate`, apply), not at the first poll: [`parse_field`] parses it and renders it
//! against samples, so a misspelt variable (`{{.Titel}}`) is caught early; for `when.items`
//! the samples are the items themselves, so every item's render is checked before anything is
//! stored. And a render error is an error: [`PromptTemplate::render`] returns either the whole
//! text or an error, never a half-rendered prompt, so no Task is ever created from one.
//!
//! `.Deps` belongs to a later render: a spawned Task's `prompt` and `branch` are rendered
//! again when it starts, with the results of the Tasks it depends on
//! (`{{.Deps.<name>.Branch}}`, see `crate::deps_template`). So the spawner's render leaves every
//! action that mentions `.Deps` exactly as written: before parsing, each such action (and each
//! whole `{{if}}`/`{{range}}`/`{{with}}` block whose opening action mentions `.Deps`, through its
//! `{{end}}`) is replaced by an action that prints its original text. A block kept that way
//! cannot use the item's variables (they do not exist at start time), which is refused; an
//! `{{else if .Deps…}}` inside an item-level block is refused too (test `.Deps` in a block of
//! its own).

use crate::spawn_item::{ItemKind, ItemState, WorkItem};
use gotmpl::{MissingKey, Template, Value};
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::fmt;

/// The prompt used when a TaskSpawner gives no `promptTemplate`.
pub const DEFAULT_PROMPT_TEMPLATE: &str = "{{.Title}}\n\n{{.Body}}";

/// Separator between comments in `{{.Comments}}`.
pub const COMMENT_SEPARATOR: &str = "\n\n---\n\n";

/// The variables an item provides, as the error messages list them.
const VARIABLES: &str = ".ID .Number .Title .Body .URL .Labels .Comments .Kind .Time .Schedule .Command.Name .Command.Args .Command.Author .Command.URL .Check.Name .Check.Conclusion .Check.URL .Check.Branch .Check.SHA, .Item.<field> with when.items; .Deps.<name>.<Field> is kept for the Task's start";

/// The top-level names an item provides (what a block kept for start time must not use).
const ITEM_VARIABLES: [&str; 13] = [
    "Item", "ID", "Number", "Title", "Body", "URL", "Labels", "Comments", "Kind", "Time",
    "Schedule", "Command", "Check",
];

/// Why a template was rejected or failed to render. `field` is the template's field:
/// `promptTemplate`, `branch` or `dependsOn[N]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template is not valid Go template syntax.
    #[error(
        "{field} does not parse: {message} (Go text/template syntax, e.g. \"Fix: {{{{.Title}}}}\")"
    )]
    Parse {
        /// The template's field.
        field: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The template refers to something that does not exist for any item, such as a misspelt
    /// variable.
    #[error("{field} cannot render: {message} (available variables: {VARIABLES})")]
    Invalid {
        /// The template's field.
        field: String,
        /// The engine's message.
        message: String,
    },
    /// A `.Deps` action or block cannot be kept as written for the Task's start.
    #[error("{field} cannot keep .Deps for the Task's start: {message}")]
    Deps {
        /// The template's field.
        field: String,
        /// What is wrong and how to write it instead.
        message: String,
    },
    /// Rendering failed for one particular item.
    #[error("{field} failed to render for item {item_id}: {message}")]
    Render {
        /// The template's field.
        field: String,
        /// `{{.ID}}` of the item.
        item_id: String,
        /// The engine's message, or what is wrong with the rendered text.
        message: String,
    },
}

impl TemplateError {
    /// The template's field: `promptTemplate`, `branch` or `dependsOn[N]`.
    pub fn field(&self) -> &str {
        match self {
            TemplateError::Parse { field, .. }
            | TemplateError::Invalid { field, .. }
            | TemplateError::Deps { field, .. }
            | TemplateError::Render { field, .. } => field,
        }
    }
}

/// What [`parse_field`] renders a template against to validate it.
#[derive(Clone, Copy, Debug)]
pub enum Samples<'a> {
    /// A sample GitHub issue and a sample cron tick: errors no item's data can avoid (an
    /// unknown variable or function) are refused; the rest is left to render time.
    Sources,
    /// The actual items (`when.items`): every error is refused.
    Items(&'a [WorkItem]),
    /// Parse only (the spawner, which renders each item anyway).
    None,
}

/// A parsed, validated template.
pub struct PromptTemplate {
    field: String,
    source: String,
    template: Template,
}

impl fmt::Debug for PromptTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromptTemplate")
            .field("field", &self.field)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Clone for PromptTemplate {
    fn clone(&self) -> Self {
        // `source` parsed once already, so parsing it again cannot fail; fall back to the
        // default template rather than panic if the engine ever disagrees with itself.
        parse_field(&self.field, &self.source, Samples::None).unwrap_or_else(|_| default_template())
    }
}

fn compile(field: &str, source: &str) -> Result<Template, TemplateError> {
    let parse_error = |message: String| TemplateError::Parse {
        field: field.to_string(),
        message,
    };
    check_blocks(source).map_err(parse_error)?;
    let protected = keep_deps(source).map_err(|message| TemplateError::Deps {
        field: field.to_string(),
        message,
    })?;
    Template::new(field)
        .missing_key(MissingKey::Error)
        .parse(&protected)
        .map_err(|e| parse_error(e.to_string()))
}

/// One `{{…}}` action of a template: its byte span and the text between the delimiters, trim
/// markers removed.
struct Action<'a> {
    start: usize,
    end: usize,
    inner: &'a str,
}

impl<'a> Action<'a> {
    fn keyword(&self) -> &'a str {
        self.inner.split_whitespace().next().unwrap_or("")
    }

    fn is_comment(&self) -> bool {
        self.inner.starts_with("/*")
    }

    fn opens_block(&self) -> bool {
        matches!(self.keyword(), "if" | "range" | "with" | "block" | "define")
    }
}

/// The actions of `source`, in order (an unclosed one ends the list; the parser reports it).
fn actions(source: &str) -> Vec<Action<'_>> {
    let mut out = Vec::new();
    let mut offset = 0;
    while let Some(found) = source[offset..].find("{{") {
        let start = offset + found;
        let Some(len) = source[start + 2..].find("}}") else {
            break;
        };
        let end = start + 2 + len + 2;
        let inner = source[start + 2..end - 2]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        out.push(Action { start, end, inner });
        offset = end;
    }
    out
}

/// Go rejects unbalanced blocks (`{{if}}` without `{{end}}`, a stray `{{end}}` or `{{else}}`);
/// `gotmpl` 0.6 accepts them, so check the block structure here to keep Go's behaviour.
fn check_blocks(source: &str) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    for action in actions(source) {
        if action.is_comment() {
            continue;
        }
        let keyword = action.keyword();
        match keyword {
            "if" | "range" | "with" | "block" | "define" => open.push(keyword),
            "end" if open.pop().is_none() => {
                return Err("unexpected {{end}}".to_string());
            }
            "else" | "break" | "continue" if open.is_empty() => {
                return Err(format!("unexpected {{{{{keyword}}}}} outside a block"));
            }
            _ => {}
        }
    }
    match open.last() {
        Some(keyword) => Err(format!(
            "unexpected EOF: {{{{{keyword}}}}} has no {{{{end}}}}"
        )),
        None => Ok(()),
    }
}

/// Whether `text` refers to top-level field `name` (`.Name`, `$.Name`), not to a field of
/// something else (`.Deps.x.Name`).
fn mentions(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let needle = format!(".{name}");
    text.match_indices(&needle).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + needle.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// An action that prints `text` literally.
fn literal_action(text: &str) -> String {
    if !text.contains('`') && !text.contains('\r') {
        return format!("{{{{`{text}`}}}}");
    }
    let mut quoted = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c => quoted.push(c),
        }
    }
    format!("{{{{\"{quoted}\"}}}}")
}

/// `source` with every action (or block) that mentions `.Deps` replaced by one printing its
/// original text, so the spawner's render leaves it for the Task's start.
fn keep_deps(source: &str) -> Result<String, String> {
    let actions = actions(source);
    let mut out = String::with_capacity(source.len());
    let mut copied = 0;
    let mut i = 0;
    while i < actions.len() {
        let action = &actions[i];
        if action.is_comment() || !mentions(action.inner, "Deps") {
            i += 1;
            continue;
        }
        let (start, end) = if action.opens_block() {
            let mut depth = 0usize;
            let mut close = None;
            for (j, a) in actions.iter().enumerate().skip(i) {
                if a.is_comment() {
                    continue;
                }
                if a.opens_block() {
                    depth += 1;
                } else if a.keyword() == "end" {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(j);
                        break;
                    }
                }
            }
            // Unbalanced: `check_blocks` has reported it already.
            let Some(close) = close else {
                return Ok(source.to_string());
            };
            i = close + 1;
            (action.start, actions[close].end)
        } else if action.keyword() == "else" {
            return Err(format!(
                "`{{{{{}}}}}` tests .Deps in an {{{{else}}}} of a block over the item: .Deps is only known when the Task starts; test it in an {{{{if}}}} block of its own",
                action.inner
            ));
        } else {
            i += 1;
            (action.start, action.end)
        };
        let kept = &source[start..end];
        if let Some(name) = ITEM_VARIABLES
            .iter()
            .find(|v| actions_in(kept).any(|inner| mentions(inner, v)))
        {
            return Err(format!(
                "a block over .Deps uses .{name}: the block is kept as written and rendered when the Task starts, where the item's variables do not exist; use the item's values outside the block"
            ));
        }
        out.push_str(&source[copied..start]);
        out.push_str(&literal_action(kept));
        copied = end;
    }
    out.push_str(&source[copied..]);
    Ok(out)
}

/// Whether some action of `source` (other than a comment) refers to `.Deps`.
pub fn uses_deps(source: &str) -> bool {
    actions(source)
        .iter()
        .any(|a| !a.is_comment() && mentions(a.inner, "Deps"))
}

/// Whether some action of `source` (other than a comment) refers to top-level `.{name}`
/// (e.g. `Command`).
pub fn uses_variable(source: &str, name: &str) -> bool {
    actions(source)
        .iter()
        .any(|a| !a.is_comment() && mentions(a.inner, name))
}

fn actions_in(text: &str) -> impl Iterator<Item = &str> {
    actions(text).into_iter().map(|a| a.inner)
}

/// The default template, parsed.
pub fn default_template() -> PromptTemplate {
    PromptTemplate {
        field: "promptTemplate".to_string(),
        source: DEFAULT_PROMPT_TEMPLATE.to_string(),
        // The default template is a constant known to parse; an empty template is the
        // harmless fallback if it ever did not.
        template: compile("promptTemplate", DEFAULT_PROMPT_TEMPLATE)
            .unwrap_or_else(|_| Template::new("empty")),
    }
}

/// Parses and validates a GitHub or cron spawner's `promptTemplate`; `None` or an empty
/// string gives the default.
///
/// Validation renders the template once against a sample GitHub item and a sample cron tick
/// and rejects references to variables, functions or templates that do not exist. Errors that
/// depend on an item's data (an index out of range, say) are left to render time.
pub fn parse_template(source: &str) -> Result<PromptTemplate, TemplateError> {
    if source.trim().is_empty() {
        return Ok(default_template());
    }
    parse_field("promptTemplate", source, Samples::Sources)
}

/// Parses template `source` of field `field` and validates it against `samples`.
pub fn parse_field(
    field: &str,
    source: &str,
    samples: Samples<'_>,
) -> Result<PromptTemplate, TemplateError> {
    let template = compile(field, source)?;
    let parsed = PromptTemplate {
        field: field.to_string(),
        source: source.to_string(),
        template,
    };
    match samples {
        Samples::None => {}
        Samples::Sources => {
            for sample in sample_items() {
                if let Err(e) = parsed.template.execute_to_string(&template_data(&sample))
                    && is_structural(&e)
                {
                    return Err(TemplateError::Invalid {
                        field: field.to_string(),
                        message: e.to_string(),
                    });
                }
            }
        }
        Samples::Items(items) => {
            for item in items {
                parsed.render(item)?;
            }
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

/// A sample GitHub issue and a sample cron tick, to validate a template against.
pub fn sample_items() -> [WorkItem; 2] {
    // 2026-02-07T09:00:00Z
    let tick = Timestamp::from_second(1_770_454_800).unwrap_or(Timestamp::UNIX_EPOCH);
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

/// The template data for an item: a map with exactly the seed's variables, and `Item`.
pub fn template_data(item: &WorkItem) -> Value {
    let time = item.time.map(crate::rfc3339::format).unwrap_or_default();
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
    let fields: BTreeMap<String, Value> = item
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    map.insert("Item".into(), Value::from(fields));
    let command = item.command.clone().unwrap_or_default();
    let command: BTreeMap<String, Value> = [
        ("Name", command.name),
        ("Args", command.args),
        ("Author", command.author),
        ("URL", command.url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::from(v)))
    .collect();
    map.insert("Command".into(), Value::from(command));
    let check = item.check.clone().unwrap_or_default();
    let check: BTreeMap<String, Value> = [
        ("Name", check.name),
        ("Conclusion", check.conclusion),
        ("URL", check.url),
        ("Branch", check.branch),
        ("SHA", check.sha),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::from(v)))
    .collect();
    map.insert("Check".into(), Value::from(check));
    Value::from(map)
}

impl PromptTemplate {
    /// The template text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders the text for one item: all of it, or an error.
    pub fn render(&self, item: &WorkItem) -> Result<String, TemplateError> {
        self.template
            .execute_to_string(&template_data(item))
            .map_err(|e| TemplateError::Render {
                field: self.field.clone(),
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
        let t: Timestamp = "2026-02-07T09:00:00Z".parse().expect("valid");
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
    fn command_variables_are_empty_without_a_command() {
        let t = parse_template("{{.Title}}{{if .Command.Args}}: {{.Command.Args}} (asked by @{{.Command.Author}} via /axon {{.Command.Name}} at {{.Command.URL}}){{end}}").expect("parses");
        assert_eq!(t.render(&issue()).expect("renders"), "Crash on start");
        let mut item = issue();
        item.command = Some(crate::spawn_item::CommandContext {
            name: "run".into(),
            args: "add a test".into(),
            author: "octo".into(),
            url: "https://github.com/o/r/issues/42#issuecomment-1".into(),
        });
        insta::assert_snapshot!(t.render(&item).expect("renders"), @"Crash on start: add a test (asked by @octo via /axon run at https://github.com/o/r/issues/42#issuecomment-1)");
        assert!(uses_variable("x {{ .Command.Args }}", "Command"));
        assert!(!uses_variable(
            "Command {{.Title}} {{/* .Command */}}",
            "Command"
        ));
        assert!(parse_template("{{.Command.Argz}}").is_err());
    }

    #[test]
    fn check_variables_are_empty_without_a_check() {
        let t = parse_template("{{.Title}}{{if .Check.Name}}: {{.Check.Name}} {{.Check.Conclusion}} on {{.Check.Branch}}@{{.Check.SHA}} ({{.Check.URL}}){{end}}").expect("parses");
        assert_eq!(t.render(&issue()).expect("renders"), "Crash on start");
        let mut item = issue();
        item.check = Some(crate::spawn_item::CheckContext {
            name: "test".into(),
            conclusion: "failure".into(),
            url: "https://github.com/o/r/actions/runs/1".into(),
            branch: "fix-crash".into(),
            sha: "ec26c3e".into(),
        });
        insta::assert_snapshot!(t.render(&item).expect("renders"), @"Crash on start: test failure on fix-crash@ec26c3e (https://github.com/o/r/actions/runs/1)");
        assert!(uses_variable("x {{ .Check.URL }}", "Check"));
        assert!(parse_template("{{.Check.Log}}").is_err());
    }

    #[test]
    fn clone_keeps_the_source() {
        let t = parse_template("x {{.ID}}").expect("parses");
        let c = t.clone();
        assert_eq!(c.render(&tick()).expect("renders"), "x 20260207-0900");
    }

    /// `.Deps` actions survive the spawner's render exactly as written, whatever their form,
    /// while the item's variables around them are rendered.
    #[test]
    fn deps_actions_are_kept_for_the_tasks_start() {
        let source = "Item {{.ID}}: base {{.Deps.scaffold.Branch}}, {{ (index .Deps \"fix-api\").PullRequests }}, {{- $.Deps.a.FinalAnswer -}} !\n{{range .Deps.fix_api.Commits}}- {{.}}\n{{end}}{{if .Title}}T={{.Title}} {{with .Deps.b}}{{.Branch}}{{else}}none{{end}}{{end}} {{printf `%s` .Deps.c.Branch}}\n{{/* .Deps in a comment */}}";
        let t = parse_template(source).expect("parses");
        insta::assert_snapshot!(t.render(&issue()).expect("renders"), @r#"
        Item 42: base {{.Deps.scaffold.Branch}}, {{ (index .Deps "fix-api").PullRequests }}, {{- $.Deps.a.FinalAnswer -}} !
        {{range .Deps.fix_api.Commits}}- {{.}}
        {{end}}T=Crash on start {{with .Deps.b}}{{.Branch}}{{else}}none{{end}} {{printf `%s` .Deps.c.Branch}}
        "#);
    }

    #[test]
    fn uses_deps_sees_actions_not_text_or_comments() {
        assert!(uses_deps("x {{.Deps.a.Branch}}"));
        assert!(uses_deps("{{range $.Deps.a.Commits}}{{.}}{{end}}"));
        assert!(!uses_deps("Deps .Deps {{/* .Deps */}} {{.Item.Deps}}"));
    }

    #[test]
    fn deps_blocks_that_need_the_item_are_refused() {
        let errors: Vec<String> = [
            "{{range .Deps.a.Commits}}{{.}} of {{$.Title}}{{end}}",
            "{{with .Deps.a}}{{.Branch}} for {{$.Item.name}}{{end}}",
            "{{if .Title}}x{{else if .Deps.a.Pushed}}y{{end}}",
        ]
        .iter()
        .map(|s| parse_template(s).expect_err(s).to_string())
        .collect();
        insta::assert_snapshot!(errors.join("\n"), @r"
        promptTemplate cannot keep .Deps for the Task's start: a block over .Deps uses .Title: the block is kept as written and rendered when the Task starts, where the item's variables do not exist; use the item's values outside the block
        promptTemplate cannot keep .Deps for the Task's start: a block over .Deps uses .Item: the block is kept as written and rendered when the Task starts, where the item's variables do not exist; use the item's values outside the block
        promptTemplate cannot keep .Deps for the Task's start: `{{else if .Deps.a.Pushed}}` tests .Deps in an {{else}} of a block over the item: .Deps is only known when the Task starts; test it in an {{if}} block of its own
        ");
        // Field names that merely end like a variable are not the item's variables.
        assert!(parse_template("{{with .Deps.a}}{{.Deps.x.Title}}{{end}}").is_ok());
    }

    #[test]
    fn item_fields_render_and_are_unknown_to_other_sources() {
        let item = WorkItem::listed(
            "billing",
            BTreeMap::from([("repo".to_string(), "https://e.test/b.git".to_string())]),
        );
        let t = parse_field(
            "promptTemplate",
            "{{.ID}} at {{.Item.repo}}",
            Samples::Items(std::slice::from_ref(&item)),
        )
        .expect("parses");
        assert_eq!(
            t.render(&item).expect("renders"),
            "billing at https://e.test/b.git"
        );
        let e = parse_field(
            "promptTemplate",
            "{{.Item.rpo}}",
            Samples::Items(std::slice::from_ref(&item)),
        )
        .expect_err("misspelt field");
        assert_eq!(
            e.to_string(),
            "promptTemplate failed to render for item billing: map has no entry for key: rpo"
        );
        let e = parse_template("{{.Item.repo}}").expect_err("no items for GitHub");
        assert!(matches!(e, TemplateError::Invalid { .. }), "{e:?}");
    }
}
