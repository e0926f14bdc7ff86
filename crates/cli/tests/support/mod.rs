//! The harness shared by the end-to-end tests that run the real `axon` binary on the local
//! backend (`agents_local`, `local_cli`, `local_e2e`, `spawner_local`). Each of those files had
//! its own copy of the same scaffolding, and the copies had drifted (one stopped the engine with
//! `pkill -f`, one left supervisors running); this is the one copy:
//!
//! - a scratch directory under `CARGO_TARGET_TMPDIR`, holding a user HOME and an AXON_HOME,
//!   with an optional `config.yaml`. It may be under /tmp (a checkout there), which the
//!   sandbox replaces with a private one: nothing an agent must see lives in it (a gate goes in
//!   the agent's work tree), and a write to it from inside is judged on the host (that path is
//!   in the agent's private /tmp);
//! - two overrides for a test binary copied away from the checkout (run as another user by
//!   `scripts/test-unprivileged.sh`): `AXON_TEST_BIN`, the `axon` binary to run instead of the
//!   one Cargo built, and `AXON_TEST_TMPDIR`, the parent of the scratch directories instead of
//!   `CARGO_TARGET_TMPDIR` (both are compiled-in paths);
//! - `axon` commands in a clean environment (`env_clear`, then PATH, HOME, AXON_HOME and what
//!   the builder added), with a timeout;
//! - `ok`, `task`, and [`until`], a poll with a deadline (a wait never passes by sleeping);
//! - on drop, the home's detached engine and Task supervisors are stopped, by pid, and only
//!   processes whose command line names this AXON_HOME (a reused pid is left alone).
//!
//! Each test file is its own crate and uses part of this, hence `dead_code` is allowed.

#![allow(dead_code)]

use serde_json::Value;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// How long a poll loop may wait by default.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// What a test sets up before the first command: see [`Env::builder`].
pub struct EnvBuilder {
    name: String,
    config: Option<String>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl EnvBuilder {
    /// The contents of AXON_HOME/config.yaml.
    pub fn config(mut self, contents: &str) -> Self {
        self.config = Some(contents.to_string());
        self
    }

    /// `AXON_AGENT_BIN_DIR` for every command: where the agent CLIs are.
    pub fn agent_bin_dir(self, dir: impl Into<OsString>) -> Self {
        self.env("AXON_AGENT_BIN_DIR", dir)
    }

    /// One more variable in every command's environment.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// How long one `axon` command may take (60 s unless set).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Env {
        let dir = tempfile::Builder::new()
            .prefix(&format!("axon-{}-", self.name))
            .tempdir_in(scratch_parent())
            .expect("scratch directory");
        let env = Env {
            dir,
            env: self.env,
            timeout: self.timeout,
        };
        std::fs::create_dir_all(env.user_home()).expect("user home");
        std::fs::create_dir_all(env.home()).expect("axon home");
        if let Some(config) = self.config {
            std::fs::write(env.home().join("config.yaml"), config).expect("config");
        }
        env
    }
}

/// A scratch directory with a user HOME and an AXON_HOME, and `axon` commands run in it.
pub struct Env {
    dir: tempfile::TempDir,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl Env {
    /// A new harness; `name` prefixes the scratch directory (`axon-NAME-…`).
    pub fn builder(name: &str) -> EnvBuilder {
        EnvBuilder {
            name: name.to_string(),
            config: None,
            env: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }

    /// The scratch directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// AXON_HOME.
    pub fn home(&self) -> PathBuf {
        self.root().join("axon-home")
    }

    /// The user's real HOME.
    pub fn user_home(&self) -> PathBuf {
        self.root().join("user-home")
    }

    /// One more variable in every later command's environment (e.g. a PATH naming a
    /// directory of this harness's user HOME).
    pub fn set_env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) {
        self.env.push((key.into(), value.into()));
    }

    /// `axon` as a plain process (to spawn it: `axon serve`, `axon logs -f`), in the clean
    /// environment.
    pub fn axon_process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(axon_bin());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.user_home())
            .env("AXON_HOME", self.home())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `axon`, in the clean environment, with the command timeout.
    pub fn axon(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::from_std(self.axon_process());
        cmd.timeout(self.timeout);
        cmd
    }

    /// Run `axon args`, whatever its exit status.
    pub fn output(&self, args: &[&str]) -> Output {
        self.axon().args(args).output().expect("run axon")
    }

    /// Run `axon args`, assert it succeeded, return its output.
    pub fn ok_output(&self, args: &[&str]) -> Output {
        let out = self.output(args);
        assert!(out.status.success(), "axon {args:?} failed: {}", text(&out));
        out
    }

    /// Run `axon args`, assert it succeeded, return its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.ok_output(args).stdout).into_owned()
    }

    /// `axon create secret NAME --from-literal KEY=VALUE`, which must succeed.
    pub fn create_secret(&self, name: &str, key: &str, value: &str) {
        self.ok(&[
            "create",
            "secret",
            name,
            "--from-literal",
            &format!("{key}={value}"),
        ]);
    }

    /// `axon create workspace NAME --repo REPO --ref main`, which must succeed.
    pub fn create_workspace(&self, name: &str, repo: &str) {
        self.ok(&["create", "workspace", name, "--repo", repo, "--ref", "main"]);
    }

    /// The Task as `get task NAME -o json`, `None` when it does not exist.
    pub fn task(&self, name: &str) -> Option<Value> {
        let out = self.output(&["get", "task", name, "-o", "json"]);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("not found"), "axon get task {name}: {err}");
            return None;
        }
        Some(serde_json::from_slice(&out.stdout).expect("task json"))
    }

    /// Every Task, as the items of `get tasks -o json`.
    pub fn task_list(&self) -> Vec<Value> {
        let list: Value =
            serde_json::from_str(&self.ok(&["get", "tasks", "-o", "json"])).expect("list json");
        list.get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// Write an executable shell script `name` (a custom agent, for `--image`) in the scratch
    /// directory.
    pub fn agent(&self, name: &str, body: &str) -> PathBuf {
        let p = self.root().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("agent");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    /// The pid of this home's engine, from `engine.pid`.
    pub fn engine_pid(&self) -> Option<i32> {
        read_pid(&self.home().join("engine.pid"))
    }
}

/// A failed test must not leave this home's engine and runs behind: stop them, by pid, and
/// only processes whose command line names this AXON_HOME (so a reused pid is left alone).
impl Drop for Env {
    fn drop(&mut self) {
        let home = self.home().display().to_string();
        let runs: Vec<PathBuf> = std::fs::read_dir(self.home().join("tasks"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        let pids = runs
            .iter()
            .filter_map(|r| read_pid(&r.join("supervisor.pid")))
            .chain(self.engine_pid());
        for pid in pids {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&home) {
                let _ = std::process::Command::new("kill")
                    .arg(pid.to_string())
                    .status();
            }
        }
    }
}

/// The `axon` binary the tests run: `AXON_TEST_BIN` when set, else the one Cargo built.
pub fn axon_bin() -> PathBuf {
    std::env::var_os("AXON_TEST_BIN")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_axon")), PathBuf::from)
}

/// Where scratch directories are made: `AXON_TEST_TMPDIR` when set, else
/// `CARGO_TARGET_TMPDIR`.
pub fn scratch_parent() -> PathBuf {
    std::env::var_os("AXON_TEST_TMPDIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from)
}

/// The string at a JSON pointer.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// A pid file's pid (never 0 or 1).
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|p| *p > 1)
}

/// A command's stdout and stderr, for a failure message.
pub fn text(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Poll `f` every 50 ms until it holds or `limit` has passed; whether it held.
pub fn poll(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Poll `f` until it holds; panic after [`DEADLINE`].
pub fn until(what: &str, f: impl FnMut() -> bool) {
    assert!(poll(DEADLINE, f), "timed out waiting for {what}");
}
