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
fn unknown_field_under_an_optional_field_names_the_path_as_written() {
    let e = error_of(&format!(
        "{TASK_HEAD}  type: codex\n  workspaceRef: {{name: w, nme: x}}\n"
    ));
    assert_eq!(
        e,
        "bad.yaml: document 0 (Task/t1): spec.workspaceRef.nme: unknown field"
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

fn task_with(extra: &str) -> String {
    format!("{TASK_HEAD}  type: codex\n{extra}")
}

#[test]
fn negative_numbers_are_refused_with_what_is_allowed() {
    assert_eq!(
        error_of(&task_with("  timeoutSeconds: -5\n")),
        "bad.yaml: document 0 (Task/t1): spec.timeoutSeconds: must be 0 (no timeout) or a positive number of seconds, got -5"
    );
    assert!(load_str("ok.yaml", &task_with("  timeoutSeconds: 0\n")).is_ok());
    let e = error_of(&task_with("  ttlSecondsAfterFinished: -1\n"));
    assert!(
        e.contains("spec.ttlSecondsAfterFinished: must be 0 (delete as soon as the Task finishes) or a positive number of seconds, got -1"),
        "{e}"
    );
    let e = error_of(&task_with("  backoffLimit: -1\n"));
    assert!(
        e.contains("spec.backoffLimit: must be between 0 (no retry) and 10 retries, got -1"),
        "{e}"
    );
    let e = error_of(&task_with("  backoffLimit: 100\n"));
    assert!(e.contains("got 100"), "{e}");
}

#[test]
fn empty_whitespace_and_huge_prompts_are_refused() {
    let e = error_of(&task_with("").replace("prompt: hi", "prompt: ''"));
    assert!(
        e.contains("(Task/t1): spec.prompt: must not be empty"),
        "{e}"
    );
    let e = error_of(&task_with("").replace("prompt: hi", "prompt: \"  \\n\\t\""));
    assert!(e.contains("spec.prompt: is only whitespace"), "{e}");
    let big = "x".repeat(12 * 1024 * 1024 + 300 * 1024);
    let e = error_of(&task_with("").replace("prompt: hi", &format!("prompt: {big}")));
    assert!(
        e.ends_with("spec.prompt: 12.3 MiB is over the 10 MiB limit"),
        "{}",
        &e[..200.min(e.len())]
    );
}

#[test]
fn references_must_be_object_names() {
    for bad in ["../x", "A", "''"] {
        let e = error_of(&task_with("").replace(
            "secretRef: {name: s}",
            &format!("secretRef: {{name: {bad}}}"),
        ));
        assert!(e.contains("spec.credentials.secretRef.name: "), "{e}");
        let e = error_of(&task_with(&format!("  workspaceRef: {{name: {bad}}}\n")));
        assert!(e.contains("spec.workspaceRef.name: "), "{e}");
        let e = error_of(&task_with(&format!("  agentConfigRef: {{name: {bad}}}\n")));
        assert!(e.contains("spec.agentConfigRef.name: "), "{e}");
    }
    let e = error_of(&task_with("  workspaceRef: {name: ../x}\n"));
    assert!(
        e.ends_with("spec.workspaceRef.name: \"../x\" is not a valid Workspace name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (at most 253 characters)"),
        "{e}"
    );
    let ws = "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: w}\nspec: {repo: r, secretRef: {name: ../gh}}\n";
    assert!(error_of(ws).contains("spec.secretRef.name: \"../gh\" is not a valid Secret name"));
}

const WS_HEAD: &str = "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: w}\nspec:\n";

#[test]
fn repo_and_ref_never_reach_git_as_options() {
    let e = error_of(&format!(
        "{WS_HEAD}  repo: --upload-pack=touch /tmp/pwned\n"
    ));
    assert_eq!(
        e,
        "bad.yaml: document 0 (Workspace/w): spec.repo: \"--upload-pack=touch /tmp/pwned\" starts with '-': it would reach git as an option, not as a repository"
    );
    let e = error_of(&format!("{WS_HEAD}  repo: \"https://h/r\\nx\"\n"));
    assert!(
        e.contains("spec.repo: ") && e.contains("no whitespace or control characters"),
        "{e}"
    );
    let e = error_of(&format!("{WS_HEAD}  repo: https://h/r\n  ref: --orphan\n"));
    assert!(
        e.contains("spec.ref: \"--orphan\" starts with '-': it would reach git as an option"),
        "{e}"
    );
    for bad in [
        "a..b",
        "'x@{1}'",
        "main.lock",
        "'a b'",
        "'a:b'",
        "main/",
        "main.",
    ] {
        let e = error_of(&format!("{WS_HEAD}  repo: https://h/r\n  ref: {bad}\n"));
        assert!(
            e.contains("spec.ref: ") && e.contains("is not a valid git ref name"),
            "{bad}: {e}"
        );
    }
    assert!(
        load_str(
            "ok.yaml",
            &format!("{WS_HEAD}  repo: https://h/r\n  ref: refs/pull/7/head\n")
        )
        .is_ok()
    );
}

#[test]
fn files_stay_inside_the_work_tree_and_out_of_git() {
    for (path, why) in [
        ("/etc/cron.d/x", "is absolute"),
        ("a/../../x", "contains '..'"),
        (".git/hooks/post-checkout", "is inside .git"),
        ("sub/.GIT/config", "is inside .git"),
    ] {
        let e = error_of(&format!(
            "{WS_HEAD}  repo: r\n  files: [{{path: ok.md, content: a}}, {{path: '{path}', content: x}}]\n"
        ));
        assert!(
            e.contains("spec.files[1].path: ") && e.contains(why),
            "{path}: {e}"
        );
    }
}

const SPAWNER_TEMPLATE: &str = "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: sp}\nspec:\n  when: {cron: {schedule: '* * * * *'}}\n  taskTemplate:\n    type: codex\n    credentials: {type: api-key, secretRef: {name: c}}\n";

#[test]
fn task_template_has_the_same_rules() {
    for (extra, field) in [
        (
            "    timeoutSeconds: -1\n",
            "spec.taskTemplate.timeoutSeconds: must be 0",
        ),
        (
            "    ttlSecondsAfterFinished: -1\n",
            "spec.taskTemplate.ttlSecondsAfterFinished: ",
        ),
        ("    backoffLimit: 11\n", "spec.taskTemplate.backoffLimit: "),
        (
            "    promptTemplate: '   '\n",
            "spec.taskTemplate.promptTemplate: is only whitespace",
        ),
        (
            "    workspaceRef: {name: ../w}\n",
            "spec.taskTemplate.workspaceRef.name: ",
        ),
        (
            "    agentConfigRef: {name: A}\n",
            "spec.taskTemplate.agentConfigRef.name: ",
        ),
    ] {
        let e = error_of(&format!("{SPAWNER_TEMPLATE}{extra}"));
        assert!(e.contains(field), "{extra}: {e}");
    }
    let e = error_of(&SPAWNER_TEMPLATE.replace("name: c}", "name: ../c}"));
    assert!(
        e.contains("spec.taskTemplate.credentials.secretRef.name: "),
        "{e}"
    );
}

#[test]
fn stored_documents_are_read_back_without_the_field_rules() {
    // A document stored before a rule existed can still be listed and deleted.
    let value: Value = serde_saphyr::from_str(&task_with("  timeoutSeconds: -5\n")).expect("yaml");
    assert!(Resource::from_value(value).is_ok());
}

#[test]
fn gateway_fields_load_with_their_defaults() {
    let docs = load_str(
        "ok.yaml",
        &task_with("  network: {}\n  budget: {maxTurns: 1}\n  policy: {}\n"),
    )
    .expect("loads");
    let Resource::Task(t) = &docs[0].resource else {
        panic!("kind")
    };
    let network = t.spec.network.as_ref().expect("network");
    assert_eq!(network.mode, axon_api::NetworkMode::Open);
    assert!(network.allow.is_empty());
    assert_eq!(t.spec.budget.as_ref().and_then(|b| b.max_turns), Some(1));
    assert!(t.spec.pricing.is_empty());
    // Zero cost is a valid (if strict) Task budget; a window of zero is not (see below).
    assert!(load_str("ok.yaml", &task_with("  budget: {maxCostUSD: 0}\n")).is_ok());
}

/// Every gateway field refused at apply, on a Task, a template and a spawner, in one snapshot:
/// each line names the field, what was wrong and what to write instead.
#[test]
fn gateway_fields_are_refused_with_what_to_do() {
    let task_cases = [
        "  budget: {maxCostUSD: -1}\n",
        "  budget: {maxTokens: 0}\n",
        "  budget: {maxTurns: -2}\n",
        "  budget: {maxCostUsd: 1}\n",
        "  network: {mode: closed}\n",
        "  network: {allow: [pypi.org]}\n",
        "  network: {mode: open, allow: [pypi.org]}\n",
        "  network: {mode: restricted, allow: ['https://pypi.org/simple']}\n",
        "  network: {mode: restricted, allow: ['pypi.org:443']}\n",
        "  network: {mode: restricted, allow: [pypi.org/simple]}\n",
        "  network: {mode: restricted, allow: ['pypi org']}\n",
        "  network: {mode: restricted, allow: ['*']}\n",
        "  policy: {protectedBranches: ['']}\n",
        "  policy: {protectedBranches: ['release/~x']}\n",
        "  policy: {protectedBranches: [refs/heads/main]}\n",
        "  pricing: [{model: m, inputPerMTok: -3, outputPerMTok: 15}]\n",
        "  pricing: [{model: m, inputPerMTok: 3, outputPerMTok: 15}, {model: m, inputPerMTok: 1, outputPerMTok: 2}]\n",
        "  pricing: [{model: m, inputPerMTok: 3}]\n",
    ];
    let mut lines: Vec<String> = task_cases
        .iter()
        .map(|extra| format!("{}=> {}", extra.trim_start(), error_of(&task_with(extra))))
        .collect();
    for extra in [
        "    budget: {maxTurns: 0}\n",
        "    network: {allow: [pypi.org]}\n",
        "    policy: {protectedBranches: ['a..b']}\n",
        "    pricing: [{model: '', inputPerMTok: 1, outputPerMTok: 1}]\n",
    ] {
        let yaml = format!("{SPAWNER_TEMPLATE}{extra}");
        lines.push(format!("{}=> {}", extra.trim_start(), error_of(&yaml)));
    }
    for extra in [
        "  budget: {perDay: {maxCostUSD: 0}}\n",
        "  budget: {perHour: {maxTokens: -5}}\n",
        "  budget: {perWeek: {maxTokens: 5}}\n",
    ] {
        let yaml = format!("{SPAWNER_TEMPLATE}{extra}");
        lines.push(format!("{}=> {}", extra.trim_start(), error_of(&yaml)));
    }
    insta::assert_snapshot!(lines.join("\n"));
}
