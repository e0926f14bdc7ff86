//! Results of a custom entrypoint run without the runner (`axon agent run`): the supervisor
//! inspects the work tree with git itself, after the agent exited, so nothing the agent
//! prints can forge them. Used while a Task's run options say `runner: direct`.

use axon_core::results::ResultsDocument;
use std::path::Path;
use std::process::{Command, Stdio};

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Build a results document from the work tree: branch, commits since `base_head`, whether
/// the branch was pushed (its remote-tracking ref is at HEAD), and the exit code.
pub fn results_from_git(
    work: &Path,
    base_branch: Option<&str>,
    base_head: Option<&str>,
    exit_code: Option<i32>,
) -> ResultsDocument {
    let success = exit_code == Some(0);
    let mut doc = ResultsDocument {
        agent_type: Some("custom".into()),
        base_branch: base_branch.map(str::to_string),
        exit_code,
        success,
        failure_reason: (!success).then(|| match exit_code {
            Some(c) => format!("the agent exited with code {c}"),
            None => "the agent was killed by a signal".to_string(),
        }),
        ..Default::default()
    };
    // The commit and the branch (`HEAD` when detached) in one git process.
    let Some(out) = git(work, &["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"]) else {
        return doc;
    };
    let mut lines = out.lines();
    let head = lines.next().unwrap_or_default().to_string();
    let branch = lines
        .next()
        .and_then(|r| r.strip_prefix("refs/heads/"))
        .map(str::to_string);
    if let Some(base) = base_head {
        doc.commits = git(work, &["rev-list", &format!("{base}..HEAD")])
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default();
    }
    // Pushed: new commits, and the remote-tracking ref of the branch at HEAD (no commits, no
    // push to look for).
    if let Some(b) = &branch
        && !doc.commits.is_empty()
    {
        doc.pushed = git(
            work,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/remotes/origin/{b}"),
            ],
        )
        .is_some_and(|r| r == head);
    }
    doc.branch = branch;
    doc
}
