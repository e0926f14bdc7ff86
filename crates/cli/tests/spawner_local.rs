//! TaskSpawners end to end on the local backend through the real `axon serve`: a fake GitHub
//! on 127.0.0.1 (reached through `AXON_GITHUB_API_URL`), a Workspace on a bare repo served by
//! `git daemon`, a custom agent (a shell script as `taskTemplate.image`) run in bubblewrap;
//! `axon serve` killed and restarted without duplicating a Task; a cron spawner; and a clean
//! shutdown on SIGTERM.

mod support;

use axon_testsupport::git_server::GitServer;
use axon_testsupport::github_server::FakeGitHub;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::{Env, poll};

const GITHUB_TOKEN: &str = "ghp_spawner-e2e-SECRET-4242";

/// `axon serve`, talking to `github`, its stderr in `serve.log`.
fn start_serve(env: &Env, github: &FakeGitHub) -> Serve {
    let log = env.root().join("serve.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("log");
    let child = env
        .axon_process()
        .arg("serve")
        .env("AXON_GITHUB_API_URL", github.base_url())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("axon serve");
    Serve { child, log }
}

/// Every Task: name to phase.
fn task_phases(env: &Env) -> BTreeMap<String, String> {
    env.task_list()
        .iter()
        .map(|t| {
            (
                t["metadata"]["name"].as_str().unwrap_or("").to_string(),
                t["status"]["phase"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Poll the Tasks until `ok` holds of them; panic after `limit`.
fn wait_for(
    env: &Env,
    what: &str,
    limit: Duration,
    ok: impl Fn(&BTreeMap<String, String>) -> bool,
) {
    let mut last = BTreeMap::new();
    let held = poll(limit, || {
        last = task_phases(env);
        ok(&last)
    });
    assert!(held, "timed out waiting for {what}: {last:?}");
}

/// An `axon serve` child, killed when dropped.
struct Serve {
    child: Child,
    log: PathBuf,
}

impl Serve {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (within a deadline).
    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut status = None;
        let exited = poll(Duration::from_secs(30), || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        assert!(exited, "axon serve ignored SIGTERM");
        status.expect("exit status")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawned_by<'a>(tasks: &'a BTreeMap<String, String>, prefix: &str) -> Vec<(&'a str, &'a str)> {
    tasks
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(n, p)| (n.as_str(), p.as_str()))
        .collect()
}

#[test]
fn github_and_cron_spawners_through_axon_serve_with_restarts() {
    let env = Env::builder("spawner-local")
        .config("backend: local\n")
        .build();
    let gh = FakeGitHub::start().expect("fake GitHub");
    gh.require_token(GITHUB_TOKEN);
    for title in ["crash on start", "typo in README", "slow build"] {
        gh.add_issue(title, "", &[]);
    }
    // The Workspace's repo is `o/r` on a git daemon; the API is the fake GitHub.
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
    let agent = env.agent("agent.sh", "echo \"working on: $1\"\nexit 0");

    env.create_secret("key", "ANTHROPIC_API_KEY", "sk-x");
    env.create_secret("gh", "GITHUB_TOKEN", GITHUB_TOKEN);
    let manifests = env.root().join("spawners.yaml");
    let agent = agent.display();
    std::fs::write(
        &manifests,
        format!(
            r#"apiVersion: axon.io/v1alpha1
kind: Workspace
metadata:
  name: ws
spec:
  repo: {repo}
  ref: main
  secretRef:
    name: gh
---
apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: bugs
spec:
  pollInterval: 1s
  when:
    githubIssues:
      excludeLabels: [axon/needs-input]
  taskTemplate:
    type: claude-code
    image: {agent}
    credentials:
      type: api-key
      secretRef:
        name: key
    workspaceRef:
      name: ws
    promptTemplate: "Fix #{{{{.Number}}}}: {{{{.Title}}}}"
---
apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: tick
spec:
  pollInterval: 1s
  when:
    cron:
      schedule: "* * * * *"
  taskTemplate:
    type: claude-code
    image: {agent}
    credentials:
      type: api-key
      secretRef:
        name: key
    promptTemplate: "Tick {{{{.Time}}}}"
"#
        ),
    )
    .expect("manifests");
    env.ok(&["apply", "-f", &manifests.to_string_lossy()]);

    // Without `axon serve`, `get taskspawners` says so.
    let get = env.ok_output(&["get", "taskspawners"]);
    let note = String::from_utf8_lossy(&get.stderr).to_string();
    assert!(note.contains("no `axon serve` is running"), "{note}");

    let mut serve = start_serve(&env, &gh);
    let started = Instant::now();
    wait_for(
        &env,
        "three succeeded Tasks",
        Duration::from_secs(120),
        |t| {
            let bugs = spawned_by(t, "bugs-");
            bugs.len() == 3 && bugs.iter().all(|(_, p)| *p == "Succeeded")
        },
    );
    eprintln!("3 issues to 3 succeeded Tasks in {:?}", started.elapsed());
    let get = env.ok_output(&["get", "taskspawners"]);
    assert!(
        !String::from_utf8_lossy(&get.stderr).contains("no `axon serve`"),
        "serve is running"
    );
    let logs = env.ok(&["logs", "bugs-2"]);
    assert!(logs.contains("working on: Fix #2: typo in README"));

    // Kill serve hard, restart it: a new issue gets its Task, the old ones are not repeated.
    serve.kill();
    let mut serve = start_serve(&env, &gh);
    gh.add_issue("new after restart", "", &[]);
    wait_for(&env, "bugs-4", Duration::from_secs(60), |t| {
        t.contains_key("bugs-4")
    });
    // A few more polls after that change nothing.
    let polls_before = gh.requests().len();
    assert!(
        poll(Duration::from_secs(30), || gh.requests().len()
            >= polls_before + 3),
        "serve stopped polling"
    );
    let tasks = task_phases(&env);
    let names: Vec<&str> = spawned_by(&tasks, "bugs-")
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        names,
        ["bugs-1", "bugs-2", "bugs-3", "bugs-4"],
        "no duplicates"
    );

    // The cron spawner fires at the next minute boundary.
    wait_for(&env, "a cron Task", Duration::from_secs(75), |t| {
        spawned_by(t, "tick-")
            .iter()
            .any(|(_, p)| *p == "Succeeded")
    });
    let tasks = task_phases(&env);
    assert!(spawned_by(&tasks, "tick-").len() <= 2, "{tasks:?}");

    // Clean shutdown on SIGTERM; the token appears nowhere in its output.
    let status = serve.terminate();
    let log = serve.log();
    assert!(status.success(), "{status:?}: {log}");
    assert!(log.contains("axon serve: stopped"), "{log}");
    assert!(!log.contains(GITHUB_TOKEN));
    let yaml = env.ok(&["get", "taskspawner", "bugs", "-o", "yaml"]);
    assert!(yaml.contains("totalTasksCreated: 4"), "{yaml}");
    assert!(yaml.contains("spawnedItems:"), "{yaml}");
    assert!(!yaml.contains(GITHUB_TOKEN));
}

/// One loop per spawner per AXON_HOME: while `axon spawner --name nightly` runs, a second one
/// is refused with a message saying why (and `axon serve` leaves that spawner alone).
#[test]
fn a_spawner_runs_in_one_process_only() {
    let env = Env::builder("spawner-lock").build();
    let manifest = env.root().join("cron.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: nightly}\nspec:\n  when: {cron: {schedule: '0 3 * * *'}}\n  taskTemplate:\n    type: claude-code\n    credentials: {type: api-key, secretRef: {name: key}}\n",
    )
    .expect("manifest");
    env.ok(&["apply", "-f", &manifest.display().to_string()]);
    let log = env.root().join("first.log");
    let mut first = env
        .axon_process()
        .args(["spawner", "--name", "nightly"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("axon spawner");
    let started = poll(Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("running TaskSpawner nightly"))
    });
    let second = env.output(&["spawner", "--name", "nightly"]);
    let _ = first.kill();
    let _ = first.wait();
    assert!(
        started,
        "first spawner did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        !second.status.success(),
        "a second loop for the same spawner must be refused"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("already runs in another process"),
        "{stderr}"
    );
}
