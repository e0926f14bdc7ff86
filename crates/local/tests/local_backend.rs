//! End to end through the library API: a real engine and supervisors (the crate's helper
//! binary, re-executed), real bubblewrap, real git against `git daemon` on 127.0.0.1, and
//! custom agents (shell scripts named by `spec.image`) that commit and push.

use axon_api::loader::load_str;
use axon_api::{Kind, Resource, Task, TaskPhase};
use axon_local::LocalBackend;
use axon_testsupport::git_server::GitServer;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

const SECRET_VALUE: &str = "sk-test-VERY-secret-4242";

/// The test's scratch directory, under the target directory: outside /tmp (which the sandbox
/// replaces) when the checkout is, so hiding is really tested there. Nothing an agent must see
/// lives here: a checkout under /tmp hides it all.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("axon-local-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("scratch dir")
}

/// The fake "real" HOME of the user, with a planted secret file; set once for the process.
fn fake_home() -> PathBuf {
    static ONCE: Once = Once::new();
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fake-user-home");
    ONCE.call_once(|| {
        std::fs::create_dir_all(home.join(".ssh")).expect("fake home");
        std::fs::write(home.join(".ssh/id_planted"), "PLANTED-PRIVATE-KEY").expect("plant");
        // SAFETY: set once, before any backend reads it; tests only read HOME afterwards.
        unsafe { std::env::set_var("HOME", &home) };
    });
    home
}

struct Env {
    _dir: tempfile::TempDir,
    home: PathBuf,
    bin: PathBuf,
    git: GitServer,
    backend: LocalBackend,
}

impl Env {
    async fn new() -> Env {
        fake_home();
        let dir = scratch();
        let home = dir.path().join("axon-home");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let git = GitServer::start().expect("git daemon");
        let backend =
            LocalBackend::open_with_exe(&home, Path::new(env!("CARGO_BIN_EXE_axon-local-helper")))
                .expect("open");
        backend.set_concurrency(4);
        let mut data = BTreeMap::new();
        data.insert("ANTHROPIC_API_KEY".to_string(), SECRET_VALUE.to_string());
        backend.create_secret("key", data).await.expect("secret");
        let ws = format!(
            "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {{name: ws}}\nspec: {{repo: {:?}, ref: main}}\n",
            git.url()
        );
        backend.apply(one(&ws)).await.expect("workspace");
        Env {
            _dir: dir,
            home,
            bin,
            git,
            backend,
        }
    }

    /// Write an agent script.
    fn agent(&self, name: &str, body: &str) -> PathBuf {
        let p = self.bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("agent");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    async fn run(&self, name: &str, agent: &Path, extra: &str) {
        let yaml = format!(
            "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {{name: {name}}}\nspec:\n  type: claude-code\n  prompt: work on {name}\n  credentials: {{type: api-key, secretRef: {{name: key}}}}\n  image: {:?}\n{extra}",
            agent.display()
        );
        self.backend.apply(one(&yaml)).await.expect("apply task");
    }

    async fn task(&self, name: &str) -> Option<Task> {
        match self.backend.get(Kind::Task, name).await.expect("get") {
            Some(Resource::Task(t)) => Some(*t),
            _ => None,
        }
    }

    async fn phase(&self, name: &str) -> Option<TaskPhase> {
        self.task(name).await.and_then(|t| t.status?.phase)
    }

    /// Poll until `f` holds (deadline 60 s).
    async fn until<F: AsyncFnMut() -> bool>(&self, what: &str, mut f: F) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn wait(&self, name: &str) -> Task {
        tokio::time::timeout(Duration::from_secs(90), self.backend.wait(name))
            .await
            .expect("task finished in time")
            .expect("wait")
    }

    fn run_dir(&self, t: &Task) -> PathBuf {
        self.home
            .join("tasks")
            .join(t.metadata.uid.as_deref().expect("uid"))
    }

    /// Let the [`GATED`] agent of `name` finish once it waits: the gate is a file in its work
    /// tree, the one host directory it sees wherever the test runs (the sandbox hides a
    /// scratch directory under /tmp).
    async fn open_gate(&self, name: &str) {
        let mut work = None;
        self.until(&format!("{name} waiting at its gate"), async || {
            work = self
                .task(name)
                .await
                .map(|t| self.run_dir(&t).join("work"))
                .filter(|w| w.join("waiting").exists());
            work.is_some()
        })
        .await;
        std::fs::write(work.expect("work tree").join("gate"), "").expect("open gate");
    }
}

/// An agent that waits until its gate is opened ([`Env::open_gate`]).
const GATED: &str = "touch waiting\nwhile [ ! -e gate ]; do sleep 0.05; done";

/// A failed test must not leave its engine and agents running: stop them.
impl Drop for Env {
    fn drop(&mut self) {
        let pid = |p: PathBuf| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .filter(|p| *p > 1)
        };
        let runs = std::fs::read_dir(self.home.join("tasks"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_else(|_| Vec::new());
        let pids = runs
            .into_iter()
            .filter_map(|r| pid(r.join("supervisor.pid")))
            .chain(pid(self.home.join("engine.pid")));
        for p in pids {
            // SAFETY: kill(2) on processes this test started.
            unsafe { libc::kill(p, libc::SIGTERM) };
        }
    }
}

fn one(yaml: &str) -> Resource {
    load_str("test.yaml", yaml)
        .expect("valid yaml")
        .remove(0)
        .resource
}

const PUSH_AGENT: &str = r#"set -e
test -n "$ANTHROPIC_API_KEY" || { echo "no credential"; exit 3; }
echo "agent starting in $(pwd): $1"
git checkout -q -b "axon/$AXON_TASK"
echo "$1" > agent.txt
git add agent.txt
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm "agent: $1"
git push -q origin "axon/$AXON_TASK"
echo "agent done""#;

#[tokio::test]
async fn custom_agent_commits_and_pushes() {
    let env = Env::new().await;
    let agent = env.agent("push.sh", PUSH_AGENT);
    env.run("push", &agent, "  workspaceRef: {name: ws}\n")
        .await;
    let t = env.wait("push").await;
    let s = t.status.clone().expect("status");
    assert_eq!(s.phase, Some(TaskPhase::Succeeded), "{s:?}");
    let out = s.outputs.expect("outputs");
    assert_eq!(out.branch.as_deref(), Some("axon/push"));
    assert_eq!(out.base_branch.as_deref(), Some("main"));
    assert_eq!(out.commits.len(), 1);
    assert!(out.pushed);
    assert!(s.start_time.is_some() && s.completion_time.is_some() && s.pod_name.is_some());
    // The push is in the served repository.
    assert_eq!(
        env.git.file_at("axon/push", "agent.txt").as_deref(),
        Some("work on push\n")
    );
    assert_eq!(env.git.commits("axon/push")[0].sha, out.commits[0]);
    // Logs are the agent's own output.
    let mut log = Vec::new();
    env.backend
        .logs("push", false, &mut log)
        .await
        .expect("logs");
    let log = String::from_utf8_lossy(&log);
    assert!(
        log.contains("agent starting") && log.contains("agent done"),
        "{log}"
    );

    // The secret value is nowhere: not in the resource, logs, or the store file.
    let yaml = serde_json::to_string(&Resource::Task(Box::new(t)).to_value()).expect("json");
    assert!(!yaml.contains(SECRET_VALUE));
    assert!(!log.contains(SECRET_VALUE));
    for f in ["axon.db", "axon.db-wal"] {
        if let Ok(bytes) = std::fs::read(env.home.join(f)) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(SECRET_VALUE),
                "{f}"
            );
        }
    }
    // The second Task on the repository clones from the mirror cache.
    env.run("push2", &agent, "  workspaceRef: {name: ws}\n")
        .await;
    assert_eq!(
        env.wait("push2").await.status.and_then(|s| s.phase),
        Some(TaskPhase::Succeeded)
    );
    let mirrors = std::fs::read_dir(env.home.join("cache/git"))
        .expect("cache")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "git"))
        })
        .count();
    assert_eq!(mirrors, 1);
}

#[tokio::test]
async fn concurrency_limit_queues_the_third_task() {
    let env = Env::new().await;
    env.backend.set_concurrency(2);
    let agent = env.agent("gated.sh", &format!("{GATED}\necho ran"));
    for n in ["q1", "q2", "q3"] {
        env.run(n, &agent, "").await;
    }
    env.until("two Running", async || {
        let mut running = 0;
        for n in ["q1", "q2", "q3"] {
            running += usize::from(env.phase(n).await == Some(TaskPhase::Running));
        }
        running == 2
    })
    .await;
    let waiting = env
        .task("q3")
        .await
        .and_then(|t| t.status)
        .expect("q3 status");
    assert_eq!(waiting.phase, Some(TaskPhase::Pending));
    assert_eq!(
        waiting.message.as_deref(),
        Some("waiting for a free slot (2 of 2 running)")
    );
    for n in ["q1", "q2", "q3"] {
        env.open_gate(n).await;
    }
    for n in ["q1", "q2", "q3"] {
        let t = env.wait(n).await;
        assert_eq!(
            t.status.and_then(|s| s.phase),
            Some(TaskPhase::Succeeded),
            "{n}"
        );
    }
}

#[tokio::test]
async fn timeout_kills_the_agent() {
    let env = Env::new().await;
    let agent = env.agent("slow.sh", "echo slow; sleep 600");
    let started = Instant::now();
    env.run("slow", &agent, "  timeoutSeconds: 1\n").await;
    let s = env.wait("slow").await.status.expect("status");
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    assert_eq!(
        s.message.as_deref(),
        Some("timed out after 1s (timeoutSeconds) and was killed")
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read(e.path().join("cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn deleting_a_running_task_kills_its_tree() {
    let env = Env::new().await;
    // The agent starts a grandchild that would outlive a naive kill.
    let marker = format!("del-marker-{}", std::process::id());
    let agent = env.agent(
        &format!("tree-{marker}.sh"),
        &format!("sh -c 'sleep 600 ; echo {marker}' &\necho started\nsleep 600"),
    );
    env.run("doomed", &agent, "").await;
    env.until("Running", async || {
        env.phase("doomed").await == Some(TaskPhase::Running)
    })
    .await;
    let t = env.task("doomed").await.expect("task");
    let dir = env.run_dir(&t);
    env.until("the agent's processes", async || {
        processes_with(&marker) >= 2
    })
    .await;
    assert!(
        env.backend
            .delete(Kind::Task, "doomed")
            .await
            .expect("delete")
    );
    assert!(env.task("doomed").await.is_none());
    assert!(!dir.exists());
    env.until("every process gone", async || processes_with(&marker) == 0)
        .await;
}

/// "write-outside" writes the agent's own script (a host file the caller owns, bound
/// read-only); a write to the scratch directory is judged on the host (with the scratch
/// directory under /tmp, that path is in the agent's private /tmp, where a write is no escape).
#[tokio::test]
async fn the_sandbox_hides_home_and_is_read_only_outside_the_tree() {
    let env = Env::new().await;
    let home = fake_home();
    let outside = env.bin.join("escaped.txt");
    let script = env.bin.join("escape.sh");
    let agent = env.agent(
        "escape.sh",
        &format!(
            r#"r() {{ if "$@" 2>/dev/null; then echo ok; else echo blocked; fi; }}
{{
echo "read-planted=$(r cat {planted:?})"
echo "write-outside=$(r sh -c 'echo x >> {script:?}')"
echo "write-home=$(r sh -c 'echo x > {home:?}/new.txt')"
echo "list-axon-home=$(r ls {axon:?}/secrets/key.json)"
echo "write-tree=$(r sh -c 'echo x > ./inside.txt')"
echo "write-tmp=$(r sh -c 'echo x > /tmp/t.txt')"
}} > report.txt
{{ echo x > {outside:?}; }} 2>/dev/null || true"#,
            planted = home.join(".ssh/id_planted"),
            home = home,
            axon = env.home,
        ),
    );
    let written = std::fs::read_to_string(&agent).expect("the agent script");
    env.run("escape", &agent, "").await;
    let t = env.wait("escape").await;
    assert_eq!(
        t.status.as_ref().and_then(|s| s.phase),
        Some(TaskPhase::Succeeded)
    );
    let report = std::fs::read_to_string(env.run_dir(&t).join("work/report.txt")).expect("report");
    assert_eq!(
        report,
        "read-planted=blocked\nwrite-outside=blocked\nwrite-home=blocked\nlist-axon-home=blocked\nwrite-tree=ok\nwrite-tmp=ok\n"
    );
    assert_eq!(agent, script);
    assert_eq!(
        std::fs::read_to_string(&script).expect("the agent script"),
        written,
        "the agent script is unchanged"
    );
    assert!(!outside.exists());
    assert!(!home.join("new.txt").exists());
}

#[tokio::test]
async fn setup_failures_say_why() {
    let env = Env::new().await;
    let agent = env.agent("noop.sh", "echo hi");
    let ws = "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: gone}\nspec: {repo: \"git://127.0.0.1:9/nope.git\"}\n";
    env.backend.apply(one(ws)).await.expect("ws");
    env.run("badclone", &agent, "  workspaceRef: {name: gone}\n")
        .await;
    let m = env
        .wait("badclone")
        .await
        .status
        .and_then(|s| s.message)
        .unwrap_or_default();
    assert!(
        m.starts_with("workspace clone failed: git clone --mirror"),
        "{m}"
    );
    assert!(
        m.contains("unable to connect") || m.contains("refused"),
        "{m}"
    );

    let yaml = format!(
        "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {{name: nokey}}\nspec:\n  type: codex\n  prompt: p\n  credentials: {{type: api-key, secretRef: {{name: missing}}}}\n  image: {:?}\n",
        agent.display()
    );
    env.backend.apply(one(&yaml)).await.expect("apply");
    // A missing Secret is waited for (it may be created right after the Task), saying so...
    env.until("nokey waits for its Secret", async || {
        env.task("nokey").await.and_then(|t| t.status).is_some_and(|s| {
            s.phase == Some(TaskPhase::Pending)
                && s.message.as_deref()
                    == Some("Secret \"missing\" (with key CODEX_API_KEY) not found (waiting up to 30s for it to be created)")
        })
    })
    .await;
    // ...and the Task runs once it exists.
    env.backend
        .create_secret(
            "missing",
            std::collections::BTreeMap::from([("CODEX_API_KEY".to_string(), "k".to_string())]),
        )
        .await
        .expect("secret");
    let s = env.wait("nokey").await.status.expect("status");
    assert_eq!(s.phase, Some(TaskPhase::Succeeded), "{s:?}");
}

#[tokio::test]
async fn ttl_deletes_finished_tasks_and_logs_follow() {
    let env = Env::new().await;
    let agent = env.agent(
        "talk.sh",
        "for i in 1 2 3; do echo line $i; sleep 0.1; done",
    );
    env.run("talk", &agent, "  ttlSecondsAfterFinished: 2\n")
        .await;
    let mut out = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(60),
        env.backend.logs("talk", true, &mut out),
    )
    .await
    .expect("follow ends with the task")
    .expect("logs");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "line 1\nline 2\nline 3\naxon: agent succeeded\n"
    );
    let t = env.task("talk").await.expect("kept until its TTL");
    let dir = env.run_dir(&t);
    env.until("TTL deletion", async || {
        env.task("talk").await.is_none() && !dir.exists()
    })
    .await;
}

#[tokio::test]
async fn engine_killed_mid_run_then_recovery() {
    let env = Env::new().await;
    env.backend.set_concurrency(1);
    let agent = env.agent("gated.sh", &format!("{GATED}\necho ran once >> runs"));
    env.run("first", &agent, "").await;
    env.run("second", &agent, "").await;
    env.until("first Running", async || {
        env.phase("first").await == Some(TaskPhase::Running)
    })
    .await;
    let pid: i32 = std::fs::read_to_string(env.home.join("engine.pid"))
        .expect("engine pid")
        .trim()
        .parse()
        .expect("pid");
    // SAFETY: kill(2) on the engine we started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    // The next command adopts the live run (its supervisor survived) and starts no duplicate.
    let next = LocalBackend::open_with_exe(
        &env.home,
        Path::new(env!("CARGO_BIN_EXE_axon-local-helper")),
    )
    .expect("reopen");
    assert_eq!(env.phase("first").await, Some(TaskPhase::Running));
    assert_eq!(env.phase("second").await, Some(TaskPhase::Pending));
    for n in ["first", "second"] {
        env.open_gate(n).await;
        let t = tokio::time::timeout(Duration::from_secs(60), next.wait(n))
            .await
            .expect("in time")
            .expect("wait");
        assert_eq!(
            t.status.and_then(|s| s.phase),
            Some(TaskPhase::Succeeded),
            "{n}"
        );
    }
    // Each ran exactly once.
    for n in ["first", "second"] {
        let t = env.task(n).await.expect("task");
        let runs = std::fs::read_to_string(env.run_dir(&t).join("work/runs")).unwrap_or_default();
        assert_eq!(runs, "ran once\n", "{n}");
    }

    // A supervisor killed with its engine: the run is failed as orphaned, never re-run.
    env.run("orphan", &agent, "").await;
    env.until("orphan Running", async || {
        env.phase("orphan").await == Some(TaskPhase::Running)
    })
    .await;
    let t = env.task("orphan").await.expect("task");
    let sup: i32 = std::fs::read_to_string(env.run_dir(&t).join("supervisor.pid"))
        .expect("supervisor pid")
        .trim()
        .parse()
        .expect("pid");
    let engine: i32 = std::fs::read_to_string(env.home.join("engine.pid"))
        .expect("engine pid")
        .trim()
        .parse()
        .expect("pid");
    // SAFETY: kill(2) on processes we started.
    unsafe {
        libc::kill(engine, libc::SIGKILL);
        libc::kill(sup, libc::SIGKILL);
    }
    env.until("orphan failed", async || {
        let _ = LocalBackend::open_with_exe(
            &env.home,
            Path::new(env!("CARGO_BIN_EXE_axon-local-helper")),
        );
        env.phase("orphan").await == Some(TaskPhase::Failed)
    })
    .await;
    let m = env
        .task("orphan")
        .await
        .and_then(|t| t.status?.message)
        .unwrap_or_default();
    assert!(
        m.starts_with("the run of this Task stopped: its supervisor process exited"),
        "{m}"
    );
}
