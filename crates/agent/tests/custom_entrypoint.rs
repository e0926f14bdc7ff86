//! The runner with a custom agent executable (`spec.image` on the local backend), and the
//! runner's own failures. No agent CLI needed.
//!
//! Why: a custom agent gets the same contract as the built-in ones (the prompt in a read-only
//! `AXON_PROMPT_FILE`, and as `$1` up to 100 KiB; results from git and from its stream when it
//! speaks a known format), everything it started is killed when it exits, and a runner that
//! cannot start the agent says why in the results document, exits 2, and leaks no secret.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axon_agent::{AgentError, AgentRunArgs, run_with_output};
use axon_core::results::ResultsDocument;
use axon_testsupport::git_server::{GIT_EMAIL, GIT_NAME, GitServer};

struct Fixture {
    tmp: tempfile::TempDir,
    home: PathBuf,
    work: PathBuf,
    results: PathBuf,
    git: GitServer,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::write(
            home.join(".gitconfig"),
            format!("[user]\n\tname = {GIT_NAME}\n\temail = {GIT_EMAIL}\n"),
        )
        .expect("gitconfig");
        let git = GitServer::start().expect("git server");
        let ok = std::process::Command::new("git")
            .args(["clone", "--quiet", &git.url()])
            .arg(&work)
            .env("HOME", &home)
            .status()
            .expect("clone")
            .success();
        assert!(ok, "clone");
        let results = tmp.path().join("results.json");
        Fixture {
            tmp,
            home,
            work,
            results,
            git,
        }
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.tmp.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    fn env(&self, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", self.home.display().to_string()),
            ("AXON_BASE_BRANCH", "main".into()),
            ("AXON_RESULTS_FILE", self.results.display().to_string()),
            ("ANTHROPIC_API_KEY", "sk-ant-very-secret-value".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        env
    }

    async fn run(
        &self,
        entrypoint: Option<&Path>,
        env: BTreeMap<String, String>,
    ) -> (Result<i32, AgentError>, String, String) {
        self.run_args(AgentRunArgs {
            prompt: Some("do the custom thing".into()),
            entrypoint: entrypoint.map(Path::to_path_buf),
            env: Some(env),
            ..Default::default()
        })
        .await
    }

    async fn run_args(&self, args: AgentRunArgs) -> (Result<i32, AgentError>, String, String) {
        let args = AgentRunArgs {
            workdir: Some(self.work.clone()),
            ..args
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = tokio::time::timeout(
            Duration::from_secs(120),
            run_with_output(args, &mut out, &mut err),
        )
        .await
        .expect("runner finishes");
        (
            result,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    fn doc(&self) -> ResultsDocument {
        let text = std::fs::read_to_string(&self.results).expect("results written");
        assert!(
            !text.contains("very-secret"),
            "no secret in the results: {text}"
        );
        serde_json::from_str(&text).expect("json")
    }
}

#[tokio::test]
async fn custom_agent_gets_the_prompt_and_its_work_is_recorded() {
    let fx = Fixture::new();
    let agent = fx.script(
        "agent.sh",
        r#"set -e
printf '%s\n' "$1" > prompt.txt
git checkout -q -b axon/custom
git add prompt.txt
git commit -q -m "custom agent"
git push -q origin axon/custom
echo "working, key is $ANTHROPIC_API_KEY"
echo '{"type":"result","subtype":"success","is_error":false,"result":"custom done","num_turns":1,"total_cost_usd":0.5,"usage":{"input_tokens":7,"output_tokens":3}}'
"#,
    );
    let (result, stdout, stderr) = fx
        .run(Some(&agent), fx.env(&[("AXON_AGENT_TYPE", "claude-code")]))
        .await;
    assert_eq!(result.expect("runner ok"), 0, "{stderr}");
    assert!(
        stdout.contains("working, key is ***"),
        "secrets redacted from the log: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(fx.work.join("prompt.txt")).expect("prompt file"),
        "do the custom thing\n"
    );
    let doc = fx.doc();
    assert_eq!(doc.agent_type.as_deref(), Some("custom"));
    assert!(doc.success, "{doc:?}");
    assert_eq!(doc.branch.as_deref(), Some("axon/custom"));
    assert_eq!(doc.commits.len(), 1);
    assert!(doc.pushed);
    assert_eq!(
        fx.git.commits("axon/custom").first().map(|c| c.sha.clone()),
        doc.commits.first().cloned()
    );
    assert_eq!(doc.final_answer.as_deref(), Some("custom done"));
    assert_eq!(
        doc.usage
            .as_ref()
            .map(|u| (u.input_tokens, u.output_tokens, u.cost_usd))
            .expect("usage"),
        (7, 3, Some(0.5))
    );
}

#[tokio::test]
async fn custom_agent_failure_is_an_agent_failure() {
    let fx = Fixture::new();
    let agent = fx.script(
        "agent.sh",
        "echo 'plain text, no JSON'\necho 'could not reach the model' >&2\nexit 3\n",
    );
    let (result, _, _) = fx.run(Some(&agent), fx.env(&[])).await;
    assert_eq!(result.expect("runner ok"), 1);
    let doc = fx.doc();
    assert!(!doc.success);
    assert_eq!(doc.exit_code, Some(3));
    assert_eq!(
        doc.failure_reason.as_deref(),
        Some("agent.sh exited with code 3: could not reach the model")
    );
    assert!(doc.commits.is_empty() && !doc.pushed);
}

#[tokio::test]
async fn processes_left_behind_are_killed() {
    let fx = Fixture::new();
    let pid_file = fx.tmp.path().join("bg.pid");
    let agent = fx.script(
        "agent.sh",
        &format!(
            "sleep 600 &\necho $! > {}\necho started\nexit 0\n",
            pid_file.display()
        ),
    );
    let started = std::time::Instant::now();
    let (result, stdout, _) = fx.run(Some(&agent), fx.env(&[])).await;
    assert_eq!(result.expect("runner ok"), 0);
    assert!(stdout.contains("started"), "{stdout}");
    // The background process holds the agent's stdout: the run can only end before the
    // runner's drain deadline (10 s) if the process group was killed.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let pid = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .to_string();
    // It is dying: gone, or a zombie waiting for init to reap it (polled: SIGKILL is
    // delivered asynchronously).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        if matches!(state, None | Some('Z' | 'X')) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "background process {pid} still running: {stat}"
        );
        std::thread::yield_now();
    }
}

#[tokio::test]
async fn a_missing_cli_is_a_runner_failure_with_a_results_document() {
    let fx = Fixture::new();
    let empty = fx.tmp.path().join("no-clis");
    std::fs::create_dir_all(&empty).expect("dir");
    let env = fx.env(&[
        ("AXON_AGENT_TYPE", "claude-code"),
        ("AXON_AGENT_BIN_DIR", &empty.display().to_string()),
    ]);
    let (result, _, _) = fx.run(None, env).await;
    let err = result.expect_err("runner error");
    assert!(matches!(err, AgentError::CliNotFound { .. }), "{err}");
    let doc = fx.doc();
    assert!(!doc.success);
    assert_eq!(doc.agent_type.as_deref(), Some("claude-code"));
    let reason = doc.failure_reason.unwrap_or_default();
    assert!(
        reason.contains("`claude` not found") && reason.contains("AXON_AGENT_BIN_DIR"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_bad_environment_is_a_runner_failure() {
    let fx = Fixture::new();
    let (result, _, _) = fx.run(None, fx.env(&[("AXON_AGENT_TYPE", "cursor")])).await;
    let err = result.expect_err("runner error");
    assert!(err.to_string().contains("AXON_AGENT_TYPE"), "{err}");
    assert!(
        fx.doc()
            .failure_reason
            .unwrap_or_default()
            .contains("cursor")
    );
}

#[tokio::test]
async fn render_mode_writes_readable_logs() {
    let fx = Fixture::new();
    let agent = fx.script(
        "agent.sh",
        r#"echo '{"type":"step_start","part":{"type":"step-start"}}'
echo '{"type":"tool_use","part":{"type":"tool","tool":"bash","state":{"status":"completed","input":{"command":"make test"},"output":"ok"}}}'
echo '{"type":"text","part":{"type":"text","text":"All green."}}'
echo '{"type":"step_finish","part":{"type":"step-finish","cost":0.01,"tokens":{"input":10,"output":5}}}'
"#,
    );
    let args = AgentRunArgs {
        prompt: Some("p".into()),
        prompt_file: None,
        entrypoint: Some(agent),
        render: true,
        workdir: Some(fx.work.clone()),
        env: Some(fx.env(&[("AXON_AGENT_TYPE", "opencode")])),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with_output(args, &mut out, &mut err)
        .await
        .expect("runner ok");
    assert_eq!(code, 0);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "── turn 1 ──\n→ bash: make test\nAll green.\n■ succeeded · 1 turn · 1 tool call · 10 in / 5 out tokens · $0.0100\n"
    );
    assert_eq!(fx.doc().usage.and_then(|u| u.cost_usd), Some(0.01));
}

/// A custom agent that records `$1`, its prompt file's path, mode and contents in the work tree.
const RECORDING_AGENT: &str = r#"set -e
printf '%s' "$1" > arg.txt
printf '%s' "$AXON_PROMPT_FILE" > where.txt
stat -c %a "$AXON_PROMPT_FILE" > mode.txt
cp "$AXON_PROMPT_FILE" copy.txt
"#;

/// A prompt of exactly `len` bytes with newlines, quotes and non-ASCII text, ending in `tail`.
fn large_prompt(len: usize, tail: &str) -> String {
    let line = "«Do the custom thing» with \"quotes\", a \\ backslash and a\ttab — naïve.\n";
    let mut prompt = line.repeat((len - tail.len()) / line.len());
    prompt.push_str(&"x".repeat(len - tail.len() - prompt.len()));
    prompt.push_str(tail);
    assert_eq!(prompt.len(), len);
    prompt
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn a_10_mib_prompt_reaches_a_custom_agent_through_its_prompt_file() {
    let fx = Fixture::new();
    let agent = fx.script("agent.sh", RECORDING_AGENT);
    let prompt = large_prompt(10 * 1024 * 1024, "AXON-CUSTOM-TAIL");
    let prompt_file = fx.tmp.path().join("prompt.md");
    std::fs::write(&prompt_file, &prompt).expect("prompt file");
    // As the drivers hand it over: AXON_PROMPT_FILE, no argument.
    let prompt_env = prompt_file.display().to_string();
    let (result, _, stderr) = fx
        .run_args(AgentRunArgs {
            entrypoint: Some(agent),
            env: Some(fx.env(&[("AXON_PROMPT_FILE", &prompt_env)])),
            ..Default::default()
        })
        .await;
    assert_eq!(result.expect("runner ok"), 0, "{stderr}");
    assert!(fx.doc().success);
    assert_eq!(
        read(fx.work.join("arg.txt")),
        "",
        "$1 is empty over 100 KiB"
    );
    assert!(
        read(fx.work.join("copy.txt")) == prompt,
        "the file holds the whole prompt"
    );
    assert_eq!(read(fx.work.join("mode.txt")).trim(), "444", "read-only");
    let copy = PathBuf::from(read(fx.work.join("where.txt")));
    assert_ne!(copy, prompt_file, "the agent gets its own copy");
    assert!(!copy.exists(), "the copy is removed after the run");
}

#[tokio::test]
async fn a_small_prompt_is_both_the_argument_and_the_prompt_file() {
    let fx = Fixture::new();
    let agent = fx.script("agent.sh", RECORDING_AGENT);
    let prompt = large_prompt(100 * 1024, "TAIL");
    let (result, _, stderr) = fx
        .run_args(AgentRunArgs {
            prompt: Some(prompt.clone()),
            entrypoint: Some(agent),
            env: Some(fx.env(&[])),
            ..Default::default()
        })
        .await;
    assert_eq!(result.expect("runner ok"), 0, "{stderr}");
    assert!(read(fx.work.join("arg.txt")) == prompt, "$1 up to 100 KiB");
    assert!(read(fx.work.join("copy.txt")) == prompt);
}

#[tokio::test]
async fn a_prompt_over_10_mib_is_a_runner_failure_naming_the_limit() {
    let fx = Fixture::new();
    let agent = fx.script("agent.sh", "touch ran\n");
    let prompt_file = fx.tmp.path().join("prompt.md");
    std::fs::write(&prompt_file, "a".repeat(10 * 1024 * 1024 + 1)).expect("prompt file");
    let (result, _, _) = fx
        .run_args(AgentRunArgs {
            prompt_file: Some(prompt_file),
            entrypoint: Some(agent),
            env: Some(fx.env(&[])),
            ..Default::default()
        })
        .await;
    let err = result.expect_err("runner error");
    assert!(matches!(err, AgentError::PromptTooLarge { .. }), "{err}");
    let reason = fx.doc().failure_reason.unwrap_or_default();
    assert!(
        reason.contains("10 MiB") && reason.contains("--prompt-file"),
        "{reason}"
    );
    assert!(!fx.work.join("ran").exists(), "the agent did not run");
}

#[tokio::test]
async fn no_prompt_at_all_is_a_runner_failure() {
    let fx = Fixture::new();
    let agent = fx.script("agent.sh", "touch ran\n");
    let (result, _, _) = fx
        .run_args(AgentRunArgs {
            entrypoint: Some(agent),
            env: Some(fx.env(&[])),
            ..Default::default()
        })
        .await;
    let err = result.expect_err("runner error");
    assert!(err.to_string().contains("--prompt-file"), "{err}");
    assert!(!fx.work.join("ran").exists(), "the agent did not run");
}
