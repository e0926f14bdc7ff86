//! What the agent did to the work tree, asked of `git` itself after the agent exits: the
//! branch, the commits since the run started (or since the base branch), whether the branch
//! is on the remote at HEAD, and the remote's URL. Never from what the agent printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

/// How long one git command may take (`ls-remote` talks to the remote).
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The work tree's state after the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GitState {
    pub branch: Option<String>,
    pub head: Option<String>,
    /// Newest first.
    pub commits: Vec<String>,
    pub pushed: bool,
    pub remote_url: Option<String>,
}

/// Run git in `dir`, with the agent's environment when given (its `HOME` holds the git
/// configuration and credentials the agent used); `None` when it fails (not a repository, no
/// such ref, timeout).
pub async fn git(
    dir: &Path,
    env: Option<&BTreeMap<String, String>>,
    args: &[&str],
) -> Option<String> {
    let mut cmd = Command::new("git");
    if let Some(env) = env {
        cmd.env_clear().envs(env);
    }
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
        .await
        .ok()?
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The HEAD commit, recorded before the agent starts.
pub async fn head(dir: &Path, env: Option<&BTreeMap<String, String>>) -> Option<String> {
    git(dir, env, &["rev-parse", "--verify", "-q", "HEAD"])
        .await
        .filter(|s| !s.is_empty())
}

/// Inspect the work tree. `start` is HEAD before the agent ran; `base_branch` the branch it
/// was cloned at.
pub async fn inspect(
    dir: &Path,
    env: Option<&BTreeMap<String, String>>,
    start: Option<&str>,
    base_branch: Option<&str>,
) -> GitState {
    let mut state = GitState::default();
    if git(dir, env, &["rev-parse", "--is-inside-work-tree"])
        .await
        .as_deref()
        != Some("true")
    {
        return state;
    }
    state.head = head(dir, env).await;
    state.branch = git(dir, env, &["symbolic-ref", "--short", "-q", "HEAD"])
        .await
        .filter(|b| !b.is_empty());
    let remote = match &state.branch {
        Some(b) => {
            git(
                dir,
                env,
                &["config", "--get", &format!("branch.{b}.remote")],
            )
            .await
        }
        None => None,
    }
    .filter(|r| r != ".")
    .unwrap_or_else(|| "origin".to_string());
    state.remote_url = git(dir, env, &["remote", "get-url", "--", &remote]).await;

    // Commits since the start of the run; without a recorded start, since the base branch.
    let mut excludes: Vec<String> = Vec::new();
    if let Some(start) = start {
        excludes.push(start.to_string());
    } else if let Some(base) = base_branch {
        for candidate in [
            format!("refs/remotes/{remote}/{base}"),
            format!("refs/heads/{base}"),
        ] {
            if git(dir, env, &["rev-parse", "--verify", "-q", &candidate])
                .await
                .is_some()
            {
                excludes.push(candidate);
                break;
            }
        }
    }
    if state.head.is_some() && !excludes.is_empty() {
        let mut args = vec!["rev-list", "--max-count=1000", "HEAD", "--not"];
        args.extend(excludes.iter().map(String::as_str));
        if let Some(list) = git(dir, env, &args).await {
            state.commits = list
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect();
        }
    }

    // Pushed: there is work, and the remote has the branch at HEAD.
    if let (Some(branch), Some(head)) = (&state.branch, &state.head)
        && state.remote_url.is_some()
        && !state.commits.is_empty()
    {
        let reference = format!("refs/heads/{branch}");
        if let Some(out) = git(
            dir,
            env,
            &["ls-remote", "--heads", "--", &remote, &reference],
        )
        .await
        {
            state.pushed = out.lines().any(|l| {
                l.split_whitespace().next() == Some(head.as_str()) && l.ends_with(&reference)
            });
        }
    }
    state
}

/// The commit identity git would use in `dir` (`user.name`, `user.email`).
pub async fn identity(
    dir: &Path,
    env: Option<&BTreeMap<String, String>>,
) -> Option<(String, String)> {
    let name = git(dir, env, &["config", "user.name"])
        .await
        .filter(|s| !s.is_empty())?;
    let email = git(dir, env, &["config", "user.email"])
        .await
        .filter(|s| !s.is_empty())?;
    Some((name, email))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    }

    #[tokio::test]
    async fn sees_commits_and_pushes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let remote = tmp.path().join("remote.git");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        run(
            tmp.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                remote.to_str().expect("utf8"),
            ],
        );
        run(&work, &["init", "-q", "-b", "main"]);
        run(
            &work,
            &["remote", "add", "origin", remote.to_str().expect("utf8")],
        );
        run(&work, &["commit", "-q", "--allow-empty", "-m", "base"]);
        run(&work, &["push", "-q", "origin", "main"]);
        let start = head(&work, None).await;

        run(&work, &["checkout", "-q", "-b", "axon/fix"]);
        run(&work, &["commit", "-q", "--allow-empty", "-m", "one"]);
        run(&work, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let state = inspect(&work, None, start.as_deref(), Some("main")).await;
        assert_eq!(state.branch.as_deref(), Some("axon/fix"));
        assert_eq!(state.commits.len(), 2);
        assert_eq!(state.commits.first(), state.head.as_ref());
        assert!(!state.pushed);

        run(&work, &["push", "-q", "origin", "axon/fix"]);
        let state = inspect(&work, None, None, Some("main")).await;
        assert!(state.pushed);
        assert_eq!(state.commits.len(), 2, "since refs/remotes/origin/main");
    }

    #[tokio::test]
    async fn outside_a_repository_is_empty() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            inspect(tmp.path(), None, None, None).await,
            GitState::default()
        );
    }
}
