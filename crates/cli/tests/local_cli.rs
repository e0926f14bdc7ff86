//! The local backend end to end through the real `axon` binary: a temp AXON_HOME, a bare repo
//! served by `git daemon` on 127.0.0.1, and a custom agent (a shell script given with
//! `--image`) run by `axon agent run --entrypoint` inside bubblewrap, which edits a file,
//! commits on a new branch and pushes.

use assert_cmd::Command;
use axon_testsupport::git_server::GitServer;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SECRET_VALUE: &str = "sk-cli-VERY-secret-9191";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("axon-cli-local-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("scratch");
        std::fs::create_dir_all(dir.path().join("user-home")).expect("home");
        std::fs::write(dir.path().join("config.yaml"), "backend: local\n").expect("config");
        Env { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("axon-home")
    }

    fn axon(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        Command::new(env!("CARGO_BIN_EXE_axon"))
            .args(args)
            .env("AXON_HOME", self.home())
            .env("HOME", self.dir.path().join("user-home"))
            .env("AXON_CONFIG", self.dir.path().join("config.yaml"))
            .env("AXON_BACKEND", "local")
            .timeout(std::time::Duration::from_secs(120))
            .assert()
    }

    fn agent(&self, body: &str) -> PathBuf {
        let p = self.dir.path().join("agent.sh");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("agent");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Stop an engine a failed test left behind.
        if let Some(pid) = std::fs::read_to_string(self.home().join("engine.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|p| *p > 1)
        {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
    }
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).to_string()
}

fn contains_secret(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(SECRET_VALUE))
}

#[test]
fn run_a_custom_agent_that_pushes() {
    let env = Env::new();
    let git = GitServer::start().expect("git daemon");
    let agent = env.agent(
        r#"set -e
test -n "$ANTHROPIC_API_KEY"
echo "custom agent at work: $1"
git checkout -q -b "axon/$AXON_TASK"
echo "$1" > agent.txt
git add agent.txt
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm "agent: $1"
git push -q origin "axon/$AXON_TASK""#,
    );
    env.axon(&[
        "create",
        "secret",
        "key",
        "--from-literal",
        &format!("ANTHROPIC_API_KEY={SECRET_VALUE}"),
    ])
    .success();
    env.axon(&[
        "create",
        "workspace",
        "ws",
        "--repo",
        &git.url(),
        "--ref",
        "main",
    ])
    .success();
    env.axon(&[
        "run",
        "-p",
        "say hello",
        "--name",
        "push",
        "--workspace",
        "ws",
        "--secret",
        "key",
        "--image",
        &agent.to_string_lossy(),
        "-w",
    ])
    .success();

    let get = env.axon(&["get", "tasks", "push", "-o", "yaml"]).success();
    let yaml = stdout(&get);
    assert!(yaml.contains("phase: Succeeded"), "{yaml}");
    assert!(yaml.contains("branch: axon/push"), "{yaml}");
    assert!(!yaml.contains(SECRET_VALUE));
    let commits = git.commits("axon/push");
    assert!(yaml.contains(&commits[0].sha), "{yaml}");
    assert_eq!(
        git.file_at("axon/push", "agent.txt").as_deref(),
        Some("say hello\n")
    );

    let logs = env.axon(&["logs", "push"]).success();
    let logs = stdout(&logs);
    assert!(logs.contains("custom agent at work: say hello"), "{logs}");
    assert!(!logs.contains(SECRET_VALUE));
    for f in ["axon.db", "axon.db-wal"] {
        assert!(!contains_secret(&env.home().join(f)), "{f}");
    }

    env.axon(&["delete", "task", "push"]).success();
    let gone = env.axon(&["get", "tasks", "-o", "json"]).success();
    assert!(!stdout(&gone).contains("\"push\""));
}
