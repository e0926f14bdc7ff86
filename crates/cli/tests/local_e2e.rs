//! The local backend end to end through the real `axon` binary, as a user runs it: a clean
//! environment (`env_clear`, PATH only) with a temp HOME and AXON_HOME, custom agents given as
//! shell scripts with `axon run --image` (run by `axon agent run --entrypoint` inside
//! bubblewrap), a bare repository served by `git daemon` on 127.0.0.1, and the detached engine
//! the commands start on demand. Each scenario of the local backend issue's Tests section:
//! push → Succeeded with branch and commit; concurrency 2 with a third Task Pending; timeout;
//! delete kills the process tree; cancel kills it too (by pid) and survives a killed
//! supervisor; engine SIGKILLed mid-run then recovered by the next command;
//! sandbox escapes fail; a secret never shows; `logs -f` follows to the end; TTL deletion.
//!
//! Agents that must stay running block on a "gate" file the test creates in their work tree
//! (the one host directory an agent sees wherever the scratch directory is: the sandbox hides
//! the host's /tmp); every wait is a poll with a deadline.

mod support;

use axon_testsupport::git_server::GitServer;
use serde_json::Value;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use support::{DEADLINE, poll, read_pid, str_at, text, until};

const SECRET_VALUE: &str = "sk-e2e-VERY-secret-7373";

/// The shared harness, with this file's scenario helpers.
struct Env(support::Env);

impl Deref for Env {
    type Target = support::Env;

    fn deref(&self) -> &support::Env {
        &self.0
    }
}

impl Env {
    /// A user HOME holding a planted private key, an AXON_HOME with `config` as its config
    /// file, and a secret `key` holding the agent credential.
    fn new(config: &str) -> Env {
        let env = Env(support::Env::builder("e2e").config(config).build());
        std::fs::create_dir_all(env.user_home().join(".ssh")).expect("home");
        std::fs::write(env.planted(), "PLANTED-PRIVATE-KEY").expect("plant");
        env.create_secret("key", "ANTHROPIC_API_KEY", SECRET_VALUE);
        env
    }

    fn planted(&self) -> PathBuf {
        self.user_home().join(".ssh/id_planted")
    }

    /// Let the gated agent of Task `name` go on, once it waits at its gate (a file in its work
    /// tree).
    fn open_gate(&self, name: &str) {
        let mut work = None;
        until(&format!("Task {name} waiting at its gate"), || {
            work = self
                .task(name)
                .map(|_| self.run_dir(name).join("work"))
                .filter(|w| w.join("waiting").exists());
            work.is_some()
        });
        std::fs::write(work.expect("work tree").join("gate"), "").expect("open the gate");
    }

    /// `axon run --name NAME --secret key --image AGENT extra...` (returns at once unless
    /// `extra` has `-w`).
    fn run(&self, name: &str, agent: &Path, extra: &[&str]) -> Output {
        let agent = agent.to_string_lossy();
        let mut args = vec![
            "run",
            "--name",
            name,
            "-p",
            "do the work",
            "--secret",
            "key",
            "--image",
            &agent,
        ];
        args.extend_from_slice(extra);
        self.output(&args)
    }

    /// An agent that prints `before gate`, waits for its gate ([`Env::open_gate`]), then runs
    /// `then`.
    fn gated_agent(&self, name: &str, then: &str) -> PathBuf {
        self.agent(
            name,
            &format!(
                "echo \"before gate: $AXON_TASK\"\ntouch waiting\nwhile [ ! -e gate ]; do sleep 0.05; done\necho \"after gate: $AXON_TASK\"\n{then}"
            ),
        )
    }

    fn phase(&self, name: &str) -> Option<String> {
        self.task(name)
            .and_then(|t| str_at(&t, "/status/phase").map(str::to_string))
    }

    /// Every Task, by `get tasks -o json`: (name, phase, message).
    fn tasks(&self) -> Vec<(String, String, String)> {
        self.task_list()
            .iter()
            .map(|t| {
                let s = |p: &str| str_at(t, p).unwrap_or_default().to_string();
                (
                    s("/metadata/name"),
                    s("/status/phase"),
                    s("/status/message"),
                )
            })
            .collect()
    }

    /// The run directory of Task `name` (AXON_HOME/tasks/UID).
    fn run_dir(&self, name: &str) -> PathBuf {
        let t = self.task(name).expect("task exists");
        self.home()
            .join("tasks")
            .join(str_at(&t, "/metadata/uid").expect("uid"))
    }

    /// Poll until the Task reaches `phase`; returns it.
    fn until_phase(&self, name: &str, phase: &str) -> Value {
        let mut last = None;
        until(&format!("Task {name} {phase}"), || {
            last = self.task(name);
            last.as_ref().and_then(|t| str_at(t, "/status/phase")) == Some(phase)
        });
        last.expect("task")
    }
}

fn kill(pid: i32, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {signal} {pid}");
}

/// Whether a process (not a zombie) is alive.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// How many live processes have `marker` in their command line.
fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let pid = e.file_name().to_string_lossy().parse::<i32>().ok();
                    pid.is_some_and(alive)
                        && std::fs::read(e.path().join("cmdline"))
                            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
                })
                .count()
        })
        .unwrap_or(0)
}

/// A custom agent edits a file, commits on a new branch and pushes to a `git daemon`: the Task
/// ends Succeeded with the branch and the pushed commit in `get -o json`, and the push is in the
/// bare repository. The agent prints its credential on stdout and stderr: the value shows
/// nowhere (`get -o yaml`/`json`, `logs`, `logs --raw`, the SQLite file and its WAL).
#[test]
fn custom_agent_pushes_a_branch_and_the_secret_never_shows() {
    let env = Env::new("");
    let git = GitServer::start().expect("git daemon");
    env.create_workspace("ws", &git.url());
    let agent = env.agent(
        "push.sh",
        r#"set -e
test -n "$ANTHROPIC_API_KEY" || { echo "no credential"; exit 3; }
echo "custom agent at work: $1"
echo "credential on stdout: $ANTHROPIC_API_KEY"
echo "credential on stderr: $ANTHROPIC_API_KEY" >&2
git checkout -q -b "axon/$AXON_TASK"
echo "$1" > agent.txt
git add agent.txt
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm "agent: $1"
git push -q origin "axon/$AXON_TASK"
echo "agent done""#,
    );
    let out = env.run("push", &agent, &["--workspace", "ws", "-w"]);
    assert!(out.status.success(), "{}", text(&out));

    let task = env.task("push").expect("task");
    assert_eq!(
        str_at(&task, "/status/phase"),
        Some("Succeeded"),
        "{task:#}"
    );
    assert_eq!(
        str_at(&task, "/status/outputs/branch"),
        Some("axon/push"),
        "{task:#}"
    );
    let pushed = git.commits("axon/push");
    assert_eq!(pushed.len(), 2, "the agent's commit on top of main");
    assert_eq!(
        str_at(&task, "/status/outputs/commits/0"),
        Some(pushed[0].sha.as_str()),
        "{task:#}"
    );
    assert_eq!(
        task.pointer("/status/outputs/pushed"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        git.file_at("axon/push", "agent.txt").as_deref(),
        Some("do the work\n")
    );

    // The next Task on the repository clones through the mirror cache (one mirror) and sees
    // what the first one pushed (the mirror was fetched for it).
    let look = env.agent(
        "look.sh",
        "echo \"pushed before me: $(git rev-parse origin/axon/push)\"",
    );
    let out = env.run("look", &look, &["--workspace", "ws", "-w"]);
    assert!(out.status.success(), "{}", text(&out));
    let seen = env.ok(&["logs", "look", "--raw"]);
    assert!(
        seen.contains(&format!("pushed before me: {}", pushed[0].sha)),
        "{seen}"
    );
    let mirrors = std::fs::read_dir(env.home().join("cache/git"))
        .expect("mirror cache")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "git"))
        })
        .count();
    assert_eq!(mirrors, 1);

    let logs = env.ok(&["logs", "push"]);
    assert!(
        logs.contains("custom agent at work: do the work") && logs.contains("agent done"),
        "{logs}"
    );
    let raw = env.ok(&["logs", "push", "--raw"]);
    assert!(raw.contains("credential on stdout"), "{raw}");
    let shown = [
        text(&out),
        env.ok(&["get", "task", "push", "-o", "yaml"]),
        env.ok(&["get", "tasks", "-o", "json"]),
        env.ok(&["get", "tasks", "-o", "wide"]),
        logs,
        raw,
    ];
    for s in &shown {
        assert!(!s.contains(SECRET_VALUE), "the secret leaked:\n{s}");
    }
    for f in ["axon.db", "axon.db-wal", "axon.db-shm"] {
        let bytes = std::fs::read(env.home().join(f)).unwrap_or_default();
        assert!(
            !bytes
                .windows(SECRET_VALUE.len())
                .any(|w| w == SECRET_VALUE.as_bytes()),
            "the secret is in {f}"
        );
    }
    assert!(
        std::fs::read(env.home().join("axon.db")).is_ok_and(|b| !b.is_empty()),
        "the store exists"
    );
}

/// `concurrency: 2` in the config file, three Tasks at once: two run, the third waits Pending
/// with a message saying why, then runs when a slot frees; all three succeed.
#[test]
fn concurrency_two_queues_the_third_task() {
    let env = Env::new("concurrency: 2\n");
    let agent = env.gated_agent("gated.sh", "");
    for n in ["q1", "q2", "q3"] {
        let out = env.run(n, &agent, &[]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let mut seen = Vec::new();
    until("two Running and one Pending", || {
        seen = env.tasks();
        let count = |p: &str| seen.iter().filter(|t| t.1 == p).count();
        count("Running") == 2 && count("Pending") == 1
    });
    let waiting: Vec<_> = seen.iter().filter(|t| t.1 == "Pending").collect();
    assert_eq!(
        waiting[0].2, "waiting for a free slot (2 of 2 running)",
        "{seen:?}"
    );
    // It stays Pending while the other two run.
    assert_eq!(env.phase(&waiting[0].0).as_deref(), Some("Pending"));
    for n in ["q1", "q2", "q3"] {
        env.open_gate(n);
    }
    for n in ["q1", "q2", "q3"] {
        env.until_phase(n, "Succeeded");
    }
}

/// `--timeout 2s`: the agent is killed and the Task fails saying so; `-w` exits non-zero.
#[test]
fn timeout_fails_the_task() {
    let env = Env::new("");
    let agent = env.agent("slow.sh", "echo slow; sleep 600");
    let started = Instant::now();
    let out = env.run("slow", &agent, &["--timeout", "2s", "-w"]);
    assert!(!out.status.success(), "{}", text(&out));
    let t = env.task("slow").expect("task");
    assert_eq!(str_at(&t, "/status/phase"), Some("Failed"));
    assert_eq!(
        str_at(&t, "/status/message"),
        Some("timed out after 2s (timeoutSeconds) and was killed")
    );
    assert!(started.elapsed() < Duration::from_secs(40));
}

/// `axon delete task` of a running Task kills its whole process tree: the agent backgrounds
/// a grandchild writing a heartbeat file (kept open, hard-linked outside the run directory by
/// the test so it survives the deletion); after the delete every process is gone and the
/// heartbeat stops.
#[test]
fn deleting_a_running_task_kills_its_process_tree() {
    let env = Env::new("");
    let marker = format!("axon-e2e-heartbeat-{}", std::process::id());
    let agent = env.agent(
        "tree.sh",
        &format!(
            "sh -c 'exec 3>>heartbeat; while :; do echo beat >&3; sleep 0.05; done; : {marker}' &\necho started\nsleep 600"
        ),
    );
    let out = env.run("doomed", &agent, &[]);
    assert!(out.status.success(), "{}", text(&out));
    env.until_phase("doomed", "Running");
    let dir = env.run_dir("doomed");
    let heartbeat = dir.join("work/heartbeat");
    until("a heartbeat", || {
        std::fs::metadata(&heartbeat).is_ok_and(|m| m.len() > 0)
    });
    let kept = env.root().join("heartbeat");
    std::fs::hard_link(&heartbeat, &kept).expect("link the heartbeat");
    assert!(processes_with(&marker) >= 1);

    env.ok(&["delete", "task", "doomed"]);
    assert!(env.task("doomed").is_none());
    assert!(!dir.exists(), "the run directory is removed");
    until("every process of the Task gone", || {
        processes_with(&marker) == 0
    });
    // Nothing writes the heartbeat any more.
    let len = std::fs::metadata(&kept).expect("heartbeat").len();
    let window = Instant::now() + Duration::from_millis(300);
    while Instant::now() < window {
        assert_eq!(std::fs::metadata(&kept).expect("heartbeat").len(), len);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The live processes with `marker` in their command line (arguments joined by spaces), by
/// pid.
fn pids_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| {
                    let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
                    let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    (alive(pid) && cmdline.contains(marker)).then_some(pid)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `axon cancel` on a running Task whose agent started processes in and out of its process
/// group (`setsid`), with and without the sandbox: the command returns once the Task is
/// `Cancelled`, and by then every one of those processes (by pid, as seen before the cancel)
/// is gone. The Task is not Failed and its message says who asked.
#[test]
fn cancelling_a_running_task_kills_every_agent_process_by_pid() {
    let env = Env::new("");
    for (name, sandbox) in [("boxed", None), ("bare", Some("none"))] {
        let marker = format!("{}{}", 6_100_000 + std::process::id() % 100_000, name.len());
        let agent = env.agent(
            &format!("{name}.sh"),
            &format!(
                "setsid sleep {marker} &\nsh -c 'sleep {marker}; : child' &\necho started\nsleep {marker}"
            ),
        );
        let mut extra = vec![];
        if let Some(s) = sandbox {
            extra.extend(["--sandbox", s]);
        }
        let agent_s = agent.to_string_lossy().to_string();
        let mut args = vec![
            "run", "--name", name, "-p", "work", "--secret", "key", "--image", &agent_s,
        ];
        args.extend(extra.iter().copied());
        env.ok(&args);
        env.until_phase(name, "Running");
        let mut before = vec![];
        let started = poll(DEADLINE, || {
            before = pids_with(&format!("sleep {marker}"));
            before.len() >= 3
        });
        assert!(
            started,
            "the agent's sleeps never ran ({before:?}): {}",
            env.ok(&["logs", name])
        );
        let out = env.ok(&["cancel", name]);
        assert!(out.contains(&format!("task/{name} cancelled")), "{out}");
        let t = env.task(name).expect("task");
        assert_eq!(str_at(&t, "/status/phase"), Some("Cancelled"), "{t:#}");
        assert_eq!(
            str_at(&t, "/status/message"),
            Some("cancelled (axon cancel)"),
            "{t:#}"
        );
        until("every process of the agent gone", || {
            before.iter().all(|p| !alive(*p))
        });
        assert!(pids_with(&format!("sleep {marker}")).is_empty());
    }
}

/// A cancel survives the supervisor dying before it acted: the supervisor is frozen, the
/// request recorded (`axon cancel --wait=false`), then the supervisor is SIGKILLed without
/// having seen it. The next command records `Cancelled` (not an orphaned `Failed`), and
/// cancelling again is a no-op.
#[test]
fn a_cancel_request_outlives_a_killed_supervisor() {
    let env = Env::new("");
    let agent = env.agent("slow.sh", "echo started\nsleep 600");
    let out = env.run("crashy", &agent, &[]);
    assert!(out.status.success(), "{}", text(&out));
    env.until_phase("crashy", "Running");
    let supervisor = read_pid(&env.run_dir("crashy").join("supervisor.pid")).expect("supervisor");
    let engine = env.engine_pid();
    kill(supervisor, "-STOP");
    let out = env.ok(&["cancel", "crashy", "--wait=false"]);
    assert!(out.contains("cancel requested"), "{out}");
    assert_eq!(env.phase("crashy").as_deref(), Some("Running"));
    if let Some(engine) = engine.filter(|p| alive(*p)) {
        kill(engine, "-KILL");
    }
    kill(supervisor, "-KILL");
    until("the supervisor gone", || !alive(supervisor));
    let t = env.until_phase("crashy", "Cancelled");
    assert_eq!(
        str_at(&t, "/status/message"),
        Some("cancelled (axon cancel)"),
        "{t:#}"
    );
    let again = env.ok(&["cancel", "crashy"]);
    assert!(again.contains("task/crashy already cancelled"), "{again}");
}

/// The engine is SIGKILLed while one Task runs and another waits (concurrency 1): the next
/// `axon get` starts a new engine, which adopts the live run (its supervisor survived) and
/// schedules the waiting one only after it; both succeed, each ran exactly once. Then the
/// engine and a supervisor are killed together: the next command fails that Task as orphaned.
#[test]
fn engine_killed_mid_run_then_recovery() {
    let env = Env::new("concurrency: 1\n");
    let agent = env.gated_agent("gated.sh", "echo ran >> runs\necho \"RUN-MARK $AXON_TASK\"");
    for n in ["first", "second"] {
        let out = env.run(n, &agent, &[]);
        assert!(out.status.success(), "{}", text(&out));
    }
    env.until_phase("first", "Running");
    assert_eq!(env.phase("second").as_deref(), Some("Pending"));
    let engine = env.engine_pid().expect("engine pid");
    kill(engine, "-KILL");
    until("the engine dead", || !alive(engine));

    // Any command recovers: a new engine, the live run adopted, no duplicate start.
    until("a new engine", || {
        env.tasks();
        env.engine_pid().is_some_and(|p| p != engine && alive(p))
    });
    assert_eq!(env.phase("first").as_deref(), Some("Running"));
    assert_eq!(env.phase("second").as_deref(), Some("Pending"));
    for n in ["first", "second"] {
        env.open_gate(n);
        env.until_phase(n, "Succeeded");
        let runs = std::fs::read_to_string(env.run_dir(n).join("work/runs")).unwrap_or_default();
        assert_eq!(runs, "ran\n", "Task {n} ran exactly once");
        let logs = env.ok(&["logs", n, "--raw"]);
        assert_eq!(logs.matches("RUN-MARK").count(), 1, "{logs}");
    }

    // Engine and supervisor killed together: the run is failed as orphaned, never re-run.
    let out = env.run("orphan", &agent, &[]);
    assert!(out.status.success(), "{}", text(&out));
    env.until_phase("orphan", "Running");
    let supervisor = read_pid(&env.run_dir("orphan").join("supervisor.pid")).expect("supervisor");
    let engine = env.engine_pid().expect("engine pid");
    kill(engine, "-KILL");
    kill(supervisor, "-KILL");
    let t = env.until_phase("orphan", "Failed");
    let message = str_at(&t, "/status/message").unwrap_or_default();
    assert!(
        message.starts_with("the run of this Task stopped: its supervisor process exited"),
        "{message}"
    );
    let logs = env.ok(&["logs", "orphan", "--raw"]);
    assert!(!logs.contains("RUN-MARK"), "{logs}");
}

/// Inside the sandbox an agent cannot read a file planted in the user's real HOME, write
/// outside its tree (its own script, a host file the caller owns; the real HOME; the scratch
/// directory), or read AXON_HOME (secrets, the store); it can write its tree and a private
/// /tmp. The agent reports each attempt and exits non-zero if any escape worked. A write to the
/// scratch directory is judged on the host: with the scratch directory under /tmp, that path
/// is in the agent's private /tmp, where a write is no escape. The same agent with `--sandbox
/// none` (which warns) reads the planted file, so the probe is real.
#[test]
fn sandbox_escapes_fail() {
    let env = Env::new("");
    let outside = env.root().join("escaped.txt");
    let script = env.root().join("escape.sh");
    let tmp_probe = format!("axon-e2e-private-tmp-{}", std::process::id());
    let agent = env.agent(
        "escape.sh",
        &format!(
            r#"r() {{ if "$@" >/dev/null 2>&1; then echo ok; else echo blocked; fi; }}
report="read-planted=$(r cat {planted:?})
write-outside=$(r sh -c 'echo x >> {script:?}')
write-home=$(r sh -c 'echo x > {home:?}/new.txt')
read-secret=$(r cat {axon:?}/secrets/key.json)
read-store=$(r cat {axon:?}/axon.db)
write-tree=$(r sh -c 'echo x > ./inside.txt')
write-tmp=$(r sh -c 'echo x > /tmp/{tmp_probe}')"
{{ echo x > {outside:?}; }} 2>/dev/null
echo "$report"
case "$report" in *planted=ok*|*outside=ok*|*home=ok*|*secret=ok*|*store=ok*) exit 1;; esac"#,
            planted = env.planted(),
            home = env.user_home(),
            axon = env.home(),
        ),
    );
    let written = std::fs::read_to_string(&agent).expect("the agent script");
    let out = env.run("escape", &agent, &["-w"]);
    let logs = env.ok(&["logs", "escape", "--raw"]);
    assert!(
        logs.contains(
            "read-planted=blocked\nwrite-outside=blocked\nwrite-home=blocked\nread-secret=blocked\nread-store=blocked\nwrite-tree=ok\nwrite-tmp=ok\n"
        ),
        "{logs}\n{}",
        text(&out)
    );
    assert!(out.status.success(), "no escape worked: {}", text(&out));
    assert_eq!(agent, script);
    assert_eq!(
        std::fs::read_to_string(&script).expect("the agent script"),
        written,
        "the agent script is unchanged"
    );
    assert!(!outside.exists());
    assert!(!env.user_home().join("new.txt").exists());
    assert!(
        !Path::new("/tmp").join(&tmp_probe).exists(),
        "/tmp is private"
    );

    // The agent's exit code says no escape worked... and the probe does detect one.
    let agent_ok = env.agent(
        "escape-ok.sh",
        &format!("cat {:?} && echo read-planted=ok", env.planted()),
    );
    let out = env.run("no-sandbox", &agent_ok, &["--sandbox", "none", "-w"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--sandbox none"),
        "warns: {}",
        text(&out)
    );
    let logs = env.ok(&["logs", "no-sandbox", "--raw"]);
    assert!(
        logs.contains("PLANTED-PRIVATE-KEY") && logs.contains("read-planted=ok"),
        "{logs}"
    );
    let out = env.run("sandboxed", &agent_ok, &["-w"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(env.phase("sandboxed").as_deref(), Some("Failed"));
}

/// `axon logs -f`, started while the agent runs, follows its output and returns when the Task
/// ends.
#[test]
fn logs_follow_returns_when_the_task_ends() {
    let env = Env::new("");
    let agent = env.gated_agent("talk.sh", "echo 'last words'");
    let out = env.run("talk", &agent, &[]);
    assert!(out.status.success(), "{}", text(&out));
    env.until_phase("talk", "Running");
    until("the first line", || {
        env.ok(&["logs", "talk", "--raw"]).contains("before gate")
    });
    let mut follow = env
        .axon_process()
        .args(["logs", "talk", "-f"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("axon logs -f");
    let stdout = follow.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut { stdout }, &mut s);
        s
    });
    assert!(
        follow.try_wait().expect("try_wait").is_none(),
        "logs -f returned while the Task runs"
    );
    env.open_gate("talk");
    let mut status = None;
    if !poll(DEADLINE, || {
        status = follow.try_wait().expect("try_wait");
        status.is_some()
    }) {
        let _ = follow.kill();
        panic!("axon logs -f did not return after the Task ended");
    }
    let status = status.expect("exit status");
    let text = reader.join().expect("reader");
    assert!(status.success(), "{text}");
    let order: Vec<usize> = ["before gate: talk", "after gate: talk", "last words"]
        .iter()
        .map(|l| {
            text.find(l)
                .unwrap_or_else(|| panic!("{l:?} missing:\n{text}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(env.phase("talk").as_deref(), Some("Succeeded"));
}

/// `axon run --ttl 1`: once finished, the Task disappears from `axon get tasks` and its run
/// directory is removed.
#[test]
fn ttl_deletes_the_finished_task() {
    let env = Env::new("");
    let agent = env.agent("quick.sh", "echo quick");
    let out = env.run("brief", &agent, &["--ttl", "1", "-w"]);
    assert!(out.status.success(), "{}", text(&out));
    // (The Task may already be gone when we look.)
    let dir = env
        .task("brief")
        .and_then(|t| str_at(&t, "/metadata/uid").map(|uid| env.home().join("tasks").join(uid)));
    until("the TTL deletion", || {
        !env.ok(&["get", "tasks"]).contains("brief")
    });
    assert!(env.task("brief").is_none());
    if let Some(dir) = dir {
        until("the run directory removed", || !dir.exists());
    }
    assert_eq!(
        std::fs::read_dir(env.home().join("tasks")).map_or(0, |d| d.count()),
        0,
        "no run directory left"
    );
}
