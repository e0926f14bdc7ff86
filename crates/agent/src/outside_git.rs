//! `git` run by Axon on a work tree the agent controlled, after the agent's processes are gone.
//!
//! The work tree's `.git` is the agent's: its config can name programs (`core.fsmonitor`,
//! hooks, a promisor remote fetched on demand, `ext::` transports), its `objects/info/alternates`
//! can point anywhere, and `.git` itself can be a symlink or a `gitdir:` file. The collector
//! often runs as root. So every call here: ignores system and global config and HOME, disables
//! hooks, fsmonitor, replace refs, lazy fetches and every transport, names the git directory
//! explicitly (no discovery upwards), accepts the tree's owner (the sandbox's uid), and runs
//! only plumbing that reads. `ls-remote` runs in an empty directory against the Workspace's
//! URL as Axon knows it, never the work tree's `origin`.
//!
//! Known gap: an agent that rewrites `objects/info/alternates` can make these reads see
//! objects of another repository on the host; the worst it yields is commit ids in status
//! (never contents). Pinning the alternates to the mirror Axon lent is the planned fix.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long one git command may take (`ls-remote` talks to the remote).
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Most commits listed (the results document keeps fewer).
const MAX_COMMITS: usize = 1000;

/// What git says about a work tree, measured outside the sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeasuredTree {
    /// The branch checked out (`None`: detached or no repository).
    pub branch: Option<String>,
    /// The commit checked out.
    pub head: Option<String>,
    /// Commits since `base_head`, newest first.
    pub commits: Vec<String>,
}

/// The environment and options every call starts from.
pub(crate) fn base_command(cwd: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
        .current_dir(cwd)
        .args([
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "safe.directory=*",
            "--no-pager",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// A command that talks to the remote goes the way the driver set for Axon's own process: on
/// Kubernetes the results container reaches the repository through the gateway (its proxy and
/// CA bundle variables, set by the controller, never by the agent). Locally none is set.
pub(crate) fn through_gateway(cmd: &mut Command) {
    use axon_core::gateway_plan::{CA_BUNDLE_VARS, NO_PROXY_VARS, PROXY_VARS};
    let names = PROXY_VARS
        .iter()
        .chain(&NO_PROXY_VARS)
        .chain(&CA_BUNDLE_VARS)
        .chain(&["GIT_HTTP_PROXY_AUTHMETHOD"]);
    for name in names {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
}

async fn output(mut cmd: Command) -> Option<String> {
    let out = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
        .await
        .ok()?
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The work tree's git directory, when it is a plain directory (not a symlink, not a
/// `gitdir:` file pointing elsewhere).
pub(crate) fn git_dir(work: &Path) -> Option<PathBuf> {
    let dir = work.join(".git");
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    meta.is_dir().then_some(dir)
}

/// Run read-only plumbing in the work tree's repository.
async fn in_tree(work: &Path, git_dir: &Path, args: &[&str]) -> Option<String> {
    let mut cmd = base_command(work);
    cmd.arg("-c")
        .arg("protocol.allow=never")
        .arg(format!("--git-dir={}", git_dir.display()))
        .args(args);
    output(cmd).await
}

/// The branch, HEAD and the commits made since `base_head` (HEAD when the work tree was
/// prepared, recorded by Axon). Without a base there are no commits to report.
pub async fn measure_tree(work: &Path, base_head: Option<&str>) -> MeasuredTree {
    let mut tree = MeasuredTree::default();
    let Some(gd) = git_dir(work) else {
        return tree;
    };
    // The commit and the branch (`HEAD` when detached) in one git process.
    if let Some(out) = in_tree(
        work,
        &gd,
        &[
            "rev-parse",
            "HEAD^{commit}",
            "--symbolic-full-name",
            "HEAD",
            "--",
        ],
    )
    .await
    {
        let mut lines = out.lines();
        tree.head = lines
            .next()
            .map(str::trim)
            .filter(|h| is_object_id(h))
            .map(str::to_string);
        tree.branch = lines
            .next()
            .and_then(|r| r.trim().strip_prefix("refs/heads/"))
            .filter(|b| is_branch_name(b))
            .map(str::to_string);
    }
    if tree.head.as_deref() == base_head {
        // Nothing committed since the base: no commits to list.
        return tree;
    }
    if let (Some(_), Some(base)) = (&tree.head, base_head.filter(|b| is_object_id(b))) {
        let max = format!("--max-count={MAX_COMMITS}");
        let not = format!("^{base}");
        if let Some(list) = in_tree(work, &gd, &["rev-list", &max, "HEAD", &not, "--"]).await {
            tree.commits = list
                .lines()
                .map(str::trim)
                .filter(|l| is_object_id(l))
                .map(str::to_string)
                .collect();
        }
    }
    tree
}

/// Whether the remote at `url` has `branch` at `head`, asked in an empty directory with the
/// token from `token_file` (through a credential helper reading the file).
pub async fn remote_has(
    url: &str,
    branch: &str,
    head: &str,
    token_file: Option<&Path>,
) -> Result<bool, String> {
    if !is_branch_name(branch) || url.starts_with('-') {
        return Ok(false);
    }
    let empty = tempfile::Builder::new()
        .prefix("axon-collect-")
        .tempdir()
        .map_err(|e| format!("cannot make a scratch directory: {e}"))?;
    let mut cmd = base_command(empty.path());
    if let Some(file) = token_file {
        cmd.arg("-c")
            .arg("credential.helper=")
            .arg("-c")
            .arg(format!("credential.helper={}", credential_helper(file)));
    }
    through_gateway(&mut cmd);
    let reference = format!("refs/heads/{branch}");
    cmd.args(["ls-remote", "--heads", "--", url, &reference]);
    let Some(out) = output(cmd).await else {
        return Err("git ls-remote failed (the remote was not reachable)".into());
    };
    Ok(out.lines().any(|l| {
        let mut parts = l.split_whitespace();
        parts.next() == Some(head) && parts.next() == Some(reference.as_str())
    }))
}

/// An inline credential helper reading the token from `file` (its path, not the token, is
/// on the command line).
pub fn credential_helper(file: &Path) -> String {
    let quoted = file.to_string_lossy().replace('\'', "'\\''");
    format!(
        "!f() {{ test \"$1\" = get || exit 0; echo username=x-access-token; printf 'password=%s\\n' \"$(cat '{quoted}')\"; }}; f"
    )
}

/// A full hex object id (SHA-1 or SHA-256).
pub fn is_object_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A branch name git would accept (`git check-ref-format --branch` rules that matter here).
pub fn is_branch_name(b: &str) -> bool {
    !b.is_empty()
        && b.len() <= 255
        && !b.starts_with('-')
        && !b.starts_with('/')
        && !b.ends_with('/')
        && !b.ends_with('.')
        && !b.ends_with(".lock")
        && !b.contains("..")
        && !b.contains("@{")
        && !b.contains("//")
        && !b.chars().any(|c| c.is_control() || " ~^:?*[\\".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn repo(root: &Path) -> (PathBuf, PathBuf, String) {
        let remote = root.join("remote.git");
        let work = root.join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        run(root, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
        run(&work, &["init", "-q", "-b", "main"]);
        run(&work, &["commit", "-q", "--allow-empty", "-m", "base"]);
        let remote_s = remote.to_string_lossy().to_string();
        run(&work, &["push", "-q", &remote_s, "main"]);
        let base = run(&work, &["rev-parse", "HEAD"]);
        (remote, work, base)
    }

    #[tokio::test]
    async fn measures_branch_commits_and_the_remote() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (remote, work, base) = repo(tmp.path());
        run(&work, &["checkout", "-q", "-b", "axon/fix"]);
        run(&work, &["commit", "-q", "--allow-empty", "-m", "one"]);
        run(&work, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let tree = measure_tree(&work, Some(&base)).await;
        assert_eq!(tree.branch.as_deref(), Some("axon/fix"));
        assert_eq!(tree.commits.len(), 2);
        let head = tree.head.clone().expect("head");
        let url = remote.to_string_lossy().to_string();
        assert_eq!(remote_has(&url, "axon/fix", &head, None).await, Ok(false));
        run(&work, &["push", "-q", &url, "axon/fix"]);
        assert_eq!(remote_has(&url, "axon/fix", &head, None).await, Ok(true));
    }

    #[tokio::test]
    async fn a_hostile_git_dir_runs_nothing_and_is_not_followed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (_remote, work, base) = repo(tmp.path());
        run(&work, &["commit", "-q", "--allow-empty", "-m", "x"]);
        let canary = tmp.path().join("pwned");
        let cmd = format!("touch {}", canary.display());
        run(&work, &["config", "core.fsmonitor", &cmd]);
        run(&work, &["config", "core.pager", &cmd]);
        std::fs::create_dir_all(work.join(".git/hooks")).expect("hooks");
        let hook = work.join(".git/hooks/post-checkout");
        std::fs::write(&hook, format!("#!/bin/sh\n{cmd}\n")).expect("hook");
        let tree = measure_tree(&work, Some(&base)).await;
        assert_eq!(tree.commits.len(), 1);
        assert!(!canary.exists(), "a program named by the work tree ran");

        // `.git` replaced by a symlink to another repository: not read.
        let other = tmp.path().join("other");
        std::fs::rename(work.join(".git"), &other).expect("move");
        std::os::unix::fs::symlink(&other, work.join(".git")).expect("symlink");
        assert_eq!(
            measure_tree(&work, Some(&base)).await,
            MeasuredTree::default()
        );
    }

    #[test]
    fn branch_names() {
        for ok in ["main", "axon/fix-1", "a.b"] {
            assert!(is_branch_name(ok), "{ok}");
        }
        for bad in [
            "", "-x", "a..b", "a b", "a.lock", "x@{1}", "a/", "/a", "a\n",
        ] {
            assert!(!is_branch_name(bad), "{bad:?}");
        }
    }
}
