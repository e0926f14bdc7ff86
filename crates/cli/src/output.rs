//! How resources are printed: kubectl-like aligned tables with AGE, or YAML/JSON documents.

use crate::args::OutputFormat;
use axon_api::Kind;
use axon_api::loader::Resource;
use serde_json::Value;

/// kubectl's compact age: `45s`, `12m`, `3h`, `5d`.
pub fn format_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn age_of(r: &Resource, now: i64) -> String {
    r.metadata()
        .creation_timestamp
        .as_ref()
        .map(|t| format_age(now - t.0.as_second()))
        .unwrap_or_else(|| "<unknown>".into())
}

fn text(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Header and rows of the table for `kind`.
pub fn table(kind: Kind, resources: &[Resource], wide: bool, now: i64) -> Vec<Vec<String>> {
    let mut rows = vec![
        match (kind, wide) {
            (Kind::Task, false) => vec!["NAME", "TYPE", "PHASE", "AGE", "WAITING FOR"],
            (Kind::Task, true) => vec![
                "NAME",
                "TYPE",
                "PHASE",
                "AGE",
                "MODEL",
                "WORKSPACE",
                "BRANCH",
                "MESSAGE",
            ],
            (Kind::Workspace, _) => vec!["NAME", "REPO", "REF", "AGE"],
            (Kind::AgentConfig, _) => vec!["NAME", "AGE"],
            (Kind::TaskSpawner, _) => vec![
                "NAME", "SOURCE", "PHASE", "ACTIVE", "TASKS", "PROGRESS", "AGE",
            ],
        }
        .into_iter()
        .map(String::from)
        .collect(),
    ];
    for r in resources {
        let v = r.to_value();
        let age = age_of(r, now);
        let name = r.name().to_string();
        let or_dash = |s: String| {
            if s.is_empty() {
                "<none>".to_string()
            } else {
                s
            }
        };
        rows.push(match r {
            Resource::Task(_) => {
                let phase = or_dash(text(&v, "/status/phase"));
                let phase = if phase == "<none>" {
                    "Pending".to_string()
                } else {
                    phase
                };
                let mut row = vec![name, text(&v, "/spec/type"), phase, age];
                if !wide {
                    row.push(waiting_for(&v));
                }
                if wide {
                    row.push(or_dash(text(&v, "/spec/model")));
                    row.push(or_dash(text(&v, "/spec/workspaceRef/name")));
                    row.push(or_dash(text(&v, "/status/outputs/branch")));
                    row.push(text(&v, "/status/message"));
                }
                row
            }
            Resource::Workspace(_) => vec![
                name,
                text(&v, "/spec/repo"),
                or_dash(text(&v, "/spec/ref")),
                age,
            ],
            Resource::AgentConfig(_) => vec![name, age],
            Resource::TaskSpawner(ts) => {
                let source = ts
                    .status
                    .as_ref()
                    .and_then(|s| s.source.clone())
                    .unwrap_or_else(|| ts.spec.when.describe());
                let phase = or_dash(text(&v, "/status/phase"));
                let num = |p: &str| {
                    let t = text(&v, p);
                    if t.is_empty() { "0".to_string() } else { t }
                };
                // `when.items`: how the fan-out is doing, in one cell.
                let progress = ts
                    .status
                    .as_ref()
                    .and_then(|s| s.items.as_ref())
                    .map(axon_core::fanout_status::progress_line)
                    .unwrap_or_else(|| "<none>".to_string());
                vec![
                    name,
                    source,
                    phase,
                    num("/status/activeTasks"),
                    num("/status/totalTasksCreated"),
                    progress,
                    age,
                ]
            }
        });
    }
    rows
}

/// Align columns with three spaces between them, like kubectl.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Print resources as YAML (multi-document) or JSON (one object, or a `List`).
/// Why a Pending Task waits, when its start gate holds it (its `Waiting` condition).
fn waiting_for(v: &Value) -> String {
    let waiting = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c["type"] == "Waiting" && c["status"] == "True")
        });
    match waiting {
        Some(c) if text(v, "/status/phase") == "Pending" => text(c, "/message")
            .strip_prefix("waiting for ")
            .map(str::to_string)
            .unwrap_or_else(|| text(c, "/message")),
        _ => String::new(),
    }
}

/// `get task NAME -o tree`: the Task and what it depends on, each with its phase (and why it
/// waits), from every Task in `all`.
pub fn render_tree(root: &str, all: &[Resource]) -> String {
    let mut graph = axon_core::deps::Graph::new();
    let mut rows: std::collections::BTreeMap<String, (String, String)> = Default::default();
    for r in all {
        if let Resource::Task(t) = r {
            let v = r.to_value();
            let phase = t
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .unwrap_or_default()
                .to_string();
            graph.insert(r.name().to_string(), t.spec.depends_on.clone());
            rows.insert(r.name().to_string(), (phase, waiting_for(&v)));
        }
    }
    let mut table = vec![vec![
        "TASK".to_string(),
        "PHASE".to_string(),
        "WAITING FOR".to_string(),
    ]];
    for line in axon_core::deps::tree(&graph, root) {
        let indent = if line.depth == 0 {
            String::new()
        } else {
            format!("{}└─ ", "   ".repeat(line.depth - 1))
        };
        let (phase, why) = rows
            .get(&line.name)
            .cloned()
            .unwrap_or_else(|| ("<not created>".into(), String::new()));
        let note = if line.repeated {
            "(shown above)".to_string()
        } else {
            why
        };
        table.push(vec![format!("{indent}{}", line.name), phase, note]);
    }
    render_table(&table)
}

pub fn render_documents(resources: &[Resource], format: OutputFormat, single: bool) -> String {
    let values: Vec<Value> = resources.iter().map(Resource::to_value).collect();
    match format {
        OutputFormat::Json => {
            let v = if single && values.len() == 1 {
                values[0].clone()
            } else {
                serde_json::json!({"apiVersion": "v1", "kind": "List", "items": values})
            };
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        }
        OutputFormat::Name => resources
            .iter()
            .map(|r| {
                format!(
                    "{}/{}\n",
                    r.kind_value().plural().trim_end_matches('s'),
                    r.name()
                )
            })
            .collect(),
        _ => values
            .iter()
            .map(|v| {
                let mut doc = serde_saphyr::to_string(v).unwrap_or_default();
                if !doc.ends_with('\n') {
                    doc.push('\n');
                }
                doc
            })
            .collect::<Vec<_>>()
            .join("---\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dependency_tree_shows_phases_and_why_a_task_waits() {
        let docs = axon_api::loader::load_str(
            "t.yaml",
            r#"apiVersion: axon.io/v1alpha1
kind: Task
metadata: {name: report}
spec: {type: codex, prompt: r, credentials: {type: api-key, secretRef: {name: k}}, dependsOn: [fix-a, fix-b]}
status:
  phase: Pending
  conditions: [{type: Waiting, status: "True", reason: DependenciesNotReady, message: "waiting for dependencies: fix-b (Running)"}]
---
apiVersion: axon.io/v1alpha1
kind: Task
metadata: {name: fix-a}
spec: {type: codex, prompt: a, credentials: {type: api-key, secretRef: {name: k}}, dependsOn: [base]}
status: {phase: Succeeded}
---
apiVersion: axon.io/v1alpha1
kind: Task
metadata: {name: fix-b}
spec: {type: codex, prompt: b, credentials: {type: api-key, secretRef: {name: k}}, dependsOn: [base]}
status: {phase: Running}
---
apiVersion: axon.io/v1alpha1
kind: Task
metadata: {name: base}
spec: {type: codex, prompt: b, credentials: {type: api-key, secretRef: {name: k}}}
status: {phase: Succeeded}
"#,
        )
        .expect("load");
        let all: Vec<Resource> = docs.into_iter().map(|d| d.resource).collect();
        let tree = render_tree("report", &all);
        assert_eq!(
            tree,
            "TASK         PHASE       WAITING FOR\n\
             report       Pending     dependencies: fix-b (Running)\n\
             └─ fix-a     Succeeded\n\
             \x20  └─ base   Succeeded\n\
             └─ fix-b     Running\n\
             \x20  └─ base   Succeeded   (shown above)\n",
            "{tree}"
        );
    }

    #[test]
    fn ages_like_kubectl() {
        assert_eq!(format_age(5), "5s");
        assert_eq!(format_age(130), "2m");
        assert_eq!(format_age(7300), "2h");
        assert_eq!(format_age(200_000), "2d");
        assert_eq!(format_age(-3), "0s");
    }

    #[test]
    fn tables_align() {
        let rows = vec![
            vec!["NAME".to_string(), "PHASE".to_string()],
            vec!["a-long-name".to_string(), "Running".to_string()],
        ];
        assert_eq!(
            render_table(&rows),
            "NAME          PHASE\na-long-name   Running\n"
        );
    }
}
