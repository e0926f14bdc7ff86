//! The hostile-agent suite: custom agents that try to break out of the local sandbox or forge
//! their results, each run through the real `axon` binary (`axon run --image AGENT`, real
//! bubblewrap, a real `git daemon` on 127.0.0.1), and each judged by what the HOST shows
//! afterwards (files on disk, the bare remote, a host process, the mirror cache, the Task's
//! status), never by what the agent says about itself. The agents are the corpus in
//! `tests/hostile/` (compiled into this binary, so it runs from a copy: see
//! `scripts/test-unprivileged.sh`); shell agents get `hostile/lib.sh` inserted after their
//! shebang. The cases:
//!
//! 1. bind-mount and remount `/`, unmount what hides the host, then read canaries and
//!    create host files;
//! 2. read the user's HOME and AXON_HOME (store, secrets, a concurrent Task's work tree,
//!    token and log);
//! 3. create files on the host outside the work tree;
//! 4. signal, ptrace or write the memory of a host process;
//! 5. a setsid daemon rewriting results after the agent exited;
//! 6. SIGKILL the runner and its ancestors, then write results;
//! 7. print forged result lines and `axon:` markers;
//! 8. poison the mirror cache (through the work tree's hard links, and directly);
//! 9. open every `/proc/*/fd`;
//! 10. a 10 MiB prompt through `AXON_PROMPT_FILE`;
//! 11. SIGSTOP the runner (no `timeoutSeconds`);
//! 12. the config file's default `timeoutSeconds`;
//! 13. git configuration traps for a measurement of the work tree outside the sandbox.
//!
//! Every leak check looks for canary values (unique per test) in the attacker's log, its
//! status and every object of the remote; a probe counts only if the agent's log shows it
//! ran to its end (`HOSTILE-AGENT-DONE`). A test collects every escape it sees, cleans up
//! what landed on the host, and fails listing them. Every wait is a poll with a deadline.

mod support;

use axon_testsupport::git_server::GitServer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{poll, str_at, text};

const LIB: &str = include_str!("hostile/lib.sh");
/// The attacker's own credential: legitimately visible to it, never a finding.
const OWN_CREDENTIAL: &str = "sk-hostile-own-credential";
/// How long a Task may take to end.
const TASK_DEADLINE: Duration = Duration::from_secs(120);
/// The Tasks' own `--timeout`, so that a case that hangs still ends.
const TASK_TIMEOUT: &str = "150s";
/// Strings only a forged result contains (forged usage is caught as usage).
const FORGED: [&str; 3] = ["FORGED", "forged/forged", "dec0dedec0de"];
/// Log lines in which the corpus reports what it tried.
const NARRATION: [&str; 9] = [
    "attempt ",
    "wrote ",
    "overwrote ",
    "truncated ",
    "killing ",
    "mirror ",
    "alternates ",
    "sandbox-proc",
    "after-umount",
];

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One test's world: the harness (user HOME with a canary, AXON_HOME with the attacker's
/// credential `key` and a canary secret), a git remote with Workspace `ws`, and a unique tag.
struct Hostile {
    env: support::Env,
    git: GitServer,
    tag: String,
}

impl Hostile {
    fn new(name: &str) -> Hostile {
        let env = support::Env::builder(&format!("hostile-{name}"))
            .config("concurrency: 4\n")
            .timeout(TASK_DEADLINE)
            .build();
        let tag = format!(
            "{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let git = GitServer::start().expect("git daemon");
        let h = Hostile { env, git, tag };
        let home = h.env.user_home();
        std::fs::create_dir_all(home.join(".ssh")).expect("user home");
        for f in ["canary.txt", ".ssh/id_canary"] {
            std::fs::write(home.join(f), h.canary("home")).expect("plant");
        }
        h.env
            .create_secret("key", "ANTHROPIC_API_KEY", OWN_CREDENTIAL);
        h.env.create_secret("canary", "CANARY", &h.canary("secret"));
        h.env.create_workspace("ws", &h.git.url());
        h
    }

    /// A value planted on the host that no agent may ever get hold of.
    fn canary(&self, what: &str) -> String {
        format!("CANARY-{what}-{}", self.tag)
    }

    /// Write agent `file` of the corpus (`src`) into the scratch directory, `lib.sh` inserted
    /// after a shell agent's shebang.
    fn agent(&self, file: &str, src: &str) -> PathBuf {
        let body = match src.strip_prefix("#!/bin/sh\n") {
            Some(rest) => format!("#!/bin/sh\n{LIB}\n{rest}"),
            None => src.to_string(),
        };
        let p = self.env.root().join(file);
        std::fs::write(&p, body).expect("agent");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    /// Host files the agents try to create (`HOSTILE_PATHS`).
    fn host_targets(&self) -> Vec<PathBuf> {
        let name = format!("hostile-{}", self.tag);
        let mut dirs: Vec<PathBuf> = [
            "/etc",
            "/root",
            "/tmp",
            "/var/tmp",
            "/usr/local",
            "/usr/local/bin",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        dirs.extend([
            std::env::temp_dir(),
            self.env.root().to_path_buf(),
            self.env.user_home(),
            self.env.user_home().join(".ssh"),
            self.env.home(),
            self.env.home().join("secrets"),
            self.env.home().join("cache"),
            self.git.repo_path(),
            self.git.repo_path().join("refs/heads"),
        ]);
        if let Some(d) = support::axon_bin().parent() {
            dirs.push(d.to_path_buf());
        }
        dirs.sort();
        dirs.dedup();
        dirs.into_iter().map(|d| d.join(&name)).collect()
    }

    /// `axon run` of `agent` as Task `name` on Workspace `ws` (unless `extra` names one),
    /// with the corpus' variables and `--timeout` unless `timeout` is `None`; returns at once.
    fn launch(&self, name: &str, agent: &Path, timeout: Option<&str>, extra: &[&str]) -> Output {
        let agent = agent.to_string_lossy().into_owned();
        let vars = [
            ("HOSTILE_TAG", self.tag.clone()),
            ("HOST_HOME", self.env.user_home().display().to_string()),
            ("HOST_AXON_HOME", self.env.home().display().to_string()),
            ("HOST_SCRATCH", self.env.root().display().to_string()),
            (
                "HOSTILE_PATHS",
                self.host_targets()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
        ]
        .map(|(k, v)| format!("{k}={v}"));
        let mut args: Vec<&str> = vec!["run", "--name", name, "--secret", "key", "--image", &agent];
        if !extra.contains(&"--prompt-file") {
            args.extend(["-p", "be hostile"]);
        }
        if !extra.contains(&"--workspace") {
            args.extend(["--workspace", "ws"]);
        }
        if let Some(t) = timeout {
            args.extend(["--timeout", t]);
        }
        for v in &vars {
            args.extend(["--env", v]);
        }
        args.extend_from_slice(extra);
        self.env.output(&args)
    }

    /// [`Hostile::launch`] with the suite's timeout; the command must succeed.
    fn start(&self, name: &str, agent: &Path, extra: &[&str]) {
        let out = self.launch(name, agent, Some(TASK_TIMEOUT), extra);
        assert!(out.status.success(), "axon run {name}: {}", text(&out));
    }

    /// Start Task `name` and wait for its end; returns it.
    fn run(&self, name: &str, agent: &Path, extra: &[&str]) -> Value {
        self.start(name, agent, extra);
        self.finish(name)
    }

    /// The Task, once it is Succeeded or Failed (panics after `TASK_DEADLINE`).
    fn finish(&self, name: &str) -> Value {
        self.end_within(name, TASK_DEADLINE).unwrap_or_else(|| {
            panic!(
                "Task {name} did not end within {TASK_DEADLINE:?}: {:#}\nlog:\n{}",
                self.env.task(name).unwrap_or_default(),
                self.log(name)
            )
        })
    }

    /// The Task once it ended, or `None` if it did not within `limit`.
    fn end_within(&self, name: &str, limit: Duration) -> Option<Value> {
        let mut last = None;
        poll(limit, || {
            last = self.env.task(name);
            matches!(
                last.as_ref().and_then(|t| str_at(t, "/status/phase")),
                Some("Succeeded" | "Failed")
            )
        })
        .then(|| last.expect("task"))
    }

    fn phase(&self, name: &str) -> Option<String> {
        self.env
            .task(name)
            .and_then(|t| str_at(&t, "/status/phase").map(str::to_string))
    }

    /// The Task's raw log.
    fn log(&self, name: &str) -> String {
        let out = self.env.output(&["logs", name, "--raw"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The run directory of Task `name` (AXON_HOME/tasks/UID).
    fn run_dir(&self, name: &str) -> PathBuf {
        let t = self.env.task(name).expect("task exists");
        self.env
            .home()
            .join("tasks")
            .join(str_at(&t, "/metadata/uid").expect("uid"))
    }

    /// The agent ran to its end (its probes are real); panics with the log otherwise. Prints
    /// the agent's account of its attempts (shown with `--nocapture` or on failure).
    fn assert_ran(&self, name: &str) {
        let log = self.log(name);
        for line in log
            .lines()
            .filter(|l| NARRATION.iter().any(|p| l.starts_with(p)))
        {
            eprintln!("[{name}] {line}");
        }
        assert!(
            log.contains(&format!("HOSTILE-AGENT-DONE {name}")),
            "agent {name} did not run to its end: {:#}\nlog:\n{}",
            self.env.task(name).unwrap_or_default(),
            tail(&log)
        );
    }

    /// Every object of the remote, uncompressed.
    fn remote_objects(&self) -> Vec<u8> {
        Command::new("git")
            .args(["cat-file", "--batch-all-objects", "--batch"])
            .current_dir(self.git.repo_path())
            .stdin(Stdio::null())
            .output()
            .expect("git cat-file")
            .stdout
    }

    /// Where Task `name` let one of `needles` out: its log, its status, the remote.
    fn leaks(&self, name: &str, needles: &[String]) -> Vec<String> {
        let places = [
            ("log", self.log(name).into_bytes()),
            (
                "status",
                self.env.output(&["get", "task", name, "-o", "json"]).stdout,
            ),
            ("remote", self.remote_objects()),
        ];
        let mut found = Vec::new();
        for n in needles {
            for (place, bytes) in &places {
                if contains(bytes, n) {
                    found.push(format!("{n} reached the {place} of Task {name}"));
                }
            }
        }
        found
    }

    /// Host targets that exist (each removed, so nothing is left behind).
    fn landed(&self) -> Vec<String> {
        self.host_targets()
            .into_iter()
            .filter(|p| p.exists())
            .map(|p| {
                let _ = std::fs::remove_file(&p);
                format!("created {} on the host", p.display())
            })
            .collect()
    }

    /// Status must say what git on the host says: the agent's one commit on branch `real`,
    /// pushed, no pull requests, no usage.
    fn status_matches_real_work(&self, task: &Value) -> Vec<String> {
        let mut f = Vec::new();
        let real = self.git.commits("real");
        if real.len() != 2 {
            f.push(format!(
                "the remote has {} commits on `real`, not 2",
                real.len()
            ));
        }
        let head = real.first().map(|c| c.sha.clone()).unwrap_or_default();
        let s = |p: &str| task.pointer(p).cloned().unwrap_or(Value::Null);
        if s("/status/outputs/branch") != "real" {
            f.push(format!(
                "status branch {} (git: real)",
                s("/status/outputs/branch")
            ));
        }
        if s("/status/outputs/commits") != Value::from(vec![head.clone()]) {
            f.push(format!(
                "status commits {} (git: [{head}])",
                s("/status/outputs/commits")
            ));
        }
        if s("/status/outputs/pushed") != Value::Bool(true) {
            f.push(format!(
                "status pushed {} (git: true)",
                s("/status/outputs/pushed")
            ));
        }
        let prs = s("/status/outputs/pullRequests");
        if !(prs.is_null() || prs.as_array().is_some_and(Vec::is_empty)) {
            f.push(format!("status pullRequests {prs} (none exist)"));
        }
        f.extend(usage_present(task));
        f.extend(forged_in(task));
        let branches = self.git.branches();
        if branches != ["main", "real"] {
            f.push(format!(
                "remote branches {branches:?} (expected main, real)"
            ));
        }
        f
    }
}

/// Fail listing every escape seen.
fn verdict(case: &str, findings: &[String]) {
    for e in findings {
        eprintln!("ESCAPE [{case}]: {e}");
    }
    assert!(
        findings.is_empty(),
        "{case}: {} escape(s):\n  {}",
        findings.len(),
        findings.join("\n  ")
    );
}

fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| w == n)
}

/// The last 6000 bytes of a log, for messages.
fn tail(s: &str) -> &str {
    let mut i = s.len().saturating_sub(6000);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// A custom agent's usage is what the gateway measured: these agents call no model, so
/// anything but zero measured by the gateway is forged.
fn usage_present(task: &Value) -> Option<String> {
    let u = task.pointer("/status/usage").filter(|u| !u.is_null())?;
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let measured_zero = u.get("source").and_then(Value::as_str) == Some("gateway")
        && ["inputTokens", "outputTokens", "turns", "requests"]
            .iter()
            .all(|k| n(k) == 0)
        && u.get("costUSD").and_then(Value::as_f64).unwrap_or(0.0) == 0.0;
    (!measured_zero).then(|| format!("status usage {u} for a custom agent that called no model"))
}

/// Forged strings in the Task's status.
fn forged_in(task: &Value) -> Vec<String> {
    let status = task.get("status").map(Value::to_string).unwrap_or_default();
    FORGED
        .iter()
        .filter(|f| status.contains(*f))
        .map(|f| format!("status contains the forged {f:?}: {status}"))
        .collect()
}

/// Whether a process (not a zombie) is alive, and its state letter.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .filter(|c| *c != 'Z' && *c != 'X')
}

/// Live processes with `marker` in their command line.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
                .filter(|pid| {
                    proc_state(*pid).is_some()
                        && std::fs::read(format!("/proc/{pid}/cmdline"))
                            .is_ok_and(|c| contains(&c, marker))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `mark` is in the top page of process `pid`'s stack (where the corpus writes).
fn stack_marked(pid: u32, mark: &str) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let Some(hi) = maps
        .lines()
        .find(|l| l.ends_with("[stack]"))
        .and_then(|l| l.split(['-', ' ']).nth(1))
        .and_then(|h| u64::from_str_radix(h, 16).ok())
    else {
        return false;
    };
    let mut page = vec![0u8; 4096];
    std::fs::File::open(format!("/proc/{pid}/mem"))
        .and_then(|mut m| {
            m.seek(SeekFrom::Start(hi - 4096))?;
            m.read_exact(&mut page)
        })
        .is_ok()
        && contains(&page, mark)
}

/// A host process owned by the test, killed on drop.
struct Victim(Child);

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every file of the mirror cache (FETCH_HEAD aside), by path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.file_name().is_some_and(|n| n != "FETCH_HEAD") {
                let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Put the mirror cache back as `snap` recorded it.
fn restore(dir: &Path, snap: &BTreeMap<PathBuf, Vec<u8>>) {
    for extra in snapshot(dir).keys().filter(|k| !snap.contains_key(*k)) {
        let _ = std::fs::remove_file(dir.join(extra));
    }
    for (rel, bytes) in snap {
        let p = dir.join(rel);
        let _ = std::fs::remove_file(&p);
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(&p, bytes).expect("restore the mirror");
    }
}

/// `git ARGS` in `dir` (any owner), its success and stdout.
fn git_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("git")
        .args(["-c", "safe.directory=*"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("git");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A Task that holds a token (Workspace `tokws` with secret `gh`), prints a canary into its
/// log, writes one into its work tree and waits for `gate` in its work tree.
fn start_holder(h: &Hostile) -> String {
    h.env
        .create_secret("gh", "GITHUB_TOKEN", &h.canary("token"));
    h.env.ok(&[
        "create",
        "workspace",
        "tokws",
        "--repo",
        &h.git.url(),
        "--ref",
        "main",
        "--secret",
        "gh",
    ]);
    let holder = h.agent(
        "holder.sh",
        "#!/bin/sh\nsay \"HOLDER-LOG $HOLDER_LOG\"\nsay \"$HOLDER_WORK\" > holder-secret.txt\nwhile [ ! -e gate ]; do sleep 0.05; done\nfinish",
    );
    let prompt = format!("holder prompt {}", h.canary("db"));
    let log_var = format!("HOLDER_LOG={}", h.canary("holderlog"));
    let work_var = format!("HOLDER_WORK={}", h.canary("holderwork"));
    h.start(
        "holder",
        &holder,
        &[
            "--workspace",
            "tokws",
            "--prompt-file",
            &write_prompt(h, "holder-prompt.txt", &prompt),
            "--env",
            &log_var,
            "--env",
            &work_var,
        ],
    );
    let ready = poll(TASK_DEADLINE, || {
        if h.phase("holder").as_deref() != Some("Running") {
            return false;
        }
        let d = h.run_dir("holder");
        d.join("work/holder-secret.txt").exists() && d.join("cred/token").exists()
    });
    assert!(
        ready,
        "the holder Task did not start: {:#}\n{}",
        h.env.task("holder").unwrap_or_default(),
        h.log("holder")
    );
    "holder".into()
}

/// Open the holder's gate and wait for its end.
fn release_holder(h: &Hostile, name: &str) {
    let _ = std::fs::write(h.run_dir(name).join("work/gate"), "");
    h.finish(name);
}

fn write_prompt(h: &Hostile, file: &str, prompt: &str) -> String {
    let p = h.env.root().join(file);
    std::fs::write(&p, prompt).expect("prompt file");
    p.display().to_string()
}

/// Case 1: `mount --bind / …`, `mount -o remount,rw,bind /`, unmounting the hidden directories and
/// /proc: the canaries in the user's HOME and AXON_HOME/secrets reach neither the log, nor
/// status, nor the remote, and no file lands in host /etc, /root, /tmp (…).
#[test]
fn mount_escape_reads_and_writes_nothing() {
    let h = Hostile::new("mount");
    let agent = h.agent("mount_escape.sh", include_str!("hostile/mount_escape.sh"));
    h.run("mount", &agent, &[]);
    h.assert_ran("mount");
    let mut f = h.leaks("mount", &[h.canary("home"), h.canary("secret")]);
    f.extend(h.landed());
    verdict("1 mount escape", &f);
}

/// Case 2: The user's HOME, AXON_HOME's store and secrets, and a concurrently running Task's work
/// tree, token file and log are unreadable, plainly or after unmounting what hides them.
#[test]
fn home_store_secrets_and_other_tasks_are_unreadable() {
    let h = Hostile::new("read");
    let holder = start_holder(&h);
    let agent = h.agent("read_secrets.sh", include_str!("hostile/read_secrets.sh"));
    h.run("reader", &agent, &[]);
    release_holder(&h, &holder);
    h.assert_ran("reader");
    let needles = ["home", "secret", "token", "holderwork", "holderlog", "db"].map(|c| h.canary(c));
    verdict("2 read secrets", &h.leaks("reader", &needles));
}

/// Case 3: Creating files anywhere on the host outside the work tree (system directories, the
/// scratch directory, the user's HOME, AXON_HOME, the mirror cache, the remote's repository,
/// next to the `axon` binary) fails, plainly or after remounting.
#[test]
fn writes_outside_the_work_tree_do_not_land() {
    let h = Hostile::new("write");
    let agent = h.agent("write_host.sh", include_str!("hostile/write_host.sh"));
    h.run("writer", &agent, &[]);
    h.assert_ran("writer");
    verdict("3 write host", &h.landed());
}

/// Case 4: A host process (`sleep`, the test's child) survives `kill -STOP`, `kill -9`, `strace
/// -p`, `ptrace` and writes to `/proc/PID/mem`, directly or through the host's /proc and PID
/// namespace: afterwards it is alive and not stopped.
#[test]
fn host_processes_cannot_be_signalled_or_traced() {
    let h = Hostile::new("signal");
    let mut victim = Victim(
        Command::new("sleep")
            .arg("300")
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep"),
    );
    let pid = victim.0.id();
    let agent = h.agent("signal_host.sh", include_str!("hostile/signal_host.sh"));
    let var = format!("VICTIM_PID={pid}");
    h.run("signaller", &agent, &["--env", &var]);
    h.assert_ran("signaller");
    let mut f = Vec::new();
    match victim.0.try_wait().expect("try_wait") {
        Some(status) => f.push(format!("the host process {pid} died: {status}")),
        None => match proc_state(pid) {
            Some(s @ ('T' | 't')) => f.push(format!("the host process {pid} is stopped ({s})")),
            Some(_) => {}
            None => f.push(format!("the host process {pid} is gone")),
        },
    }
    if stack_marked(pid, &format!("HOSTILE-MEM-{}", h.tag)) {
        f.push(format!(
            "the agent wrote into the memory of host process {pid}"
        ));
    }
    verdict("4 signal host", &f);
}

/// Case 5: A setsid, double-forked daemon that rewrites every results file it finds after the
/// agent exited: status says what git says (branch `real`, its one pushed commit, no pull
/// requests, no usage), and the daemon did not outlive the Task.
#[test]
fn a_daemon_outliving_the_agent_cannot_rewrite_results() {
    let h = Hostile::new("daemon");
    let agent = h.agent("forge_daemon.sh", include_str!("hostile/forge_daemon.sh"));
    let task = h.run("daemon", &agent, &[]);
    h.assert_ran("daemon");
    let mut f = Vec::new();
    if str_at(&task, "/status/phase") != Some("Succeeded") {
        f.push(format!(
            "phase {:?} (the agent exited 0): {:?}",
            str_at(&task, "/status/phase"),
            str_at(&task, "/status/message")
        ));
    }
    f.extend(h.status_matches_real_work(&task));
    let marker = format!("hostile-daemon-{}", h.tag);
    if !poll(Duration::from_secs(15), || {
        processes_with(&marker).is_empty()
    }) {
        let pids = processes_with(&marker);
        f.push(format!("the daemon outlived the Task: pids {pids:?}"));
        for p in pids {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
        }
    }
    verdict("5 daemon", &f);
}

/// Case 6: The agent writes forged results, SIGKILLs the runner and every ancestor it sees, and
/// keeps writing: status shows no forged output (branch, commits, pull requests, usage).
#[test]
fn killing_the_runner_forges_nothing() {
    let h = Hostile::new("killer");
    let agent = h.agent("kill_runner.sh", include_str!("hostile/kill_runner.sh"));
    let task = h.run("killer", &agent, &[]);
    h.assert_ran("killer");
    let mut f = forged_in(&task);
    f.extend(usage_present(&task));
    let branch = str_at(&task, "/status/outputs/branch");
    if branch.is_some_and(|b| b != "real") {
        f.push(format!("status branch {branch:?} (git: real)"));
    }
    if let Some(commits) = task.pointer("/status/outputs/commits") {
        let head = h.git.commits("real").first().map(|c| c.sha.clone());
        if *commits != Value::from(head.into_iter().collect::<Vec<_>>()) {
            f.push(format!(
                "status commits {commits} are not the pushed commit"
            ));
        }
    }
    eprintln!(
        "killer ended {:?}: {:?}",
        str_at(&task, "/status/phase"),
        str_at(&task, "/status/message")
    );
    verdict("6 kill runner", &f);
}

/// Case 7: A custom agent prints a Claude Code result line (usage, cost 999, a final answer) and
/// `axon:` marker lines: its status has no usage and nothing it printed, and the phase follows
/// its exit code (0 → Succeeded, 1 → Failed, whatever it printed).
#[test]
fn printed_result_lines_and_markers_forge_nothing() {
    let h = Hostile::new("printer");
    let agent = h.agent("forged_lines.sh", include_str!("hostile/forged_lines.sh"));
    let mut f = Vec::new();
    for (name, exit, phase) in [
        ("printer", "0", "Succeeded"),
        ("printer-fails", "1", "Failed"),
    ] {
        let var = format!("HOSTILE_EXIT={exit}");
        let task = h.run(name, &agent, &["--env", &var]);
        h.assert_ran(name);
        if str_at(&task, "/status/phase") != Some(phase) {
            f.push(format!(
                "{name}: phase {:?} for exit {exit}",
                str_at(&task, "/status/phase")
            ));
        }
        f.extend(usage_present(&task).map(|u| format!("{name}: {u}")));
        f.extend(forged_in(&task).into_iter().map(|e| format!("{name}: {e}")));
        if task
            .pointer("/status/outputs/commits")
            .is_some_and(|c| c.as_array().is_none_or(|a| !a.is_empty()))
        {
            f.push(format!("{name}: commits in status, none made"));
        }
    }
    verdict("7 forged lines", &f);
}

/// Case 8: Task 1 poisons the mirror cache, once through its own object store ("tree": object
/// files, hard-linked from the mirror, made writable and truncated or overwritten in place;
/// refs rewritten; alternates set) and once directly ("escape": the mirror written through
/// every root `open_host` finds): after each, the mirror under AXON_HOME/cache/git is
/// byte-for-byte unchanged and `git fsck`-clean, and the next Task on the repository
/// succeeds with an fsck-clean clone at the remote's `main`. (The mirror is restored between
/// the two, so each vector is judged alone.)
#[test]
fn a_poisoned_cache_does_not_reach_the_next_task() {
    let h = Hostile::new("poison");
    let benign = h.agent(
        "fsck.sh",
        "#!/bin/sh\nif git fsck --full --strict; then say fsck-clean; else say fsck-FAILED; exit 1; fi\nsay \"head $(git rev-parse HEAD)\"\nfinish",
    );
    let warm = h.run("warm", &benign, &[]);
    assert_eq!(
        str_at(&warm, "/status/phase"),
        Some("Succeeded"),
        "{warm:#}\n{}",
        h.log("warm")
    );
    let cache = h.env.home().join("cache/git");
    let before = snapshot(&cache);
    assert!(!before.is_empty(), "a mirror exists after the first Task");
    let main = h.git.commits("main").first().map(|c| c.sha.clone());
    let agent = h.agent("poison_cache.sh", include_str!("hostile/poison_cache.sh"));
    let mut f = Vec::new();
    for vector in ["tree", "escape"] {
        let poison = format!("poison-{vector}");
        let var = format!("HOSTILE_PHASE={vector}");
        h.run(&poison, &agent, &["--env", &var]);
        h.assert_ran(&poison);
        let after = snapshot(&cache);
        let changed: std::collections::BTreeSet<String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| k.display().to_string())
            .collect();
        if !changed.is_empty() {
            f.push(format!(
                "{vector}: the mirror changed: {} file(s): {:?}",
                changed.len(),
                changed.iter().take(4).collect::<Vec<_>>()
            ));
        }
        let mirrors = std::fs::read_dir(&cache)
            .expect("cache")
            .filter_map(Result::ok);
        for m in mirrors.filter(|m| m.path().is_dir()) {
            let (ok, out) = git_in(&m.path(), &["fsck", "--full"]);
            if !ok {
                f.push(format!(
                    "{vector}: the mirror fails fsck: {}",
                    out.lines().next().unwrap_or_default()
                ));
            }
        }

        let next_name = format!("after-{vector}");
        let next = h.run(&next_name, &benign, &[]);
        if str_at(&next, "/status/phase") != Some("Succeeded") {
            f.push(format!(
                "{vector}: the next Task {:?}: {:?}",
                str_at(&next, "/status/phase"),
                str_at(&next, "/status/message")
            ));
        }
        let work = h.run_dir(&next_name).join("work");
        if work.join(".git").exists() {
            let (ok, out) = git_in(&work, &["fsck", "--full"]);
            if !ok {
                f.push(format!(
                    "{vector}: the next Task's clone fails fsck: {}",
                    out.lines().next().unwrap_or_default()
                ));
            }
            let (_, head) = git_in(&work, &["rev-parse", "HEAD"]);
            if main.as_deref() != Some(head.trim()) {
                f.push(format!(
                    "{vector}: the next Task's HEAD {} (remote main {main:?})",
                    head.trim()
                ));
            }
        } else {
            f.push(format!("{vector}: the next Task has no clone"));
        }
        restore(&cache, &before);
    }
    verdict("8 poison cache", &f);
}

/// Case 9: The agent opens every descriptor in /proc/*/fd (the sandbox's /proc, then the host's if
/// it can unmount it): no canary of another Task's log, axon.db, the secrets, a token or the
/// user's HOME reaches its log, status or the remote.
#[test]
fn proc_fds_reach_no_axon_descriptor() {
    let h = Hostile::new("procfd");
    let holder = start_holder(&h);
    let agent = h.agent("proc_fd.py", include_str!("hostile/proc_fd.py"));
    h.run("fds", &agent, &[]);
    release_holder(&h, &holder);
    h.assert_ran("fds");
    let needles = ["home", "secret", "token", "holderwork", "holderlog", "db"].map(|c| h.canary(c));
    verdict("9 proc fd", &h.leaks("fds", &needles));
}

/// Case 10: A 10 MiB prompt (`--prompt-file`): the Task succeeds and the agent read all of it,
/// tail marker included, through `AXON_PROMPT_FILE`.
#[test]
fn a_ten_mib_prompt_reaches_the_agent() {
    let h = Hostile::new("prompt");
    let marker = format!("TAIL-MARKER-{}", h.tag);
    let line = "a long prompt line, repeated to make ten mebibytes of prompt .....\n";
    let size = 10 * 1024 * 1024;
    // Exactly the limit: 10 MiB including the marker.
    let mut prompt = line.repeat(size / line.len() + 1);
    prompt.truncate(size - marker.len());
    prompt.push_str(&marker);
    let file = write_prompt(&h, "big-prompt.txt", &prompt);
    let agent = h.agent("big_prompt.sh", include_str!("hostile/big_prompt.sh"));
    let out = h.launch("big", &agent, Some(TASK_TIMEOUT), &["--prompt-file", &file]);
    let mut f = Vec::new();
    if !out.status.success() {
        f.push(format!(
            "axon run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        return verdict("10 big prompt", &f);
    }
    let task = h.finish("big");
    let log = h.log("big");
    if str_at(&task, "/status/phase") != Some("Succeeded") {
        f.push(format!(
            "phase {:?}: {:?}",
            str_at(&task, "/status/phase"),
            str_at(&task, "/status/message")
        ));
    }
    if !log.contains(&format!("prompt tail: {}", &prompt[prompt.len() - 64..])) {
        f.push(format!(
            "the agent did not see the tail marker: {}",
            tail(&log).trim()
        ));
    }
    if !log.contains(&format!(
        "prompt via AXON_PROMPT_FILE: {} bytes",
        prompt.len()
    )) {
        f.push("the agent did not read the whole prompt from AXON_PROMPT_FILE".into());
    }
    verdict("10 big prompt", &f);
}

/// Case 11: The agent stops its runner with SIGSTOP and exits; no `timeoutSeconds`: the Task
/// ends Failed, saying the runner was stopped, within a bounded time.
#[test]
fn a_stopped_runner_fails_the_task() {
    let h = Hostile::new("stopped");
    let agent = h.agent("stop_runner.sh", include_str!("hostile/stop_runner.sh"));
    let out = h.launch("stopped", &agent, None, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let limit = Duration::from_secs(60);
    let mut f = Vec::new();
    match h.end_within("stopped", limit) {
        None => f.push(format!(
            "still {:?} {limit:?} after a SIGSTOPped runner",
            h.phase("stopped")
        )),
        Some(task) => {
            let message = str_at(&task, "/status/message").unwrap_or_default();
            if str_at(&task, "/status/phase") != Some("Failed")
                || !message.contains("stopped")
                || message.starts_with("the engine running this Task stopped")
            {
                f.push(format!(
                    "ended {:?} with message {message:?}",
                    str_at(&task, "/status/phase")
                ));
            }
        }
    }
    verdict("11 stopped runner", &f);
}

/// Case 12: `timeoutSeconds: 5` in AXON_HOME/config.yaml and a Task without one: an agent sleeping
/// 60 s is killed and the Task fails with the timeout message.
#[test]
fn the_configured_default_timeout_applies() {
    let h = Hostile::new("deftimeout");
    std::fs::write(
        h.env.home().join("config.yaml"),
        "concurrency: 4\ntimeoutSeconds: 5\n",
    )
    .expect("config");
    let agent = h.agent("sleeper.sh", include_str!("hostile/sleeper.sh"));
    let started = Instant::now();
    let out = h.launch("sleeper", &agent, None, &[]);
    let mut f = Vec::new();
    if !out.status.success() {
        f.push(format!(
            "axon run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        return verdict("12 default timeout", &f);
    }
    match h.end_within("sleeper", Duration::from_secs(45)) {
        None => f.push(format!(
            "still {:?} after 45 s (default timeout 5 s)",
            h.phase("sleeper")
        )),
        Some(task) => {
            let message = str_at(&task, "/status/message").unwrap_or_default();
            if str_at(&task, "/status/phase") != Some("Failed")
                || !message.contains("timed out after 5s")
            {
                f.push(format!(
                    "ended {:?} after {:?}: {message:?}",
                    str_at(&task, "/status/phase"),
                    started.elapsed()
                ));
            }
        }
    }
    verdict("12 default timeout", &f);
}

/// Case 13: The agent arms its work tree's git configuration (fsmonitor, hooks, credential
/// helper, pager, external diff, ssh command, askpass) to run commands whenever git runs on
/// it: nothing runs on the host (no `pwned-*` file in the scratch directory, which the agent
/// cannot write), and status still says what git says.
#[test]
fn git_traps_in_the_work_tree_run_nothing_on_the_host() {
    let h = Hostile::new("gittrap");
    let agent = h.agent("git_traps.sh", include_str!("hostile/git_traps.sh"));
    let task = h.run("trapper", &agent, &[]);
    h.assert_ran("trapper");
    let mut f = h.status_matches_real_work(&task);
    let prefix = format!("pwned-{}", h.tag);
    for e in std::fs::read_dir(h.env.root())
        .expect("scratch")
        .filter_map(Result::ok)
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) {
            f.push(format!("the host ran the agent's git trap: {name}"));
        }
    }
    verdict("13 git traps", &f);
}
