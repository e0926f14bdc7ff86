//! The local backend end to end through the real `axon` binary: a temp AXON_HOME, a bare repo
//! served by `git daemon` on 127.0.0.1, and a custom agent (a shell script given with
//! `--image`) run by `axon agent run --entrypoint` inside bubblewrap, which edits a file,
//! commits on a new branch and pushes.

mod support;

use axon_testsupport::git_server::GitServer;
use std::path::Path;
use std::time::Duration;

const SECRET_VALUE: &str = "sk-cli-VERY-secret-9191";

fn contains_secret(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(SECRET_VALUE))
}

#[test]
fn run_a_custom_agent_that_pushes() {
    let env = support::Env::builder("cli-local")
        .config("backend: local\n")
        .timeout(Duration::from_secs(120))
        .build();
    let git = GitServer::start().expect("git daemon");
    let agent = env.agent(
        "agent.sh",
        r#"set -e
test -n "$ANTHROPIC_API_KEY"
echo "custom agent at work: $1"
git checkout -q -b "axon/$AXON_TASK"
echo "$1" > agent.txt
git add agent.txt
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm "agent: $1"
git push -q origin "axon/$AXON_TASK""#,
    );
    env.create_secret("key", "ANTHROPIC_API_KEY", SECRET_VALUE);
    env.create_workspace("ws", &git.url());
    env.ok(&[
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
    ]);

    let yaml = env.ok(&["get", "tasks", "push", "-o", "yaml"]);
    assert!(yaml.contains("phase: Succeeded"), "{yaml}");
    assert!(yaml.contains("branch: axon/push"), "{yaml}");
    assert!(!yaml.contains(SECRET_VALUE));
    let commits = git.commits("axon/push");
    assert!(yaml.contains(&commits[0].sha), "{yaml}");
    assert_eq!(
        git.file_at("axon/push", "agent.txt").as_deref(),
        Some("say hello\n")
    );

    let logs = env.ok(&["logs", "push"]);
    assert!(logs.contains("custom agent at work: say hello"), "{logs}");
    assert!(!logs.contains(SECRET_VALUE));
    for f in ["axon.db", "axon.db-wal"] {
        assert!(!contains_secret(&env.home().join(f)), "{f}");
    }

    env.ok(&["delete", "task", "push"]);
    let gone = env.ok(&["get", "tasks", "-o", "json"]);
    assert!(!gone.contains("\"push\""));
}
