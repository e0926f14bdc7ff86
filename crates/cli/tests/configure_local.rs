//! What teams configure (issue 14), on the local backend. A Workspace's `setupCommand` and
//! `remotes`, through the real `axon`
//! binary, bubblewrap and a `git daemon` on 127.0.0.1: the setup command runs in the work tree
//! inside the sandbox before the agent, its output in the Task's log; a failing one fails the
//! Task with its exit code and last line and the agent never starts; extra remotes are in the
//! work tree; `cloneDepth` makes a shallow clone; bad values are refused at apply with the field named.
//! A Task's `agentConfigRefs` merge in order: the agent sees the instructions concatenated and
//! the later AgentConfig's plugin of a name.

mod support;

use axon_testsupport::git_server::GitServer;
use support::{Env, str_at, text};

const SECRET_VALUE: &str = "sk-setup-secret-4242";

fn env() -> Env {
    let env = Env::builder("setup").build();
    env.create_secret("key", "ANTHROPIC_API_KEY", SECRET_VALUE);
    env
}

fn apply(env: &Env, yaml: &str) -> std::process::Output {
    let file = env.root().join("resources.yaml");
    std::fs::write(&file, yaml).expect("write yaml");
    env.output(&["apply", "-f", &file.to_string_lossy()])
}

fn workspace(name: &str, repo: &str, setup: &str, upstream: &str) -> String {
    format!(
        "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {{name: {name}}}\nspec:\n  repo: {repo}\n  ref: main\n  setupCommand: {setup}\n  remotes:\n  - {{name: upstream, url: {upstream}}}\n"
    )
}

fn run(env: &Env, name: &str, ws: &str, agent: &std::path::Path) -> std::process::Output {
    env.output(&[
        "run",
        "--name",
        name,
        "-p",
        "do the work",
        "--secret",
        "key",
        "--image",
        &agent.to_string_lossy(),
        "--workspace",
        ws,
        "-w",
    ])
}

#[test]
fn the_setup_command_runs_in_the_sandboxed_work_tree_before_the_agent() {
    let env = env();
    let git = GitServer::start().expect("git daemon");
    let upstream = "https://example.invalid/upstream/app.git";
    let setup = "'echo \"setting up with $ANTHROPIC_API_KEY\"; printf done > .setup-done; echo to-stderr >&2'";
    let ws = workspace("ws", &git.url(), setup, upstream) + "  cloneDepth: 1\n";
    let out = apply(&env, &ws);
    assert!(out.status.success(), "{}", text(&out));
    let agent = env.agent(
        "check.sh",
        r#"set -e
test "$(git rev-parse --is-shallow-repository)" = true || { echo "not shallow"; exit 6; }
test "$(cat .setup-done)" = done || { echo "setup did not run first"; exit 4; }
test -z "${AXON_SETUP_COMMAND+x}" || { echo "the agent sees the setup command"; exit 5; }
echo "upstream is $(git remote get-url upstream)"
echo "agent ran""#,
    );
    let out = run(&env, "ok", "ws", &agent);
    assert!(out.status.success(), "{}", text(&out));
    let task = env.task("ok").expect("task");
    assert_eq!(
        str_at(&task, "/status/phase"),
        Some("Succeeded"),
        "{task:#}"
    );

    let logs = env.ok(&["logs", "ok", "--raw"]);
    let setup_at = logs.find("setting up with ***").expect(&logs);
    let agent_at = logs.find("agent ran").expect(&logs);
    assert!(setup_at < agent_at, "setup output comes first:\n{logs}");
    assert!(logs.contains("to-stderr"), "{logs}");
    assert!(logs.contains(&format!("upstream is {upstream}")), "{logs}");
    assert!(!logs.contains(SECRET_VALUE), "{logs}");
}

#[test]
fn a_failing_setup_command_fails_the_task_and_the_agent_never_starts() {
    let env = env();
    let git = GitServer::start().expect("git daemon");
    let setup = "'echo installing; echo \"npm ERR! lockfile out of date\" >&2; exit 3'";
    let out = apply(&env, &workspace("ws", &git.url(), setup, &git.url()));
    assert!(out.status.success(), "{}", text(&out));
    let agent = env.agent("never.sh", "echo AGENT-STARTED");
    let out = run(&env, "bad", "ws", &agent);
    assert!(!out.status.success(), "{}", text(&out));
    let task = env.task("bad").expect("task");
    assert_eq!(str_at(&task, "/status/phase"), Some("Failed"), "{task:#}");
    let message = str_at(&task, "/status/message").unwrap_or_default();
    assert!(
        message.contains("setup command exited 3: npm ERR! lockfile out of date"),
        "{task:#}"
    );
    let logs = env.ok(&["logs", "bad", "--raw"]);
    assert!(logs.contains("installing"), "{logs}");
    assert!(!logs.contains("AGENT-STARTED"), "{logs}");
}

#[test]
fn bad_setup_commands_and_remotes_are_refused_at_apply() {
    let env = env();
    for (yaml, field) in [
        (workspace("a", "https://example.invalid/r.git", "'  '", "https://example.invalid/u.git"), "spec.setupCommand"),
        (
            workspace("b", "https://example.invalid/r.git", "make", "--upload-pack=touch /tmp/x"),
            "spec.remotes[0].url",
        ),
        (
            "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: c}\nspec:\n  repo: https://example.invalid/r.git\n  remotes:\n  - {name: origin, url: https://example.invalid/u.git}\n".to_string(),
            "spec.remotes[0].name",
        ),
        (
            "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: d}\nspec:\n  repo: https://example.invalid/r.git\n  remotes:\n  - {name: up, url: https://example.invalid/u.git}\n  - {name: up, url: https://example.invalid/v.git}\n".to_string(),
            "spec.remotes[1].name",
        ),
        (
            workspace("e", "https://example.invalid/r.git", "make", "https://example.invalid/u.git") + "  cloneDepth: 0\n",
            "spec.cloneDepth",
        ),
    ] {
        let out = apply(&env, &yaml);
        assert!(!out.status.success(), "accepted:\n{yaml}");
        let err = text(&out);
        assert!(err.contains(field), "{field} not named:\n{err}");
    }
}

#[test]
fn agent_config_refs_merge_in_order() {
    let env = env();
    let yaml = "apiVersion: axon.io/v1alpha1
kind: AgentConfig
metadata: {name: org}
spec:
  agentsMD: Org rule.
  plugins:
  - name: lint
    skills: [{name: style, content: org style}]
---
apiVersion: axon.io/v1alpha1
kind: AgentConfig
metadata: {name: repo}
spec:
  agentsMD: Repo rule.
  plugins:
  - name: lint
    skills: [{name: style, content: repo style}]
  - name: docs
    skills: [{name: write, content: repo docs}]
";
    let out = apply(&env, yaml);
    assert!(out.status.success(), "{}", text(&out));
    let agent = env.agent(
        "show.sh",
        r#"echo "md: $(tr '\n' '|' < "$AXON_AGENTS_MD_FILE")"
echo "lint: $(cat "$AXON_PLUGINS_DIR/lint/skills/style/SKILL.md")"
echo "docs: $(cat "$AXON_PLUGINS_DIR/docs/skills/write/SKILL.md")""#,
    );
    let task = format!(
        "apiVersion: axon.io/v1alpha1
kind: Task
metadata: {{name: layered}}
spec:
  type: claude-code
  prompt: do it
  image: {}
  credentials: {{type: api-key, secretRef: {{name: key}}}}
  agentConfigRef: {{name: org}}
  agentConfigRefs: [{{name: repo}}]
",
        agent.display()
    );
    let out = apply(&env, &task);
    assert!(out.status.success(), "{}", text(&out));
    support::until("Task layered finished", || {
        env.task("layered")
            .and_then(|t| str_at(&t, "/status/phase").map(|p| p == "Succeeded" || p == "Failed"))
            .unwrap_or(false)
    });
    let t = env.task("layered").expect("task");
    assert_eq!(str_at(&t, "/status/phase"), Some("Succeeded"), "{t:#}");
    let logs = env.ok(&["logs", "layered", "--raw"]);
    assert!(logs.contains("md: Org rule.||Repo rule.|"), "{logs}");
    assert!(logs.contains("lint: repo style"), "{logs}");
    assert!(logs.contains("docs: repo docs"), "{logs}");

    // A missing one keeps the Task waiting, named.
    let out = apply(
        &env,
        &task
            .replace("layered", "waits")
            .replace("{name: repo}", "{name: absent}"),
    );
    assert!(out.status.success(), "{}", text(&out));
    support::until("Task waits names the missing AgentConfig", || {
        env.task("waits")
            .and_then(|t| {
                str_at(&t, "/status/message").map(|m| m.contains("AgentConfig \"absent\""))
            })
            .unwrap_or(false)
    });
}

/// `axon serve` for the spawner test; killed when dropped.
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawner_status(env: &Env, name: &str) -> (String, String) {
    let out = env.ok(&["get", "taskspawner", name, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let s = |p: &str| str_at(&v, p).unwrap_or_default().to_string();
    (s("/status/phase"), s("/status/message"))
}

#[test]
fn a_suspended_spawner_creates_nothing_until_resumed_and_max_total_tasks_holds() {
    let env = env();
    let agent = env.agent("quick.sh", "echo done");
    let yaml = format!(
        "apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata: {{name: fleet}}
spec:
  pollInterval: 1s
  suspend: true
  maxTotalTasks: 2
  when:
    items: [{{name: a}}, {{name: b}}, {{name: c}}]
  taskTemplate:
    type: claude-code
    image: {}
    credentials: {{type: api-key, secretRef: {{name: key}}}}
    promptTemplate: 'Work on {{{{.Item.name}}}}'
",
        agent.display()
    );
    let out = apply(&env, &yaml);
    assert!(out.status.success(), "{}", text(&out));
    let serve = Serve(
        env.axon_process()
            .arg("serve")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("axon serve"),
    );
    support::until("the spawner reports itself suspended", || {
        let (phase, message) = spawner_status(&env, "fleet");
        phase == "Suspended" && message.contains("suspended: 3 waiting to be resumed")
    });
    assert!(
        env.task_list().is_empty(),
        "a suspended spawner made a Task"
    );

    let refused = env.output(&["suspend", "task", "x"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("only TaskSpawners"),
        "{}",
        text(&refused)
    );

    let out = env.ok(&["resume", "taskspawner", "fleet"]);
    assert!(out.contains("taskspawner/fleet resumed"), "{out}");
    support::until("maxTotalTasks reached after two Tasks", || {
        let (phase, message) = spawner_status(&env, "fleet");
        phase == "Running" && message.contains("maxTotalTasks 2 reached: 1 items get no Task")
    });
    let names: Vec<String> = env
        .task_list()
        .iter()
        .filter_map(|t| str_at(t, "/metadata/name").map(String::from))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let out = env.ok(&["suspend", "taskspawner/fleet"]);
    assert!(out.contains("taskspawner/fleet suspended"), "{out}");
    support::until("suspended again", || {
        spawner_status(&env, "fleet").0 == "Suspended"
    });
    drop(serve);
}
