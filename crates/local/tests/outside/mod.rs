//! The harness of the tests about what lies outside a Task's sandbox (the network, local
//! repositories): a real engine and supervisors (the crate's helper binary, re-executed), real
//! bubblewrap and git, custom agents (shell scripts named by `spec.image`).
//!
//! Runs as root (the agent then runs as `nobody`) and as an unprivileged user: with
//! `AXON_TEST_TMPDIR` (a directory the user owns, outside /tmp) as the scratch directory and
//! `AXON_TEST_HELPER` naming a copy of the helper binary it can run, as
//! `scripts/test-unprivileged.sh` sets them.

#![allow(dead_code)]

use axon_api::loader::load_str;
use axon_api::{Resource, Task};
use axon_local::LocalBackend;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A throwaway AXON_HOME with the credential secret `key`, and a directory for agents.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub bin: PathBuf,
    pub backend: LocalBackend,
}

/// The scratch directory's parent: outside /tmp (which the sandbox replaces), so what the
/// sandbox shows of the host is really tested.
fn scratch_parent() -> PathBuf {
    std::env::var_os("AXON_TEST_TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

fn helper() -> PathBuf {
    std::env::var_os("AXON_TEST_HELPER")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_axon-local-helper")))
}

impl Env {
    pub async fn new(prefix: &str) -> Env {
        let parent = scratch_parent();
        std::fs::create_dir_all(&parent).expect("scratch parent");
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(parent)
            .expect("scratch dir");
        let home = dir.path().join("axon-home");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let backend = LocalBackend::open_with_exe(&home, &helper()).expect("open");
        backend.set_concurrency(4);
        let data = BTreeMap::from([("ANTHROPIC_API_KEY".to_string(), "sk-test".to_string())]);
        backend.create_secret("key", data).await.expect("secret");
        Env {
            dir,
            home,
            bin,
            backend,
        }
    }

    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Write an agent script.
    pub fn agent(&self, name: &str, body: &str) -> PathBuf {
        let p = self.bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("agent");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    pub async fn apply(&self, yaml: &str) {
        self.backend.apply(one(yaml)).await.expect("apply");
    }

    /// Apply Task `name` running `agent`, with `extra` lines under `spec`.
    pub async fn run(&self, name: &str, agent: &Path, extra: &str) {
        let yaml = format!(
            "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {{name: {name}}}\nspec:\n  type: claude-code\n  prompt: work on {name}\n  credentials: {{type: api-key, secretRef: {{name: key}}}}\n  image: {:?}\n{extra}",
            agent.display()
        );
        self.apply(&yaml).await;
    }

    pub async fn wait(&self, name: &str) -> Task {
        tokio::time::timeout(Duration::from_secs(120), self.backend.wait(name))
            .await
            .expect("the Task finished in time")
            .expect("wait")
    }

    pub fn work(&self, t: &Task) -> PathBuf {
        self.home
            .join("tasks")
            .join(t.metadata.uid.as_deref().expect("uid"))
            .join("work")
    }

    pub async fn log(&self, name: &str) -> String {
        let mut log = Vec::new();
        let _ = self.backend.logs(name, false, &mut log).await;
        String::from_utf8_lossy(&log).to_string()
    }
}

/// A failed test must not leave its engine and agents running.
impl Drop for Env {
    fn drop(&mut self) {
        let pid = |p: PathBuf| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .filter(|p| *p > 1)
        };
        let runs: Vec<PathBuf> = std::fs::read_dir(self.home.join("tasks"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
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

pub fn one(yaml: &str) -> Resource {
    load_str("test.yaml", yaml)
        .expect("valid yaml")
        .remove(0)
        .resource
}

/// Run git in `dir`; its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "safe.directory=*"])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
