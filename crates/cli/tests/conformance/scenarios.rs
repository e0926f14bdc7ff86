//! The scenarios, written once: each gets a fresh [`Space`] on one backend, says what its
//! agents do (shell scripts, run for real on both backends: inside bubblewrap locally, by the
//! test kubelet's Pod on Kubernetes) and asserts the outcome through the `axon` CLI only, with
//! the same expectations on both backends.
//!
//! Where the backends still differ, the scenario states the one rule both must follow and
//! [`PENDING`] names the backend that does not yet (the suite skips it there, saying so).

use crate::space::{Backend, MODEL_CALL, Space, SpaceExt, s};
use axon_testsupport::git_server::GitServer;
use axon_testsupport::model_server::{FakeModelServer, Script};
use std::time::{Duration, Instant};

/// The credential every space's agents get (Secret `key`); it must never show.
pub const SECRET_VALUE: &str = "sk-conformance-VERY-secret-5151";
/// How long one run of a trivial agent may take to be observed finished.
const RUN: Duration = Duration::from_secs(60);
/// The grace a missing reference is waited for, from the Task's creation (the rule).
const GRACE: Duration = Duration::from_secs(30);

pub type Scenario = fn(&dyn Space);

/// Every scenario, by name.
pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("crud", crud),
    ("results", results),
    ("failure_reason", failure_reason),
    ("timeout", timeout),
    ("retries", retries),
    ("ttl", ttl),
    (
        "missing_reference_created_later",
        missing_reference_created_later,
    ),
    (
        "missing_reference_fails_after_grace",
        missing_reference_fails_after_grace,
    ),
    ("secrets_never_shown", secrets_never_shown),
    ("long_names", long_names),
    ("spawner_github", spawner_github),
    ("spawner_deletion", spawner_deletion),
    ("deps_chain", deps_chain),
    ("deps_failure", deps_failure),
    ("deps_cycle", deps_cycle),
    ("branch_exclusion", branch_exclusion),
    ("spawner_budget", spawner_budget),
    ("budget_stop", budget_stop),
    ("cancel", cancel),
];

// PENDING(start-gate): scenarios that fail today on one backend because the backends still
// differ; the start-gate work (one rule in crates/core for both) makes them pass. PENDING(bug):
// a divergence found by this suite, reported, not yet fixed. Skipped on
// that backend with a line saying so; `AXON_CONFORMANCE_PENDING=1` runs them anyway and
// reports whether each still fails. Remove an entry once its scenario passes.
pub const PENDING: &[(&str, Backend, &str)] = &[
    // PENDING(bug): locally the exit code in the message is the runner's (`axon agent run`
    // exits 1 for any agent failure, as its interface says), not the agent's own 3.
    (
        "failure_reason",
        Backend::Local,
        "bug: the message gives the runner's exit code 1 instead of the agent's 3",
    ),
];

/// Whether `scenario` is pending on `backend`, and why.
pub fn pending(scenario: &str, backend: Backend) -> Option<&'static str> {
    PENDING
        .iter()
        .find(|(n, b, _)| *n == scenario && *b == backend)
        .map(|(_, _, why)| *why)
}

// ------------------------------------------------------------------------------ helpers

/// Secret `key` with the agent credential.
fn setup(space: &dyn Space) {
    space.ok(&[
        "create",
        "secret",
        "key",
        "--from-literal",
        &format!("ANTHROPIC_API_KEY={SECRET_VALUE}"),
    ]);
}

/// A Task manifest: `extra` is more of its spec, one `key: value` a line.
fn task_yaml(name: &str, image: &str, extra: &str) -> String {
    let mut spec = format!(
        "  type: claude-code\n  prompt: do the work\n  image: {image}\n  credentials:\n    type: api-key\n    secretRef:\n      name: key\n"
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        spec.push_str("  ");
        spec.push_str(line);
        spec.push('\n');
    }
    format!("apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

fn workspace_yaml(name: &str, repo: &str) -> String {
    format!(
        "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata:\n  name: {name}\nspec:\n  repo: {repo}\n  ref: main\n"
    )
}

fn message(t: &serde_json::Value) -> String {
    s(t, "/status/message").to_string()
}

/// An agent that only exits 0.
const QUIET: &str = "echo \"working on: $1\"";

// ---------------------------------------------------------------------------- scenarios

/// apply / get / list / delete: a Task applied from a file is listed, runs, succeeds (a custom
/// agent without a work tree: no outputs), re-applying it changes nothing, and delete removes it (a second delete says "not found").
fn crud(space: &dyn Space) {
    setup(space);
    let image = space.agent_image("ok.sh", QUIET);
    let yaml = task_yaml("crud", &image, "");
    space.apply_ok("task.yaml", &yaml);
    assert!(space.ok(&["get", "tasks"]).contains("crud"));
    let t = space.until_phase("crud", "Succeeded", RUN);
    assert_eq!(s(&t, "/spec/prompt"), "do the work");
    assert_eq!(message(&t), "agent succeeded");
    space.apply_ok("task.yaml", &yaml);
    assert_eq!(
        space.tasks(),
        [("crud".to_string(), "Succeeded".to_string())]
    );
    assert!(
        space
            .ok(&["get", "task", "crud", "-o", "name"])
            .contains("crud")
    );
    space.ok(&["delete", "task", "crud"]);
    assert!(space.task("crud").is_none());
    assert!(space.tasks().is_empty());
    let again = space.axon(&["delete", "task", "crud"]);
    assert!(!again.ok() && again.stderr.contains("not found"), "{again}");
}

/// Results in status: an agent that commits on a new branch and pushes it ends Succeeded with
/// the branch, its base, the pushed commit (the one the git server has) and `pushed: true`.
fn results(space: &dyn Space) {
    setup(space);
    let git = GitServer::start().expect("git daemon");
    space.apply_ok("ws.yaml", &workspace_yaml("ws", &git.url()));
    let image = space.agent_image(
        "push.sh",
        r#"set -e
git checkout -q -b "axon/$AXON_TASK"
echo "$1" > agent.txt
git add agent.txt
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm "agent: $1"
git push -q origin "axon/$AXON_TASK""#,
    );
    space.apply_ok(
        "task.yaml",
        &task_yaml("results", &image, "workspaceRef:\n  name: ws"),
    );
    let t = space.until_phase("results", "Succeeded", RUN);
    let pushed = git.commits("axon/results");
    assert_eq!(pushed.len(), 2, "the agent's commit on top of main");
    assert_eq!(s(&t, "/status/outputs/branch"), "axon/results", "{t:#}");
    assert_eq!(s(&t, "/status/outputs/baseBranch"), "main", "{t:#}");
    assert_eq!(
        t.pointer("/status/outputs/commits")
            .and_then(|c| c.as_array())
            .map(|c| c.len()),
        Some(1),
        "{t:#}"
    );
    assert_eq!(s(&t, "/status/outputs/commits/0"), pushed[0].sha, "{t:#}");
    assert_eq!(t.pointer("/status/outputs/pushed"), Some(&true.into()));
    assert_eq!(
        message(&t),
        "agent succeeded: 1 commit(s) on axon/results, pushed"
    );
    assert_eq!(
        git.file_at("axon/results", "agent.txt").as_deref(),
        Some("do the work\n")
    );
}

/// Failure reason: an agent exiting 3 fails the Task; the message gives the agent's exit code
/// (3, not the runner's) and says it exited so.
fn failure_reason(space: &dyn Space) {
    setup(space);
    let image = space.agent_image("fail.sh", "echo 'tests fail'\nexit 3");
    space.apply_ok("task.yaml", &task_yaml("broken", &image, ""));
    let t = space.until_phase("broken", "Failed", RUN);
    let m = message(&t);
    assert!(
        m.starts_with("agent failed (exit code 3): ") && m.contains("exited with code 3"),
        "{t:#}"
    );
    assert!(t.pointer("/status/completionTime").is_some(), "{t:#}");
}

/// timeoutSeconds: an agent that runs forever is killed and the Task fails saying so.
fn timeout(space: &dyn Space) {
    setup(space);
    let image = space.agent_image("forever.sh", "echo started\nsleep 600");
    let started = Instant::now();
    space.apply_ok("task.yaml", &task_yaml("slow", &image, "timeoutSeconds: 5"));
    let t = space.until_phase("slow", "Failed", RUN);
    assert_eq!(
        message(&t),
        "timed out after 5s (timeoutSeconds) and was killed"
    );
    assert!(started.elapsed() >= Duration::from_secs(5), "{t:#}");
}

/// backoffLimit: the first attempt fails (leaving a marker branch), the retry succeeds.
fn retries(space: &dyn Space) {
    setup(space);
    let git = GitServer::start().expect("git daemon");
    space.apply_ok("ws.yaml", &workspace_yaml("ws", &git.url()));
    let image = space.agent_image(
        "flaky.sh",
        r#"if git ls-remote --exit-code origin refs/heads/first-attempt >/dev/null 2>&1; then
  echo "second attempt"; exit 0
fi
git push -q origin HEAD:refs/heads/first-attempt
echo "first attempt fails"; exit 1"#,
    );
    space.apply_ok(
        "task.yaml",
        &task_yaml(
            "flaky",
            &image,
            "workspaceRef:\n  name: ws\nbackoffLimit: 1",
        ),
    );
    // The Job controller waits 10 s before the second Pod.
    let t = space.until_phase("flaky", "Succeeded", Duration::from_secs(90));
    assert!(git.branches().contains(&"first-attempt".to_string()));
    assert_eq!(message(&t), "agent succeeded");
}

/// ttlSecondsAfterFinished: the finished Task disappears.
fn ttl(space: &dyn Space) {
    setup(space);
    let image = space.agent_image("ok.sh", QUIET);
    space.apply_ok(
        "task.yaml",
        &task_yaml("brief", &image, "ttlSecondsAfterFinished: 1"),
    );
    space.until_task("brief", "deletion after its TTL", RUN, |t| t.is_none());
    assert!(space.tasks().is_empty());
}

/// A Task whose Workspace is applied after it: Pending with a message naming the missing
/// Workspace, then it runs once the Workspace exists.
fn missing_reference_created_later(space: &dyn Space) {
    setup(space);
    let git = GitServer::start().expect("git daemon");
    let image = space.agent_image("ok.sh", QUIET);
    space.apply_ok(
        "task.yaml",
        &task_yaml("early", &image, "workspaceRef:\n  name: late-ws"),
    );
    let t = space.until_task("early", "a Pending message naming late-ws", RUN, |t| {
        t.is_some_and(|t| message(t).contains("late-ws"))
    });
    let t = t.expect("task");
    assert_eq!(s(&t, "/status/phase"), "Pending", "{t:#}");
    assert!(message(&t).contains("Workspace"), "{t:#}");
    space.apply_ok("ws.yaml", &workspace_yaml("late-ws", &git.url()));
    space.until_phase("early", "Succeeded", RUN);
}

/// Missing Workspace, AgentConfig and Secret never created: each Task waits Pending with a
/// message naming what is missing, then fails at the end of the grace (30 s from creation),
/// its message naming it.
fn missing_reference_fails_after_grace(space: &dyn Space) {
    setup(space);
    let image = space.agent_image("ok.sh", QUIET);
    let tasks = [
        ("no-ws", "workspaceRef:\n  name: ghost-ws", "ghost-ws"),
        ("no-cfg", "agentConfigRef:\n  name: ghost-cfg", "ghost-cfg"),
    ];
    let mut yaml = String::new();
    for (name, extra, _) in tasks {
        yaml.push_str(&task_yaml(name, &image, extra));
        yaml.push_str("---\n");
    }
    yaml.push_str(&task_yaml("no-secret", &image, "").replace("name: key", "name: ghost-key"));
    let applied = Instant::now();
    space.apply_ok("tasks.yaml", &yaml);
    let all = tasks
        .iter()
        .map(|(n, _, missing)| (*n, *missing))
        .chain([("no-secret", "ghost-key")]);
    for (name, missing) in all.clone() {
        let t = space
            .until_task(name, &format!("Pending naming {missing}"), GRACE, |t| {
                t.is_some_and(|t| message(t).contains(missing))
            })
            .expect("task");
        if applied.elapsed() < GRACE - Duration::from_secs(5) {
            assert_eq!(s(&t, "/status/phase"), "Pending", "{t:#}");
        }
    }
    for (name, missing) in all {
        let t = space.until_phase(name, "Failed", GRACE + RUN);
        assert!(message(&t).contains(missing), "{t:#}");
        assert!(
            applied.elapsed() >= GRACE - Duration::from_secs(2),
            "Task {name} failed before the grace ended: {t:#}"
        );
    }
}

/// The credential never shows: the agent prints it (stdout and stderr) and one agent fails
/// after printing it; neither status, `get -o yaml`/`json`/`wide` nor events show it.
fn secrets_never_shown(space: &dyn Space) {
    setup(space);
    let talk = space.agent_image(
        "talk.sh",
        "echo \"key: $ANTHROPIC_API_KEY\"\necho \"key: $ANTHROPIC_API_KEY\" >&2\ntest -n \"$ANTHROPIC_API_KEY\"",
    );
    let fail = space.agent_image(
        "leak-fail.sh",
        "echo \"failing with $ANTHROPIC_API_KEY\" >&2\nexit 4",
    );
    let mut yaml = task_yaml("talk", &talk, "");
    yaml.push_str("---\n");
    yaml.push_str(&task_yaml("leaky", &fail, ""));
    let applied = space.apply("tasks.yaml", &yaml);
    assert!(applied.ok(), "{applied}");
    space.until_phase("talk", "Succeeded", RUN);
    space.until_phase("leaky", "Failed", RUN);
    let shown = [
        applied.all(),
        space.axon(&["get", "task", "talk", "-o", "yaml"]).all(),
        space.axon(&["get", "task", "leaky", "-o", "yaml"]).all(),
        space.axon(&["get", "tasks", "-o", "json"]).all(),
        space.axon(&["get", "tasks", "-o", "wide"]).all(),
        space.events(),
    ];
    for shown in shown {
        assert!(!shown.contains(SECRET_VALUE), "the secret shows:\n{shown}");
    }
}

/// Task names: 63 characters run; 64 are refused at apply with the limit named (a Job, a
/// label value and a local run directory all take 63).
fn long_names(space: &dyn Space) {
    setup(space);
    let image = space.agent_image("ok.sh", QUIET);
    let ok = "a".repeat(63);
    space.apply_ok("ok.yaml", &task_yaml(&ok, &image, ""));
    space.until_phase(&ok, "Succeeded", RUN);
    let long = "b".repeat(64);
    let r = space.apply("long.yaml", &task_yaml(&long, &image, ""));
    assert!(!r.ok() && r.stderr.contains("63"), "{r}");
    assert!(space.task(&long).is_none());
}

/// A repository `o/r` on a git daemon (the fake GitHub serves its issues) and a GitHub-issues
/// TaskSpawner `bugs` over it, run.
fn github_spawner(space: &dyn Space) -> GitServer {
    setup(space);
    let git = GitServer::start().expect("git daemon");
    let base = git.repo_path().parent().expect("base").to_path_buf();
    std::fs::create_dir_all(base.join("o")).expect("owner dir");
    let cloned = std::process::Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(git.repo_path())
        .arg(base.join("o/r.git"))
        .status()
        .expect("git clone");
    assert!(cloned.success());
    let repo = format!("git://127.0.0.1:{}/o/r.git", git.port());
    let image = space.agent_image("fix.sh", "echo \"working on: $1\"");
    let yaml = format!(
        r#"{ws}---
apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: bugs
spec:
  pollInterval: 1s
  when:
    githubIssues: {{}}
  taskTemplate:
    type: claude-code
    image: {image}
    credentials:
      type: api-key
      secretRef:
        name: key
    workspaceRef:
      name: ws
    promptTemplate: "Fix #{{{{.Number}}}}: {{{{.Title}}}}"
"#,
        ws = workspace_yaml("ws", &repo)
    );
    space.apply_ok("spawner.yaml", &yaml);
    space.serve_spawners();
    git
}

/// A GitHub-issues TaskSpawner makes one Task per open issue (the fake GitHub has two), named
/// `<spawner>-<number>`, with the issue in its prompt; each runs and succeeds.
fn spawner_github(space: &dyn Space) {
    let _git = github_spawner(space);
    space.until_tasks(
        "bugs-1 and bugs-2 Succeeded",
        Duration::from_secs(90),
        |t| {
            let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
            names == ["bugs-1", "bugs-2"] && t.iter().all(|(_, p)| p == "Succeeded")
        },
    );
    let t = space.task("bugs-2").expect("bugs-2");
    assert_eq!(s(&t, "/spec/prompt"), "Fix #2: typo in README", "{t:#}");
    let spawner = space.ok(&["get", "taskspawner", "bugs", "-o", "yaml"]);
    assert!(spawner.contains("bugs"), "{spawner}");
}

/// Deleting a TaskSpawner deletes the Tasks it created.
fn spawner_deletion(space: &dyn Space) {
    let _git = github_spawner(space);
    space.until_tasks("bugs-1 and bugs-2", Duration::from_secs(90), |t| {
        t.len() == 2
    });
    space.ok(&["delete", "taskspawner", "bugs"]);
    space.until_tasks("no Task left", RUN, |t| t.is_empty());
}

// ------------------------------------------------------------------------- dependencies

/// `tests` dependsOn `scaffold` (applied first, in one file): it starts only after scaffold
/// succeeded, with scaffold's branch rendered into its prompt and into its own `branch` (so it
/// continues scaffold's work), and its status records the prompt as run and the dependency.
fn deps_chain(space: &dyn Space) {
    setup(space);
    let git = GitServer::start().expect("git daemon");
    space.apply_ok("ws.yaml", &workspace_yaml("ws", &git.url()));
    let scaffold = space.agent_image(
        "scaffold.sh",
        r#"set -e
git checkout -q -b feat/scaffold
echo one > one.txt
git add one.txt
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm one
git push -q origin feat/scaffold"#,
    );
    let follow = space.agent_image(
        "follow.sh",
        r#"set -e
test -f one.txt
echo "prompt: $1 on $(git rev-parse --abbrev-ref HEAD)""#,
    );
    let yaml = [
        task_yaml(
            "tests",
            &follow,
            "workspaceRef:\n  name: ws\ndependsOn: [scaffold]\nbranch: \"{{.Deps.scaffold.Branch}}\"",
        )
        .replace(
            "prompt: do the work",
            "prompt: \"Add tests on {{.Deps.scaffold.Branch}} ({{len .Deps.scaffold.Commits}} commit)\"",
        ),
        task_yaml("scaffold", &scaffold, "workspaceRef:\n  name: ws"),
    ]
    .join("---\n");
    space.apply_ok("chain.yaml", &yaml);
    let scaffold = space.until_phase("scaffold", "Succeeded", RUN);
    let tests = space.until_phase("tests", "Succeeded", RUN);
    assert_eq!(
        s(&tests, "/status/prompt"),
        "Add tests on feat/scaffold (1 commit)",
        "{tests:#}"
    );
    assert_eq!(s(&tests, "/status/branch"), "feat/scaffold", "{tests:#}");
    assert_eq!(s(&tests, "/status/dependencies/0/name"), "scaffold");
    assert_eq!(s(&tests, "/status/dependencies/0/phase"), "Succeeded");
    let started = s(&tests, "/status/startTime");
    let done = s(&scaffold, "/status/completionTime");
    assert!(
        started >= done,
        "tests started {started} before scaffold ended {done}"
    );
    // The test kubelet serves no container logs: the agent's own words only locally.
    if space.backend() == Backend::Local {
        let logs = space.ok(&["logs", "tests"]);
        assert!(
            logs.contains("prompt: Add tests on feat/scaffold (1 commit) on feat/scaffold"),
            "{logs}"
        );
    }
}

/// A failed dependency fails its dependants at once (down the chain), without running them.
fn deps_failure(space: &dyn Space) {
    setup(space);
    let fail = space.agent_image("fail.sh", "exit 5");
    let ok = space.agent_image("ok.sh", QUIET);
    let yaml = [
        task_yaml("first", &fail, ""),
        task_yaml("second", &ok, "dependsOn: [first]"),
        task_yaml("third", &ok, "dependsOn: [second]"),
    ]
    .join("---\n");
    space.apply_ok("fail.yaml", &yaml);
    space.until_phase("first", "Failed", RUN);
    for (name, dep) in [("second", "first"), ("third", "second")] {
        let t = space.until_phase(name, "Failed", RUN);
        assert!(
            message(&t).starts_with(&format!("dependency {dep} failed: ")),
            "{t:#}"
        );
        assert_eq!(s(&t, "/status/startTime"), "", "{name} never ran: {t:#}");
    }
}

/// A cycle is refused at apply, within one file and against the stored Tasks; an unknown
/// dependency waits, saying so, with a `Waiting` condition.
fn deps_cycle(space: &dyn Space) {
    setup(space);
    let ok = space.agent_image("ok.sh", QUIET);
    let cycle = [
        task_yaml("a", &ok, "dependsOn: [b]"),
        task_yaml("b", &ok, "dependsOn: [a]"),
    ]
    .join("---\n");
    let run = space.apply("cycle.yaml", &cycle);
    assert!(!run.ok(), "{}", run.all());
    assert!(
        run.all().contains("dependency cycle a -> b -> a"),
        "{}",
        run.all()
    );
    let run = space.apply("self.yaml", &task_yaml("me", &ok, "dependsOn: [me]"));
    assert!(!run.ok(), "{}", run.all());
    assert!(
        run.all().contains("cannot depend on itself"),
        "{}",
        run.all()
    );
    assert!(space.task("a").is_none() && space.task("me").is_none());

    space.apply_ok(
        "later.yaml",
        &task_yaml("later", &ok, "dependsOn: [not-yet]"),
    );
    let t = space
        .until_task("later", "waiting for not-yet", RUN, |t| {
            t.is_some_and(|t| message(t) == "waiting for dependencies: not-yet (not created yet)")
        })
        .expect("later");
    let waiting = t["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Waiting"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(waiting["reason"], "DependenciesNotReady", "{t:#}");
    let run = space.apply(
        "back.yaml",
        &task_yaml("not-yet", &ok, "dependsOn: [later]"),
    );
    assert!(!run.ok(), "{}", run.all());
    assert!(run.all().contains("dependency cycle"), "{}", run.all());
    space.apply_ok("not-yet.yaml", &task_yaml("not-yet", &ok, ""));
    space.until_phase("later", "Succeeded", RUN);
}

/// Two Tasks on the same repository and branch never run at once: the younger waits, saying
/// for which Task, and runs on the branch the older one left (created by the first, continued
/// by the second).
fn branch_exclusion(space: &dyn Space) {
    setup(space);
    let git = GitServer::start().expect("git daemon");
    space.apply_ok("ws.yaml", &workspace_yaml("ws", &git.url()));
    let work = space.agent_image(
        "work.sh",
        r#"set -e
test "$(git rev-parse --abbrev-ref HEAD)" = shared
test "$AXON_BRANCH" = shared
sleep 2
echo "$AXON_TASK" >> tasks.txt
git add tasks.txt
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm "$AXON_TASK"
git push -q origin shared"#,
    );
    space.apply_ok(
        "one.yaml",
        &task_yaml("one", &work, "workspaceRef:\n  name: ws\nbranch: shared"),
    );
    space.apply_ok(
        "two.yaml",
        &task_yaml("two", &work, "workspaceRef:\n  name: ws\nbranch: shared"),
    );
    space.until_task("two", "two waiting for one", RUN, |t| {
        t.is_some_and(|t| {
            message(t).starts_with("waiting for Task one, which works on branch shared of ")
        })
    });
    let one = space.until_phase("one", "Succeeded", RUN);
    let two = space.until_phase("two", "Succeeded", RUN);
    assert!(
        s(&two, "/status/startTime") >= s(&one, "/status/completionTime"),
        "{one:#}\n{two:#}"
    );
    assert_eq!(
        git.file_at("shared", "tasks.txt").as_deref(),
        Some("one\ntwo\n")
    );
}

// ---------------------------------------------------------------------- spawner budget

/// The Waiting condition of a Task, if it has one.
fn waiting_condition(t: &serde_json::Value) -> serde_json::Value {
    t["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Waiting"))
        .cloned()
        .unwrap_or_default()
}

/// A TaskSpawner's window budget: its first Task (of two items, one at a time) uses 150
/// tokens, measured as this backend measures usage ([`Space::spending_agent`]); that fills
/// `perDay: {maxTokens: 100}`, so its second Task stays Pending — queued, not dropped — with a
/// message naming the spawner, the window, the limit, the spending and when room returns, a
/// `SpawnerBudgetReached` Waiting condition, and `get tasks` shows it in WAITING FOR. Raising
/// the limit lets it run.
fn spawner_budget(space: &dyn Space) {
    setup(space);
    let agent = space.spending_agent(120, 30);
    let template: String = agent.lines().map(|l| format!("    {l}\n")).collect();
    let spawner = |max_tokens: u64| {
        format!(
            r#"apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: thrifty
spec:
  pollInterval: 1s
  maxConcurrency: 1
  budget:
    perDay:
      maxTokens: {max_tokens}
  when:
    items:
      - name: one
      - name: two
  taskTemplate:
    type: claude-code
{template}    credentials:
      type: api-key
      secretRef:
        name: key
    promptTemplate: "Work on {{{{.Item.name}}}}"
"#
        )
    };
    space.apply_ok("spawner.yaml", &spawner(100));
    space.serve_spawners();
    let one = space.until_phase("thrifty-one", "Succeeded", RUN);
    let used = |p: &str| one.pointer(p).and_then(serde_json::Value::as_u64);
    assert_eq!(
        (
            used("/status/usage/inputTokens"),
            used("/status/usage/outputTokens")
        ),
        (Some(120), Some(30)),
        "{one:#}"
    );
    let held = "TaskSpawner thrifty budget perDay maxTokens 100 reached (150 tokens spent in the last 24 hours); waiting until ";
    let two = space
        .until_task("thrifty-two", "held by the spawner's budget", RUN, |t| {
            t.is_some_and(|t| message(t).starts_with(held))
        })
        .expect("thrifty-two");
    assert_eq!(s(&two, "/status/phase"), "Pending", "{two:#}");
    let waiting = waiting_condition(&two);
    assert_eq!(waiting["reason"], "SpawnerBudgetReached", "{two:#}");
    assert_eq!(waiting["status"], "True", "{two:#}");
    // Room returns when the first Task's spending leaves the day window.
    let until = message(&two)[held.len()..].to_string();
    let second = |t: &str| axon_core::rfc3339::parse(t).map(|t| t.as_second());
    let done = second(s(&one, "/status/completionTime")).expect("completion time");
    let opens = second(&until).expect("the time room returns");
    assert!(
        (opens - (done + 24 * 3600)).abs() <= 1,
        "room returns at {until}, a day after {one:#}"
    );
    let table = space.ok(&["get", "tasks"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("thrifty-two "))
        .unwrap_or_default();
    assert!(row.contains("Pending") && row.contains(held), "{table}");
    // Still held a few passes of the engine / requeues of the controller later, never started.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(3) {
        let t = space.task("thrifty-two").expect("queued, not dropped");
        assert_eq!(s(&t, "/status/phase"), "Pending", "{t:#}");
        assert_eq!(s(&t, "/status/startTime"), "", "{t:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
    space.apply_ok("spawner.yaml", &spawner(1000));
    let two = space.until_phase("thrifty-two", "Succeeded", RUN);
    assert_eq!(waiting_condition(&two)["status"], "False", "{two:#}");
}

/// The processes whose command line holds `marker` (host-wide: locally the sandbox's, on
/// Kubernetes the test kubelet's containers are processes of this machine).
fn processes_with(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !zombie && cmdline.contains(marker) {
            out.push(pid);
        }
    }
    out
}

/// Poll `f` until it holds or `limit` passes; whether it held.
fn eventually(limit: Duration, f: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// Cancel: `axon cancel` stops a running agent (a script that writes a file, then sleeps in
/// two processes) — every one of its processes is gone (and on Kubernetes its Pod), the Task
/// ends `Cancelled` (not Failed) saying who asked, and a Task depending on it fails at once
/// with `dependency long was cancelled` without ever running. Locally the work tree is saved
/// on `axon/wip/<task>` and pushed; on Kubernetes it goes with the Pod (documented). A Pending
/// Task cancelled goes straight to `Cancelled` without a start time; cancelling again is a
/// no-op, cancelling a Succeeded Task is an error that changes nothing, and a missing one is
/// "not found".
fn cancel(space: &dyn Space) {
    setup(space);
    let git = GitServer::start().expect("git daemon");
    space.apply_ok("ws.yaml", &workspace_yaml("ws", &git.url()));
    // A number no other process has on its command line.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seconds = 7_000_000 + nanos % 1_000_000;
    let marker = format!("sleep {seconds}");
    let image = space.agent_image(
        "long.sh",
        &format!("echo draft > notes.txt\necho sleeping\n{marker} &\n{marker}\n"),
    );
    let ok = space.agent_image("ok.sh", QUIET);
    let yaml = [
        task_yaml("long", &image, "workspaceRef:\n  name: ws"),
        task_yaml("after", &ok, "dependsOn: [long]"),
        task_yaml("queued", &ok, "dependsOn: [not-yet]"),
        task_yaml("done", &ok, ""),
    ]
    .join("---\n");
    space.apply_ok("tasks.yaml", &yaml);
    space.until_phase("long", "Running", RUN);
    assert!(
        eventually(RUN, || processes_with(&marker).len() >= 2),
        "the agent's two sleeps never ran"
    );
    space.until_phase("done", "Succeeded", RUN);

    let out = space.ok(&["cancel", "long"]);
    assert!(out.contains("task/long cancelled"), "{out}");
    let t = space.until_phase("long", "Cancelled", RUN);
    assert!(message(&t).starts_with("cancelled (axon cancel)"), "{t:#}");
    assert_ne!(s(&t, "/status/startTime"), "", "it ran: {t:#}");
    assert!(
        eventually(Duration::from_secs(30), || processes_with(&marker)
            .is_empty()),
        "agent processes left running: {:?}",
        processes_with(&marker)
    );
    if space.backend() == Backend::Kubernetes {
        let long_pods = || {
            let mut pods = space.pods();
            pods.retain(|p| p.starts_with("long-"));
            pods
        };
        assert!(
            eventually(Duration::from_secs(30), || long_pods().is_empty()),
            "the cancelled Task's Pod is left: {:?}",
            long_pods()
        );
    } else {
        assert_eq!(s(&t, "/status/outputs/branch"), "axon/wip/long", "{t:#}");
        assert_eq!(
            t.pointer("/status/outputs/pushed"),
            Some(&true.into()),
            "{t:#}"
        );
        assert_eq!(
            git.file_at("axon/wip/long", "notes.txt").as_deref(),
            Some("draft\n"),
            "{t:#}"
        );
    }
    let after = space.until_phase("after", "Failed", RUN);
    assert_eq!(
        message(&after),
        "dependency long was cancelled",
        "{after:#}"
    );
    assert_eq!(s(&after, "/status/startTime"), "", "{after:#}");

    let out = space.ok(&["cancel", "task/queued"]);
    assert!(out.contains("task/queued cancelled"), "{out}");
    let q = space.until_phase("queued", "Cancelled", RUN);
    assert_eq!(s(&q, "/status/startTime"), "", "{q:#}");
    assert_eq!(message(&q), "cancelled (axon cancel)", "{q:#}");

    let again = space.ok(&["cancel", "queued"]);
    assert!(again.contains("task/queued already cancelled"), "{again}");
    let finished = space.axon(&["cancel", "done"]);
    assert!(
        !finished.ok() && finished.stderr.contains("already finished (Succeeded)"),
        "{finished}"
    );
    assert_eq!(
        s(&space.task("done").expect("done"), "/status/phase"),
        "Succeeded"
    );
    let missing = space.axon(&["cancel", "nope"]);
    assert!(
        !missing.ok() && missing.stderr.contains("not found"),
        "{missing}"
    );
}

/// A budget stops a run: `maxTurns: 1` and an agent that writes a file, makes a model call
/// (answered), adds to the file, makes a second call (refused by the gateway with a 400 in the
/// API's shape) and exits 1 on it. The Task ends Failed with reason `BudgetExceeded` naming
/// the limit and the figure, its usage is the gateway's (one turn), and the work tree is saved
/// by Axon (not the agent) on `axon/wip/<task>`, pushed: nothing lost. On Kubernetes the
/// gateway also records a `BudgetExceeded` Event.
fn budget_stop(space: &dyn Space) {
    setup(space);
    let git = GitServer::start().expect("git daemon");
    space.apply_ok("ws.yaml", &workspace_yaml("ws", &git.url()));
    let model = FakeModelServer::start(Script::new().text("go on").usage(120, 30))
        .expect("fake model server");
    let script = format!(
        r#"{MODEL_CALL}echo draft > notes.txt
first=$(model_call)
echo "first call: $first"
test "$first" = 200 || exit 1
echo more >> notes.txt
second=$(model_call)
echo "second call: $second"
cat "$HOME/answer.json"; echo
test "$second" = 200 || exit 1
echo "the budget did not hold" >> notes.txt"#
    );
    let image = space.agent_image("budget.sh", &script);
    let extra = format!(
        "workspaceRef:\n  name: ws\nmodelBaseURL: {}\nbudget:\n  maxTurns: 1",
        model.base_url()
    );
    space.apply_ok("task.yaml", &task_yaml("budget", &image, &extra));
    let t = space.until_phase("budget", "Failed", RUN);
    let reason = t
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .and_then(|c| c.iter().find(|c| c["type"] == "Succeeded"))
        .map(|c| c["reason"].as_str().unwrap_or_default().to_string());
    assert_eq!(reason.as_deref(), Some("BudgetExceeded"), "{t:#}");
    assert!(
        message(&t).contains("maxTurns 1 reached (1 model requests)"),
        "{t:#}"
    );
    assert_eq!(s(&t, "/status/usage/source"), "gateway", "{t:#}");
    assert_eq!(t.pointer("/status/usage/turns"), Some(&1.into()), "{t:#}");
    assert_eq!(s(&t, "/status/outputs/branch"), "axon/wip/budget", "{t:#}");
    assert_eq!(
        t.pointer("/status/outputs/pushed"),
        Some(&true.into()),
        "{t:#}"
    );
    assert_eq!(
        git.file_at("axon/wip/budget", "notes.txt").as_deref(),
        Some("draft\nmore\n"),
        "{t:#}"
    );
    let wip = git.commits("axon/wip/budget");
    assert_eq!(s(&t, "/status/outputs/commits/0"), wip[0].sha, "{t:#}");
    assert_eq!(
        model.requests().len(),
        1,
        "the refused call never reached the model"
    );
    if space.backend() == Backend::Kubernetes {
        let events = space.events();
        assert!(
            events.contains("BudgetExceeded Axon budget exceeded: maxTurns 1 reached"),
            "{events}"
        );
    }
}
