//! TaskSpawners end to end on the local backend through the real `axon serve`: a fake GitHub
//! on 127.0.0.1 (reached through `AXON_GITHUB_API_URL`), a Workspace on a bare repo served by
//! `git daemon`, a custom agent (a shell script as `taskTemplate.image`) run in bubblewrap;
//! `axon serve` killed and restarted without duplicating a Task; a cron spawner; and a clean
//! shutdown on SIGTERM.

use assert_cmd::Command;
use axon_testsupport::git_server::GitServer;
use axon_testsupport::github_server::FakeGitHub;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const GITHUB_TOKEN: &str = "ghp_spawner-e2e-SECRET-4242";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("axon-spawner-local-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("scratch");
        std::fs::create_dir_all(dir.path().join("user-home")).expect("home");
        std::fs::write(dir.path().join("config.yaml"), "backend: local\n").expect("config");
        Env { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("axon-home")
    }

    fn command(&self, program: &str) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        c.env("AXON_HOME", self.home())
            .env("HOME", self.dir.path().join("user-home"))
            .env("AXON_CONFIG", self.dir.path().join("config.yaml"))
            .env("AXON_BACKEND", "local");
        c
    }

    fn axon(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        Command::from_std(self.command(env!("CARGO_BIN_EXE_axon")))
            .args(args)
            .timeout(Duration::from_secs(60))
            .assert()
    }

    fn serve(&self, github: &FakeGitHub) -> Serve {
        let log = self.dir.path().join("serve.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log");
        let child = self
            .command(env!("CARGO_BIN_EXE_axon"))
            .arg("serve")
            .env("AXON_GITHUB_API_URL", github.base_url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("axon serve");
        Serve { child, log }
    }

    fn tasks(&self) -> BTreeMap<String, String> {
        let a = self.axon(&["get", "tasks", "-o", "json"]).success();
        let v: Value = serde_json::from_slice(&a.get_output().stdout).unwrap_or(Value::Null);
        let items = match &v {
            Value::Array(a) => a.clone(),
            Value::Object(o) if o.contains_key("items") => {
                o["items"].as_array().cloned().unwrap_or_default()
            }
            Value::Object(_) => vec![v.clone()],
            _ => Vec::new(),
        };
        items
            .iter()
            .map(|t| {
                (
                    t["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    t["status"]["phase"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        ok: impl Fn(&BTreeMap<String, String>) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            let tasks = self.tasks();
            if ok(&tasks) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {tasks:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
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
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "axon serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
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
    let env = Env::new();
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
    let agent = env.dir.path().join("agent.sh");
    std::fs::write(&agent, "#!/bin/sh\necho \"working on: $1\"\nexit 0\n").expect("agent");
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    env.axon(&[
        "create",
        "secret",
        "key",
        "--from-literal",
        "ANTHROPIC_API_KEY=sk-x",
    ])
    .success();
    env.axon(&[
        "create",
        "secret",
        "gh",
        "--from-literal",
        &format!("GITHUB_TOKEN={GITHUB_TOKEN}"),
    ])
    .success();
    let manifests = env.dir.path().join("spawners.yaml");
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
    env.axon(&["apply", "-f", &manifests.to_string_lossy()])
        .success();

    // Without `axon serve`, `get taskspawners` says so.
    let get = env.axon(&["get", "taskspawners"]).success();
    let note = String::from_utf8_lossy(&get.get_output().stderr).to_string();
    assert!(note.contains("no `axon serve` is running"), "{note}");

    let mut serve = env.serve(&gh);
    let started = Instant::now();
    env.wait_for("three succeeded Tasks", Duration::from_secs(120), |t| {
        let bugs = spawned_by(t, "bugs-");
        bugs.len() == 3 && bugs.iter().all(|(_, p)| *p == "Succeeded")
    });
    eprintln!("3 issues to 3 succeeded Tasks in {:?}", started.elapsed());
    let get = env.axon(&["get", "taskspawners"]).success();
    assert!(
        !String::from_utf8_lossy(&get.get_output().stderr).contains("no `axon serve`"),
        "serve is running"
    );
    let logs = env.axon(&["logs", "bugs-2"]).success();
    assert!(
        String::from_utf8_lossy(&logs.get_output().stdout)
            .contains("working on: Fix #2: typo in README")
    );

    // Kill serve hard, restart it: a new issue gets its Task, the old ones are not repeated.
    serve.kill();
    let mut serve = env.serve(&gh);
    gh.add_issue("new after restart", "", &[]);
    env.wait_for("bugs-4", Duration::from_secs(60), |t| {
        t.contains_key("bugs-4")
    });
    // A few more polls after that change nothing.
    let polls_before = gh.requests().len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while gh.requests().len() < polls_before + 3 {
        assert!(Instant::now() < deadline, "serve stopped polling");
        std::thread::sleep(Duration::from_millis(100));
    }
    let tasks = env.tasks();
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
    env.wait_for("a cron Task", Duration::from_secs(75), |t| {
        spawned_by(t, "tick-")
            .iter()
            .any(|(_, p)| *p == "Succeeded")
    });
    let tasks = env.tasks();
    assert!(spawned_by(&tasks, "tick-").len() <= 2, "{tasks:?}");

    // Clean shutdown on SIGTERM; the token appears nowhere in its output.
    let status = serve.terminate();
    let log = serve.log();
    assert!(status.success(), "{status:?}: {log}");
    assert!(log.contains("axon serve: stopped"), "{log}");
    assert!(!log.contains(GITHUB_TOKEN));
    let spawner = env
        .axon(&["get", "taskspawner", "bugs", "-o", "yaml"])
        .success();
    let yaml = String::from_utf8_lossy(&spawner.get_output().stdout).to_string();
    assert!(yaml.contains("totalTasksCreated: 4"), "{yaml}");
    assert!(yaml.contains("spawnedItems:"), "{yaml}");
    assert!(!yaml.contains(GITHUB_TOKEN));
}
