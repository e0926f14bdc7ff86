//! The four real agent CLIs as the tests drive them on either backend: which CLI, its agent
//! type, model and key variable; where the CLIs are installed; the fake model server's script
//! that writes a note, commits it on a new branch and pushes it; and the check that the usage
//! in a Task's status is exactly what the gateway measured on the server's answers.

use axon_testsupport::model_server::{FakeModelServer, Script};
use serde_json::Value;
use std::path::PathBuf;

use crate::support::str_at;

pub const BRANCH: &str = "axon/agent-test";
pub const FILE: &str = "agent-note.txt";
pub const CONTENT: &str = "written by the agent\n";

pub fn bin_dir() -> PathBuf {
    std::env::var_os("AXON_AGENT_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/axon-ci/agents/node_modules/.bin"))
}

/// Whether the CLI is installed; a missing one fails the test unless AXON_SKIP_AGENT_CLIS=1.
pub fn have_cli(name: &str) -> bool {
    if bin_dir().join(name).exists() {
        return true;
    }
    assert_eq!(
        std::env::var("AXON_SKIP_AGENT_CLIS").as_deref(),
        Ok("1"),
        "{name} not found in {}: run scripts/install-deps.sh (or set AXON_SKIP_AGENT_CLIS=1)",
        bin_dir().display()
    );
    false
}

pub struct Agent {
    pub cli: &'static str,
    pub type_: &'static str,
    pub model: &'static str,
    pub key: &'static str,
    pub secret_value: &'static str,
}

pub const AGENTS: [Agent; 4] = [
    Agent {
        cli: "claude",
        type_: "claude-code",
        model: "claude-sonnet-4-5",
        key: "ANTHROPIC_API_KEY",
        secret_value: "sk-local-secret-claude",
    },
    Agent {
        cli: "codex",
        type_: "codex",
        model: "gpt-5.5",
        key: "CODEX_API_KEY",
        secret_value: "sk-local-secret-codex",
    },
    Agent {
        cli: "gemini",
        type_: "gemini",
        model: "gemini-2.5-pro",
        key: "GEMINI_API_KEY",
        secret_value: "sk-local-secret-gemini",
    },
    Agent {
        cli: "opencode",
        type_: "opencode",
        model: "fake-model",
        key: "OPENCODE_API_KEY",
        secret_value: "sk-local-secret-opencode",
    },
];

/// The model's script: write the note, commit it on a new branch, push it.
pub fn push_script() -> Script {
    Script::new()
        .write_file(FILE, CONTENT)
        .shell(format!("git checkout -b {BRANCH} && git add -A && git commit -m 'Add the note' && git push -u origin {BRANCH}"))
        .text("done")
        .usage(INPUT_PER_ANSWER, OUTPUT_PER_ANSWER)
}

/// Tokens the fake model server reports in each answer.
pub const INPUT_PER_ANSWER: u64 = 1234;
pub const OUTPUT_PER_ANSWER: u64 = 56;

/// The usage in status equals what the model server served, measured by the gateway; the
/// server saw the real key and never the gateway token.
pub fn assert_measured(agent: &Agent, status: &Value, model: &FakeModelServer, t: &str) {
    use axon_core::usage::{CallKind, classify};
    let served = model
        .requests()
        .into_iter()
        .filter(|r| r.status == 200)
        .filter(|r| {
            matches!(
                classify(&r.method, &r.path),
                Some((_, CallKind::Generation))
            )
        })
        .count() as u64;
    let figure = |p: &str| status.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    assert_eq!(
        str_at(status, "/status/usage/source"),
        Some("gateway"),
        "{t}"
    );
    assert_eq!(figure("/status/usage/turns"), served, "{t}");
    assert_eq!(
        figure("/status/usage/inputTokens"),
        served * INPUT_PER_ANSWER,
        "{t}"
    );
    assert_eq!(
        figure("/status/usage/outputTokens"),
        served * OUTPUT_PER_ANSWER,
        "{t}"
    );
    for r in model.requests() {
        let auth = format!("{:?}{}", r.headers, r.query);
        assert!(
            !auth.contains("axon-gw-"),
            "the gateway token reached the model: {auth}"
        );
        assert!(
            auth.contains(agent.secret_value),
            "no real key on {}: {t}",
            r.path
        );
    }
}

/// The requests `model` received, one line each (for a failing assertion's message).
pub fn served(model: &FakeModelServer) -> String {
    model
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {} step={:?} status={}\n",
                r.method, r.path, r.step, r.status
            )
        })
        .collect()
}

/// The reason of a Task's `Succeeded` condition.
pub fn outcome_reason(status: &Value) -> Option<&str> {
    status
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| str_at(c, "/type") == Some("Succeeded")))
        .and_then(|c| str_at(c, "/reason"))
}
