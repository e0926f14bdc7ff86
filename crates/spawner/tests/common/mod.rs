//! Fixtures shared by the spawner's integration tests.
#![allow(dead_code)]

use axon_api::{TaskSpawner, Workspace};
use axon_spawner::{ManualClock, MemorySink, Spawner, SpawnerOptions, Token};
use axon_testsupport::github_server::FakeGitHub;
use serde_json::{Value, json};

pub const TOKEN: &str = "ghp_test_token_value";

pub fn start() -> jiff::Timestamp {
    "2026-02-07T08:00:00Z".parse().expect("valid")
}

/// A TaskSpawner from the `spec` JSON.
pub fn spawner(name: &str, spec: Value) -> TaskSpawner {
    serde_json::from_value(json!({
        "apiVersion": "axon.io/v1alpha1",
        "kind": "TaskSpawner",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-02-07T08:00:00Z"},
        "spec": spec,
    }))
    .expect("valid TaskSpawner")
}

/// A GitHub-issues TaskSpawner over workspace `ws`.
pub fn github_spawner(name: &str, github: Value, extra: Value) -> TaskSpawner {
    let mut spec = json!({
        "when": {"githubIssues": github},
        "taskTemplate": {
            "type": "claude-code",
            "credentials": {"type": "api-key", "secretRef": {"name": "creds"}},
            "workspaceRef": {"name": "ws"},
        },
    });
    merge(&mut spec, extra);
    spawner(name, spec)
}

/// A cron TaskSpawner.
pub fn cron_spawner(name: &str, schedule: &str, extra: Value) -> TaskSpawner {
    let mut spec = json!({
        "when": {"cron": {"schedule": schedule}},
        "taskTemplate": {
            "type": "claude-code",
            "credentials": {"type": "api-key", "secretRef": {"name": "creds"}},
        },
    });
    merge(&mut spec, extra);
    spawner(name, spec)
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

pub fn workspace(repo: &str) -> Workspace {
    serde_json::from_value(json!({
        "apiVersion": "axon.io/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "default"},
        "spec": {"repo": repo, "secretRef": {"name": "gh"}},
    }))
    .expect("valid Workspace")
}

/// A sink holding `spawner` and a workspace for `o/r`, a fake GitHub requiring the token,
/// and a clock.
pub fn github_setup(spawner: TaskSpawner) -> (FakeGitHub, MemorySink, ManualClock) {
    let gh = FakeGitHub::start().expect("fake GitHub");
    gh.require_token(TOKEN);
    let sink = MemorySink::new();
    sink.put_spawner(spawner);
    sink.put_workspace(workspace("https://github.com/o/r.git"), Token::new(TOKEN));
    (gh, sink, ManualClock::new(start()))
}

pub fn new_spawner(
    name: &str,
    gh: &FakeGitHub,
    sink: &MemorySink,
    clock: &ManualClock,
) -> Spawner<MemorySink, ManualClock> {
    Spawner::new(
        name,
        sink.clone(),
        clock.clone(),
        SpawnerOptions {
            github_api_base: Some(gh.base_url()),
        },
    )
}

/// Task names, sorted.
pub fn task_names(sink: &MemorySink) -> Vec<String> {
    sink.tasks().keys().cloned().collect()
}

pub fn prompt(sink: &MemorySink, task: &str) -> String {
    sink.tasks()
        .get(task)
        .map(|t| t.spec.prompt.clone())
        .unwrap_or_default()
}
