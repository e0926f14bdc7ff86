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
            (Kind::Task, false) => vec!["NAME", "TYPE", "PHASE", "AGE", "USAGE", "WAITING FOR"],
            (Kind::Task, true) => vec![
                "NAME",
                "TYPE",
                "PHASE",
                "AGE",
                "USAGE",
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
            Resource::Task(t) => {
                let phase = or_dash(text(&v, "/status/phase"));
                let phase = if phase == "<none>" {
                    "Pending".to_string()
                } else {
                    phase
                };
                // Spend so far (live while it runs): `get -w` prints a row when it changes.
                let usage =
                    crate::spend::usage_cell(t.status.as_ref().and_then(|s| s.usage.as_ref()));
                let mut row = vec![name, text(&v, "/spec/type"), phase, age, usage];
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
    render_rows(rows, &widths)
}

/// `rows` with each column but the last padded to `widths`, three spaces between columns.
pub fn render_rows(rows: &[Vec<String>], widths: &[usize]) -> String {
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<w$}   "));
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

    /// Tasks as `get tasks` shows them: the USAGE column has the spend of running and
    /// finished Tasks (tokens, and dollars when the price is known), `—` without usage.
    #[test]
    fn task_tables_show_spend() {
        let docs = axon_api::loader::load_str(
            "t.yaml",
            r#"apiVersion: axon.io/v1alpha1
kind: Task
metadata: {name: fix-login, creationTimestamp: "2026-05-01T12:00:00Z"}
spec: {type: claude-code, model: claude-sonnet-4-5, prompt: p, credentials: {type: api-key, secretRef: {name: k}}, workspaceRef: {name: app}}
status:
  phase: Running
  usage: {inputTokens: 3702, outputTokens: 168, cacheReadTokens: 2048, turns: 3, requests: 4, costUSD: 0.0131, source: gateway}
---
apiVersion: axon.io/v1alpha1
kind: Task
metadata: {name: custom-model, creationTimestamp: "2026-05-01T11:00:00Z"}
spec: {type: opencode, model: my-model, prompt: p, credentials: {type: api-key, secretRef: {name: k}}}
status:
  phase: Succeeded
  message: done
  outputs: {branch: axon/custom-model}
  usage: {inputTokens: 125000, outputTokens: 4100, turns: 12, requests: 12, source: gateway}
---
apiVersion: axon.io/v1alpha1
kind: Task
metadata: {name: report, creationTimestamp: "2026-05-01T12:01:00Z"}
spec: {type: codex, prompt: r, credentials: {type: api-key, secretRef: {name: k}}, dependsOn: [fix-login]}
status:
  phase: Pending
  conditions: [{type: Waiting, status: "True", reason: DependenciesNotReady, message: "waiting for dependencies: fix-login (Running)"}]
"#,
        )
        .expect("load");
        let tasks: Vec<Resource> = docs.into_iter().map(|d| d.resource).collect();
        let now = 1_777_637_000; // 2026-05-01T12:03:20Z
        insta::assert_snapshot!(
            "get_tasks",
            render_table(&table(Kind::Task, &tasks, false, now))
        );
        insta::assert_snapshot!(
            "get_tasks_wide",
            render_table(&table(Kind::Task, &tasks, true, now))
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
