//! Each of the four REAL agent CLIs, run as a Task through the local backend (`axon` binary,
//! SQLite store, bubblewrap sandbox) against the scripted fake model server and a git daemon on
//! 127.0.0.1: the agent writes a file, commits on a new branch and pushes; status shows the
//! branch, the commit and token usage; the AgentConfig instructions reach the model; an API
//! error fails the Task with a reason naming it; the credential never shows up in output.
//!
//! Every model call goes through the Task's Axon gateway: the model server sees the real key
//! (never the agent's gateway token), and the usage in status is what the gateway measured on
//! the server's answers, exactly.

mod agent_clis;
mod support;

use agent_clis::{
    AGENTS, Agent, BRANCH, CONTENT, FILE, assert_measured, bin_dir, have_cli, outcome_reason,
    push_script, served,
};
use axon_testsupport::git_server::GitServer;
use axon_testsupport::model_server::{FakeModelServer, Script};
use serde_json::Value;
use std::time::Duration;
use support::{Env, str_at};

/// Text of the AgentConfig instructions, looked for in the model's requests.
const MARKER: &str = "AXON-LOCAL-INSTRUCTIONS-MARKER";

/// A fresh harness whose commands find the agent CLIs.
fn env() -> Env {
    Env::builder("agents-local")
        .agent_bin_dir(bin_dir())
        .timeout(Duration::from_secs(240))
        .build()
}

fn run_task(
    env: &Env,
    agent: &Agent,
    git: &GitServer,
    model: &FakeModelServer,
    name: &str,
) -> (bool, Value, String) {
    env.create_secret("agent-key", agent.key, agent.secret_value);
    env.create_workspace("repo", &git.url());
    let out = env
        .axon()
        .args([
            "run",
            "--name",
            name,
            "-t",
            agent.type_,
            "--model",
            agent.model,
            "--secret",
            "agent-key",
        ])
        .args(["--workspace", "repo", "--model-base-url", &model.base_url()])
        .args(["--agents-md", &format!("{MARKER}: keep commits small.")])
        .args([
            "--env",
            "AXON_MODEL_MAX_RETRIES=0",
            "--env",
            "npm_config_registry=http://127.0.0.1:9/",
        ])
        .args([
            "-p",
            "Write the note, commit it on a new branch and push it.",
            "--wait",
        ])
        .output()
        .expect("axon run");
    let status = env.task(name).expect("task");
    let logs = env.ok(&["logs", name])
        + &env.ok(&["logs", name, "--raw"])
        + &env.ok(&["get", "task", name, "-o", "yaml"]);
    let transcript = format!(
        "run stdout: {}\nrun stderr: {}\nstatus: {status:#}\nlogs:\n{logs}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !logs.contains(agent.secret_value),
        "the credential leaked:\n{transcript}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(agent.secret_value));
    (out.status.success(), status, transcript)
}

fn pushes(agent: &Agent) {
    if !have_cli(agent.cli) {
        return;
    }
    let env = env();
    let git = GitServer::start().expect("git server");
    let script = push_script();
    let model = FakeModelServer::start(script).expect("model server");
    let (ok, status, t) = run_task(&env, agent, &git, &model, "push-task");
    assert!(ok, "{t}");
    assert_eq!(str_at(&status, "/status/phase"), Some("Succeeded"), "{t}");
    assert_eq!(
        str_at(&status, "/status/outputs/branch"),
        Some(BRANCH),
        "{t}"
    );
    assert_eq!(
        status.pointer("/status/outputs/pushed"),
        Some(&Value::Bool(true)),
        "{t}"
    );
    let pushed = git.commits(BRANCH);
    assert_eq!(
        str_at(&status, "/status/outputs/commits/0"),
        pushed.first().map(|c| c.sha.as_str()),
        "{t}"
    );
    assert_eq!(git.file_at(BRANCH, FILE).as_deref(), Some(CONTENT), "{t}");
    assert_measured(agent, &status, &model, &t);
    assert!(
        model.main_requests().iter().any(|r| r.mentions(MARKER)),
        "instructions did not reach the model\n{t}"
    );
    assert!(
        model
            .main_requests()
            .iter()
            .all(|r| r.model.as_deref().is_some_and(|m| m.contains(agent.model))),
        "{t}"
    );
}

fn api_error_fails(agent: &Agent) {
    if !have_cli(agent.cli) {
        return;
    }
    let env = env();
    let git = GitServer::start().expect("git server");
    let model = FakeModelServer::start(
        Script::new().api_error(400, "scripted failure: the model is on strike"),
    )
    .expect("model");
    let (ok, status, t) = run_task(&env, agent, &git, &model, "error-task");
    assert!(!ok, "--wait must exit non-zero for a failed Task\n{t}");
    assert_eq!(str_at(&status, "/status/phase"), Some("Failed"), "{t}");
    let message = str_at(&status, "/status/message").unwrap_or_default();
    assert!(
        message.contains("on strike"),
        "the reason must name the API error: {message}\n{t}"
    );
}

/// `maxTurns: 1` on a three-step script: the first answer (write the file) is served, the
/// gateway refuses the second call, Axon stops the agent, saves the work tree on the Task's
/// WIP branch from outside and pushes it, and the Task fails with `BudgetExceeded`.
fn budget_stops(agent: &Agent) {
    if !have_cli(agent.cli) {
        return;
    }
    let env = env();
    let git = GitServer::start().expect("git server");
    let model = FakeModelServer::start(push_script()).expect("model server");
    env.create_secret("agent-key", agent.key, agent.secret_value);
    env.create_workspace("repo", &git.url());
    let name = "budget-task";
    // `maxTurns` counts model requests: OpenCode asks for a session title first.
    let turns = if agent.cli == "opencode" { 2 } else { 1 };
    let yaml = format!(
        "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata:\n  name: {name}\nspec:\n  type: {}\n  model: {}\n  prompt: Write the note, commit it on a new branch and push it.\n  credentials:\n    type: api-key\n    secretRef:\n      name: agent-key\n  workspaceRef:\n    name: repo\n  modelBaseURL: {}\n  budget:\n    maxTurns: {turns}\n  env:\n  - {{name: AXON_MODEL_MAX_RETRIES, value: '0'}}\n  - {{name: npm_config_registry, value: 'http://127.0.0.1:9/'}}\n",
        agent.type_,
        agent.model,
        model.base_url()
    );
    let file = env.root().join("budget.yaml");
    std::fs::write(&file, yaml).expect("yaml");
    env.ok(&["apply", "-f", &file.to_string_lossy()]);
    let mut status = Value::Null;
    support::until("the budget Task ends", || {
        status = env.task(name).unwrap_or(Value::Null);
        matches!(
            str_at(&status, "/status/phase"),
            Some("Failed" | "Succeeded")
        )
    });
    let t = format!(
        "{status:#}\n{}\nmodel requests:\n{}",
        env.ok(&["logs", name]),
        served(&model)
    );
    assert_eq!(str_at(&status, "/status/phase"), Some("Failed"), "{t}");
    let reason = outcome_reason(&status);
    assert_eq!(reason, Some("BudgetExceeded"), "{t}");
    let message = str_at(&status, "/status/message").unwrap_or_default();
    assert!(message.contains(&format!("maxTurns {turns}")), "{t}");
    let wip = format!("axon/wip/{name}");
    assert_eq!(
        str_at(&status, "/status/outputs/branch"),
        Some(wip.as_str()),
        "{t}"
    );
    assert_eq!(
        status.pointer("/status/outputs/pushed"),
        Some(&Value::Bool(true)),
        "{t}"
    );
    assert_eq!(git.file_at(&wip, FILE).as_deref(), Some(CONTENT), "{t}");
    assert_eq!(
        str_at(&status, "/status/usage/source"),
        Some("gateway"),
        "{t}"
    );
    assert_eq!(
        status
            .pointer("/status/usage/turns")
            .and_then(Value::as_u64),
        Some(turns),
        "{t}"
    );
}

#[test]
fn claude_code_budget_stops_and_saves_the_work() {
    budget_stops(&AGENTS[0]);
}

#[test]
fn codex_budget_stops_and_saves_the_work() {
    budget_stops(&AGENTS[1]);
}

#[test]
fn gemini_budget_stops_and_saves_the_work() {
    budget_stops(&AGENTS[2]);
}

#[test]
fn opencode_budget_stops_and_saves_the_work() {
    budget_stops(&AGENTS[3]);
}

#[test]
fn claude_code_pushes_through_the_local_backend() {
    pushes(&AGENTS[0]);
}

#[test]
fn codex_pushes_through_the_local_backend() {
    pushes(&AGENTS[1]);
}

#[test]
fn gemini_pushes_through_the_local_backend() {
    pushes(&AGENTS[2]);
}

#[test]
fn opencode_pushes_through_the_local_backend() {
    pushes(&AGENTS[3]);
}

#[test]
fn claude_code_api_error_fails_the_task() {
    api_error_fails(&AGENTS[0]);
}

#[test]
fn codex_api_error_fails_the_task() {
    api_error_fails(&AGENTS[1]);
}

#[test]
fn gemini_api_error_fails_the_task() {
    api_error_fails(&AGENTS[2]);
}

#[test]
fn opencode_api_error_fails_the_task() {
    api_error_fails(&AGENTS[3]);
}

/// Claude Code installed under the user's HOME (`~/.local/bin/claude`, a symlink into an npm
/// prefix, as `npm -g --prefix ~/.local` leaves it) is found on the host PATH and bound into
/// the sandbox with its runtime, without `AXON_AGENT_BIN_DIR`; its usage is measured.
#[test]
fn an_agent_cli_under_home_is_found_on_path() {
    let agent = &AGENTS[0];
    if !have_cli(agent.cli) {
        return;
    }
    let mut env = Env::builder("agents-path")
        .timeout(Duration::from_secs(240))
        .build();
    let local_bin = env.user_home().join(".local/bin");
    std::fs::create_dir_all(&local_bin).expect("~/.local/bin");
    let real = std::fs::canonicalize(bin_dir().join(agent.cli)).expect("the CLI");
    std::os::unix::fs::symlink(&real, local_bin.join(agent.cli)).expect("symlink");
    let path = format!(
        "{}:{}",
        local_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    env.set_env("PATH", path);
    let git = GitServer::start().expect("git server");
    let script = push_script();
    let model = FakeModelServer::start(script).expect("model server");
    let (ok, status, t) = run_task(&env, agent, &git, &model, "path-task");
    assert!(ok, "{t}");
    assert_eq!(str_at(&status, "/status/phase"), Some("Succeeded"), "{t}");
    assert_measured(agent, &status, &model, &t);
    assert_eq!(git.file_at(BRANCH, FILE).as_deref(), Some(CONTENT), "{t}");
}
