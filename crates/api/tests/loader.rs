//! The loader: every field of the seed's tables round-trips, and every kind of bad input gives a
//! one-line error naming file, document and field.

use axon_api::loader::{Resource, load_str};
use serde_json::Value;

const ALL: &str = include_str!("fixtures/all-fields.yaml");

#[test]
fn every_field_round_trips_yaml_to_type_to_yaml() {
    let docs = load_str("all-fields.yaml", ALL).expect("fixture loads");
    assert_eq!(docs.len(), 5);
    let originals: Vec<Value> = serde_saphyr::from_multiple(ALL).expect("yaml");
    for (doc, original) in docs.iter().zip(originals) {
        let back = doc.resource.to_value();
        // Defaults the type fills in (types: [issues], state: open) are allowed extras.
        assert_subset(&original, &back, &format!("doc {}", doc.index));
        // And YAML text → type → YAML text → type is stable.
        let yaml = serde_saphyr::to_string(&back).expect("to yaml");
        let again = load_str("again", &yaml).expect("reloads");
        assert_eq!(again[0].resource, doc.resource);
    }
}

fn assert_subset(want: &Value, got: &Value, at: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                let gv = g
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k} lost in round trip"));
                assert_subset(v, gv, &format!("{at}.{k}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{at}: length");
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                assert_subset(a, b, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(b)) => assert_eq!(a.as_f64(), b.as_f64(), "{at}"),
        _ => assert_eq!(want, got, "{at}"),
    }
}

#[test]
fn defaults_are_applied() {
    let docs = load_str("all-fields.yaml", ALL).expect("loads");
    let Resource::TaskSpawner(ts) = &docs[4].resource else {
        panic!("kind")
    };
    assert!(ts.spec.poll_interval.is_none());
    let yaml = "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: s}\nspec:\n  when: {githubIssues: {}}\n  taskTemplate: {type: codex, credentials: {type: api-key, secretRef: {name: c}}, workspaceRef: {name: w}}\n";
    let docs = load_str("d.yaml", yaml).expect("loads");
    let Resource::TaskSpawner(ts) = &docs[0].resource else {
        panic!("kind")
    };
    let gh = ts.spec.when.github_issues.as_ref().expect("github");
    assert_eq!(gh.state, axon_api::IssueState::Open);
    assert_eq!(gh.types, vec![axon_api::ItemType::Issues]);
}

fn error_of(yaml: &str) -> String {
    let e = load_str("bad.yaml", yaml)
        .expect_err("must fail")
        .to_string();
    assert!(!e.contains('\n'), "error must be one line: {e}");
    e
}

const TASK_HEAD: &str = "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata:\n  name: t1\nspec:\n  prompt: hi\n  credentials: {type: api-key, secretRef: {name: s}}\n";

#[test]
fn bad_yaml_names_file() {
    let e = error_of("apiVersion: axon.io/v1alpha1\nkind: [Task\n");
    assert!(e.starts_with("bad.yaml: invalid YAML:"), "{e}");
}

#[test]
fn unknown_field_names_document_and_path() {
    let e = error_of(&format!("{TASK_HEAD}  type: codex\n  promt: typo\n"));
    assert_eq!(
        e,
        "bad.yaml: document 0 (Task/t1): spec.promt: unknown field"
    );
}

#[test]
fn bad_enum_names_field() {
    let e = error_of(&format!("---\n{TASK_HEAD}  type: copilot\n"));
    assert!(
        e.starts_with("bad.yaml: document 0 (Task/t1): spec.type: unknown variant `copilot`"),
        "{e}"
    );
}

#[test]
fn second_document_is_indexed() {
    let ws =
        "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: w}\nspec: {repo: r}\n";
    let e = error_of(&format!(
        "{ws}---\n{TASK_HEAD}  type: codex\n  ttlSecondsAfterFinished: soon\n"
    ));
    assert!(
        e.starts_with("bad.yaml: document 1 (Task/t1): spec.ttlSecondsAfterFinished: invalid type"),
        "{e}"
    );
}

const SPAWNER_HEAD: &str = "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: sp}\nspec:\n  taskTemplate: {type: codex, credentials: {type: api-key, secretRef: {name: c}}, workspaceRef: {name: w}}\n";

#[test]
fn bad_duration_names_field() {
    let e = error_of(&format!(
        "{SPAWNER_HEAD}  pollInterval: 5 minutes\n  when: {{cron: {{schedule: '* * * * *'}}}}\n"
    ));
    assert!(e.starts_with("bad.yaml: document 0 (TaskSpawner/sp): spec.pollInterval: invalid duration \"5 minutes\""), "{e}");
}

#[test]
fn two_sources_rejected() {
    let e = error_of(&format!(
        "{SPAWNER_HEAD}  when: {{cron: {{schedule: '* * * * *'}}, githubIssues: {{}}}}\n"
    ));
    assert_eq!(
        e,
        "bad.yaml: document 0 (TaskSpawner/sp): spec.when: exactly one source must be set, found both githubIssues and cron"
    );
}

#[test]
fn github_source_needs_workspace() {
    let yaml = "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: sp}\nspec:\n  taskTemplate: {type: codex, credentials: {type: api-key, secretRef: {name: c}}}\n  when: {githubIssues: {}}\n";
    let e = error_of(yaml);
    assert!(
        e.contains("spec.taskTemplate.workspaceRef: required"),
        "{e}"
    );
}

#[test]
fn wrong_kind_and_version() {
    let e = error_of("apiVersion: axon.io/v1alpha1\nkind: Pod\nmetadata: {name: p}\n");
    assert!(e.contains("(Pod/p): kind: unknown kind \"Pod\""), "{e}");
    let e = error_of("apiVersion: v1\nkind: Task\nmetadata: {name: p}\n");
    assert!(
        e.contains("apiVersion: unsupported apiVersion \"v1\""),
        "{e}"
    );
}

#[test]
fn bad_name_and_file_path() {
    let e = error_of(
        &TASK_HEAD
            .replace("t1", "Bad_Name")
            .replace("hi\n", "hi\n  type: codex\n"),
    );
    assert!(e.contains("metadata.name: invalid name"), "{e}");
    let e = error_of(
        "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: w}\nspec: {repo: r, files: [{path: ../x, content: hello}]}\n",
    );
    assert!(e.contains("spec.files[0].path"), "{e}");
}
