//! The real agent CLIs against the fake model server and the git server, offline.
//!
//! Why: proves that [`FakeModelServer`] speaks each vendor's wire format well enough that the
//! unmodified `claude`, `codex`, `gemini` and `opencode` binaries run a scripted task end to
//! end: their own tools write a file, commit, and push to a `git daemon` on 127.0.0.1; and that
//! a scripted API error makes each CLI fail. No Axon code is involved, so the configuration
//! below is the minimal working one per CLI, and the agent adapters reuse it (summary in
//! `crates/testsupport/CLI-NOTES.md`).
//!
//! The binaries are found in `$AXON_AGENT_BIN_DIR` (default
//! `/root/.cache/axon-ci/agents/node_modules/.bin`). A missing binary fails the test, unless
//! `AXON_SKIP_AGENT_CLIS=1`.
//!
//! Per CLI, what it needs to run headless and offline (everything else in the environment is
//! cleared; `HOME` is a fresh directory with a `.gitconfig` holding a user name and email):
//!
//! **Claude Code** (`claude -p PROMPT --output-format stream-json --verbose
//! --dangerously-skip-permissions --model MODEL`): env `ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`,
//! `ANTHROPIC_API_KEY=<anything>`, `CLAUDE_CONFIG_DIR=$HOME/.claude`, `IS_SANDBOX=1` (needed as
//! root with `--dangerously-skip-permissions`), `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`,
//! `DISABLE_AUTOUPDATER=1`, `DISABLE_TELEMETRY=1`, `DISABLE_ERROR_REPORTING=1`,
//! `CLAUDE_CODE_MAX_RETRIES=0`.
//!
//! **Codex** (`codex exec --json --dangerously-bypass-approvals-and-sandbox -m MODEL PROMPT`):
//! env `CODEX_HOME=$HOME/.codex`, `OPENAI_API_KEY=<anything>`, and `$CODEX_HOME/config.toml` as
//! written by [`codex_config`].
//!
//! **Gemini CLI** (`gemini -p PROMPT --output-format stream-json --yolo -m MODEL`): env
//! `GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT`, `GEMINI_API_KEY=<anything>`, and
//! `$HOME/.gemini/settings.json` as written by [`gemini_settings`].
//!
//! **OpenCode** (`opencode run --format json -m fake/MODEL PROMPT`): env
//! `OPENCODE_CONFIG_CONTENT` as written by [`opencode_config`], the `OPENCODE_DISABLE_*`
//! switches, and `npm_config_registry` pointing at a closed loopback port.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use axon_testsupport::git_server::{GIT_EMAIL, GIT_NAME, GitServer};
use axon_testsupport::model_server::{FakeModelServer, RecordedRequest, Script};

const BRANCH: &str = "axon/test";
const FILE: &str = "hello.txt";
const CONTENT: &str = "hello from the scripted model\n";
const PROMPT: &str = "Write hello.txt, commit it and push it.";
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

fn bin_dir() -> PathBuf {
    std::env::var_os("AXON_AGENT_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/axon-ci/agents/node_modules/.bin"))
}

/// The CLI's path, or `None` when it is missing and `AXON_SKIP_AGENT_CLIS=1`.
fn agent_bin(name: &str) -> Option<PathBuf> {
    let path = bin_dir().join(name);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("AXON_SKIP_AGENT_CLIS").as_deref() == Ok("1") {
        eprintln!(
            "skipping: {} not found and AXON_SKIP_AGENT_CLIS=1",
            path.display()
        );
        return None;
    }
    panic!(
        "agent CLI `{name}` not found at {} (set AXON_AGENT_BIN_DIR, install the pinned CLIs as \
         .ci/run does, or set AXON_SKIP_AGENT_CLIS=1 to skip)",
        path.display()
    );
}

/// A work tree cloned from a fresh git server, an isolated HOME and a fake model server.
struct Fixture {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    work: PathBuf,
    git: GitServer,
    model: FakeModelServer,
}

impl Fixture {
    fn new(script: Script) -> Fixture {
        // Not under /tmp: Codex refuses to create its helper links below a temporary directory.
        let tmp = tempfile::Builder::new()
            .prefix("agent-cli-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        let home = tmp.path().join("home");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::write(
            home.join(".gitconfig"),
            format!(
                "[user]\n\tname = {GIT_NAME}\n\temail = {GIT_EMAIL}\n[init]\n\tdefaultBranch = main\n"
            ),
        )
        .expect("gitconfig");
        let git = GitServer::start().expect("git server");
        let out = Command::new("git")
            .args(["clone", "--quiet", &git.url()])
            .arg(&work)
            .env("HOME", &home)
            .stdin(Stdio::null())
            .output()
            .expect("git clone");
        assert!(
            out.status.success(),
            "clone: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The identity goes into the clone's own config: Gemini CLI runs shell commands with
        // GIT_CONFIG_GLOBAL=/dev/null, so ~/.gitconfig is not seen there.
        for (key, value) in [("user.name", GIT_NAME), ("user.email", GIT_EMAIL)] {
            let out = Command::new("git")
                .args(["config", key, value])
                .current_dir(&work)
                .output()
                .expect("git config");
            assert!(out.status.success(), "git config {key}");
        }
        let model = FakeModelServer::start(script).expect("model server");
        Fixture {
            _tmp: tmp,
            home,
            work,
            git,
            model,
        }
    }

    /// A command for `bin` in the work tree, with a cleared environment.
    fn command(&self, bin: &Path) -> Command {
        let mut cmd = Command::new(bin);
        cmd.current_dir(&self.work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .env("TERM", "dumb")
            .env("NO_COLOR", "1");
        cmd
    }

    fn assert_pushed(&self, run: &Run) {
        assert!(
            run.status.success(),
            "CLI failed with {}\n{}",
            run.status,
            run.transcript()
        );
        assert_eq!(
            std::fs::read_to_string(self.work.join(FILE))
                .ok()
                .as_deref(),
            Some(CONTENT),
            "file in the work tree\n{}",
            run.transcript()
        );
        assert!(
            self.git.branches().contains(&BRANCH.to_string()),
            "branch {BRANCH} pushed; branches: {:?}\n{}",
            self.git.branches(),
            run.transcript()
        );
        assert_eq!(self.git.file_at(BRANCH, FILE).as_deref(), Some(CONTENT));
        let commits = self.git.commits(BRANCH);
        assert_eq!(commits.len(), 2, "seed + agent commit: {commits:?}");
        assert_eq!(commits[0].subject, format!("Add {FILE}"));
    }

    fn assert_model(&self, model: &str) -> Vec<RecordedRequest> {
        let main = self.model.main_requests();
        assert!(
            !main.is_empty(),
            "no main-conversation request: {:?}",
            self.model.requests()
        );
        for r in &main {
            assert_eq!(
                r.model.as_deref(),
                Some(model),
                "model of {} {}",
                r.method,
                r.path
            );
        }
        main
    }
}

fn script() -> Script {
    Script::write_commit_push(FILE, CONTENT, BRANCH, "done")
}

fn error_script() -> Script {
    Script::new().api_error(400, "scripted failure: model is on strike")
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn transcript(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(20000);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0);
    &s[start..]
}

/// Runs `cmd` with stdin closed, killing it after [`RUN_TIMEOUT`].
fn run(mut cmd: Command) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn CLI");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait CLI") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let status = child.wait().expect("wait killed CLI");
            let stdout = out_thread.join().unwrap_or_default();
            let stderr = err_thread.join().unwrap_or_default();
            panic!(
                "CLI timed out after {RUN_TIMEOUT:?} ({status})\n{}",
                Run {
                    status,
                    stdout,
                    stderr
                }
                .transcript()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    }
}

/// Builds the command that runs one CLI in a [`Fixture`].
type BuildCmd = fn(&Fixture, &Path) -> Command;

/// Runs CLI `name` (built by `build`) on the write-commit-push script and asserts the push;
/// `None` when the CLI is skipped.
fn pushed_run(name: &str, build: BuildCmd) -> Option<(Fixture, Run)> {
    let bin = agent_bin(name)?;
    let fx = Fixture::new(script());
    let run = run(build(&fx, &bin));
    fx.assert_pushed(&run);
    Some((fx, run))
}

/// Runs CLI `name` (built by `build`) on the API-error script and asserts that it fails;
/// `None` when the CLI is skipped.
fn api_error_run(name: &str, build: BuildCmd) -> Option<Run> {
    let bin = agent_bin(name)?;
    let fx = Fixture::new(error_script());
    let run = run(build(&fx, &bin));
    assert!(
        !run.status.success(),
        "CLI should fail\n{}",
        run.transcript()
    );
    Some(run)
}

/// The JSON events of a `--json` / `stream-json` stream (one object a line).
fn jsonl(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

/// The last event of type `ty`.
fn last_event<'a>(events: &'a [serde_json::Value], ty: &str) -> Option<&'a serde_json::Value> {
    events.iter().rfind(|e| e["type"] == ty)
}

/// Asserts that the scripted API error's message reached `output`.
fn assert_reports_strike(output: &str, run: &Run) {
    assert!(
        output.contains("model is on strike"),
        "{}",
        run.transcript()
    );
}

// ---------------------------------------------------------------- Claude Code

const CLAUDE_MODEL: &str = "claude-sonnet-4-5";

fn claude(fx: &Fixture, bin: &Path) -> Command {
    let mut cmd = fx.command(bin);
    cmd.args([
        "-p",
        PROMPT,
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
        "--model",
        CLAUDE_MODEL,
    ])
    .env("ANTHROPIC_BASE_URL", fx.model.base_url())
    .env("ANTHROPIC_API_KEY", "sk-ant-fake-key")
    .env("CLAUDE_CONFIG_DIR", fx.home.join(".claude"))
    .env("IS_SANDBOX", "1")
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .env("DISABLE_AUTOUPDATER", "1")
    .env("DISABLE_TELEMETRY", "1")
    .env("DISABLE_ERROR_REPORTING", "1")
    .env("CLAUDE_CODE_MAX_RETRIES", "0");
    cmd
}

/// The `{"type":"result"}` line of a Claude Code stream.
fn claude_result(stdout: &str) -> Option<serde_json::Value> {
    last_event(&jsonl(stdout), "result").cloned()
}

#[test]
fn claude_code_writes_commits_and_pushes() {
    let Some((fx, run)) = pushed_run("claude", claude) else {
        return;
    };
    let main = fx.assert_model(CLAUDE_MODEL);
    assert!(main.iter().any(|r| r.tools.iter().any(|t| t == "Write")));
    assert!(main[0].system.contains("Claude"), "system prompt recorded");
    let result = claude_result(&run.stdout).expect("result line");
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["result"], "done");
    assert!(
        result["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0,
        "{result}"
    );
}

#[test]
fn claude_code_reports_api_error() {
    let Some(run) = api_error_run("claude", claude) else {
        return;
    };
    let result = claude_result(&run.stdout).expect("result line");
    assert_eq!(result["is_error"], true, "{result}");
    assert_reports_strike(&run.stdout, &run);
}

// ---------------------------------------------------------------- Codex

const CODEX_MODEL: &str = "gpt-5.5";

/// `$CODEX_HOME/config.toml` for a provider at `base_url` (`http://127.0.0.1:PORT`).
fn codex_config(base_url: &str) -> String {
    format!(
        r#"model = "{CODEX_MODEL}"
model_provider = "fake"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[features]
plugins = false
unbounded_connection_retries = false

[model_providers.fake]
name = "fake"
base_url = "{base_url}/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"#
    )
}

fn codex(fx: &Fixture, bin: &Path) -> Command {
    let codex_home = fx.home.join(".codex");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    std::fs::write(
        codex_home.join("config.toml"),
        codex_config(&fx.model.base_url()),
    )
    .expect("codex config");
    let mut cmd = fx.command(bin);
    cmd.args([
        "exec",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "-m",
        CODEX_MODEL,
        PROMPT,
    ])
    .env("CODEX_HOME", &codex_home)
    .env("OPENAI_API_KEY", "sk-fake-key");
    cmd
}

#[test]
fn codex_writes_commits_and_pushes() {
    let Some((fx, run)) = pushed_run("codex", codex) else {
        return;
    };
    fx.assert_model(CODEX_MODEL);
    let events = jsonl(&run.stdout);
    let completed = last_event(&events, "turn.completed").expect("turn.completed");
    assert!(
        completed["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0,
        "{completed}"
    );
    let answer = events
        .iter()
        .rfind(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .expect("agent_message");
    assert_eq!(answer["item"]["text"], "done");
}

#[test]
fn codex_reports_api_error() {
    let Some(run) = api_error_run("codex", codex) else {
        return;
    };
    let events = jsonl(&run.stdout);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "turn.failed" || e["type"] == "error"),
        "{}",
        run.transcript()
    );
    assert_reports_strike(&run.stdout, &run);
}

// ---------------------------------------------------------------- Gemini CLI

const GEMINI_MODEL: &str = "gemini-2.5-pro";

/// `~/.gemini/settings.json`: API-key auth, no folder-trust prompt, no telemetry or update
/// checks, one attempt per request.
fn gemini_settings() -> serde_json::Value {
    serde_json::json!({
        "security": {
            "auth": {"selectedType": "gemini-api-key"},
            "folderTrust": {"enabled": false}
        },
        "privacy": {"usageStatisticsEnabled": false},
        "telemetry": {"enabled": false},
        "general": {
            "enableAutoUpdate": false,
            "enableAutoUpdateNotification": false,
            "disableAutoUpdate": true,
            "disableUpdateNag": true,
            "maxAttempts": 1
        }
    })
}

fn gemini(fx: &Fixture, bin: &Path) -> Command {
    let dir = fx.home.join(".gemini");
    std::fs::create_dir_all(&dir).expect("gemini dir");
    std::fs::write(dir.join("settings.json"), gemini_settings().to_string()).expect("settings");
    let mut cmd = fx.command(bin);
    cmd.args([
        "-p",
        PROMPT,
        "--output-format",
        "stream-json",
        "--yolo",
        "-m",
        GEMINI_MODEL,
    ])
    .env("GOOGLE_GEMINI_BASE_URL", fx.model.base_url())
    .env("GEMINI_API_KEY", "fake-gemini-key");
    cmd
}

#[test]
fn gemini_writes_commits_and_pushes() {
    let Some((fx, run)) = pushed_run("gemini", gemini) else {
        return;
    };
    fx.assert_model(GEMINI_MODEL);
    let events = jsonl(&run.stdout);
    let result = last_event(&events, "result").expect("result event");
    assert_eq!(result["status"], "success", "{result}");
}

#[test]
fn gemini_reports_api_error() {
    let Some(run) = api_error_run("gemini", gemini) else {
        return;
    };
    assert_reports_strike(&format!("{}{}", run.stdout, run.stderr), &run);
}

// ---------------------------------------------------------------- OpenCode

const OPENCODE_MODEL: &str = "fake-model";

/// `OPENCODE_CONFIG_CONTENT`: one `@ai-sdk/openai-compatible` provider `fake` at the server,
/// used for both the main and the small (title) model; no autoupdate, no sharing.
fn opencode_config(base_url: &str) -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": false,
        "share": "disabled",
        "model": format!("fake/{OPENCODE_MODEL}"),
        "small_model": format!("fake/{OPENCODE_MODEL}"),
        "provider": {
            "fake": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": format!("{base_url}/v1"), "apiKey": "fake-key"},
                "models": {OPENCODE_MODEL: {"name": "Fake model"}}
            }
        }
    })
}

/// A loopback port nobody listens on: connections to it are refused at once.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port()
}

fn opencode(fx: &Fixture, bin: &Path) -> Command {
    let mut cmd = fx.command(bin);
    cmd.args([
        "run",
        "--format",
        "json",
        "-m",
        &format!("fake/{OPENCODE_MODEL}"),
        PROMPT,
    ])
    .env(
        "OPENCODE_CONFIG_CONTENT",
        opencode_config(&fx.model.base_url()).to_string(),
    )
    .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
    .env("OPENCODE_DISABLE_SHARE", "1")
    .env("OPENCODE_DISABLE_LSP_DOWNLOAD", "1")
    .env("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1")
    .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
    .env("OPENCODE_DISABLE_CLAUDE_CODE", "1")
    .env("OPENCODE_DISABLE_TERMINAL_TITLE", "1")
    .env(
        "npm_config_registry",
        format!("http://127.0.0.1:{}/", closed_port()),
    );
    cmd
}

#[test]
fn opencode_writes_commits_and_pushes() {
    let Some((fx, run)) = pushed_run("opencode", opencode) else {
        return;
    };
    fx.assert_model(OPENCODE_MODEL);
    let events = jsonl(&run.stdout);
    let output_tokens: u64 = events
        .iter()
        .filter(|e| e["type"] == "step_finish")
        .filter_map(|e| e["part"]["tokens"]["output"].as_u64())
        .sum();
    assert_eq!(
        output_tokens,
        3 * 20,
        "three main steps\n{}",
        run.transcript()
    );
    let text = last_event(&events, "text").expect("text event");
    assert_eq!(text["part"]["text"], "done");
}

#[test]
fn opencode_reports_api_error() {
    let Some(run) = api_error_run("opencode", opencode) else {
        return;
    };
    assert_reports_strike(&format!("{}{}", run.stdout, run.stderr), &run);
}
