//! The WIP commit of a stopped run: whatever the work tree holds when Axon stops an agent (a
//! budget reached, a cancel), committed and pushed from outside so nothing is lost.
//!
//! Everything the work tree holds — tracked changes and untracked files, minus what its
//! `.gitignore` files exclude — is committed on top of the agent's HEAD (measured with
//! [`crate::outside_git`]'s precautions) onto `axon/wip/<task>` and pushed to the Workspace's
//! repository, never force: when that branch exists and does not lead to the new commit (an
//! earlier run's WIP), the commit goes to `axon/wip/<task>-<short id>` instead. The commit is
//! made in a [`Scratch`] repository of Axon's own, with the work tree as `--work-tree`: the
//! agent's `.git/config` is never read, so a filter or `core.fsmonitor` it names, or a hook it
//! planted, never runs (a `.gitattributes` naming filter `x` finds no driver `x`). The push
//! uses the Workspace's token through a credential helper reading `token_file` (its path, not
//! the token, is on the command line); a path or `file://` repository is pushed to directly.
//! Called only once the agent's processes are gone.

use std::path::Path;

use axon_core::results::ResultsDocument;

use crate::error::OutsideGitError;
use crate::outside_git::{is_branch_name, measure_tree};
use crate::outside_push::{Scratch, Target, step};

/// The prefix of WIP branches.
pub const WIP_PREFIX: &str = "axon/wip/";

/// The identity of WIP commits.
const AUTHOR_NAME: &str = "Axon";
const AUTHOR_EMAIL: &str = "axon@localhost";

/// What to commit and where to push it.
#[derive(Clone, Copy, Debug)]
pub struct WipRequest<'a> {
    /// The work tree (no agent process may be left running in it).
    pub work: &'a Path,
    /// HEAD when the work tree was prepared, recorded by Axon.
    pub base_head: Option<&'a str>,
    /// The Task's name (the branch is `axon/wip/<task>`).
    pub task: &'a str,
    /// The Workspace's repository URL as Axon knows it (never the work tree's `origin`).
    pub remote: &'a str,
    /// A file holding the Workspace's token.
    pub token_file: Option<&'a Path>,
    /// The object directory Axon lent the work tree (the mirror's), which holds the base.
    pub lent_objects: Option<&'a Path>,
}

/// The WIP commit made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WipOutcome {
    /// The branch it was pushed to (or would have been).
    pub branch: String,
    /// The commit.
    pub commit: String,
    /// Whether the push succeeded.
    pub pushed: bool,
    /// Why the push failed (git's message, URL redacted; never a token).
    pub push_error: Option<String>,
}

/// Why Axon stopped a run before the agent ended it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop<'a> {
    /// The gateway refused a model call over the Task's budget; the limit and the figure.
    OverBudget(&'a str),
    /// A cancel was requested; who asked (`axon cancel`).
    Cancelled(&'a str),
}

/// `doc` made the results of a run Axon stopped (`stop`: over its budget, or cancelled), with
/// the work tree saved on the WIP branch when `save` gives a repository: the run did not
/// succeed, the branch and commit are the WIP's, and nothing the agent side claimed about
/// success stands. Returns the line telling what happened to the work tree (for the Task's
/// log), `None` without a repository. Both drivers call this once the agent's processes are
/// gone: the local supervisor, and on Kubernetes the Pod's `results` container.
pub async fn stopped(
    doc: &mut ResultsDocument,
    stop: Stop<'_>,
    save: Option<&WipRequest<'_>>,
) -> Option<String> {
    doc.success = false;
    match stop {
        Stop::OverBudget(message) => {
            doc.failure_reason = Some(message.to_string());
            doc.budget_exceeded = Some(message.to_string());
        }
        Stop::Cancelled(by) => {
            doc.failure_reason = Some(axon_core::cancel::message(by));
        }
    }
    let req = save?;
    let line = match commit_and_push(req).await {
        Ok(Some(w)) => {
            let line = match &w.push_error {
                None => format!("axon: the work tree was saved on {} and pushed", w.branch),
                Some(e) => format!(
                    "axon: warning: the work tree was saved on {} but not pushed: {e}",
                    w.branch
                ),
            };
            doc.branch = Some(w.branch);
            doc.commits = vec![w.commit];
            doc.pushed = w.pushed;
            doc.pull_requests.clear();
            line
        }
        Ok(None) => "axon: nothing to save: the work tree holds no change".to_string(),
        Err(e) => format!("axon: warning: the work tree could not be saved: {e}"),
    };
    Some(line)
}

/// The WIP branch of `task`.
pub fn wip_branch(task: &str) -> String {
    format!("{WIP_PREFIX}{task}")
}

/// Commit what the work tree holds and push it. `Ok(None)`: nothing to commit and no commits
/// since the base (or no repository at all). A failed push is `Ok` with `pushed: false`.
pub async fn commit_and_push(req: &WipRequest<'_>) -> Result<Option<WipOutcome>, OutsideGitError> {
    let branch = wip_branch(req.task);
    if !is_branch_name(&branch) {
        return Err(OutsideGitError::Git {
            what: "the WIP commit".into(),
            detail: format!("{branch:?} is not a branch name"),
        });
    }
    let tree = measure_tree(req.work, req.base_head).await;
    let Some(head) = tree.head.clone().or(req.base_head.map(str::to_string)) else {
        return Ok(None);
    };
    let target = Target::of(req.remote);
    let scratch = Scratch::new(req.work, &head, &target.alternates(req.lent_objects)).await?;
    // The agent's HEAD, unless its objects are not all here (then the base).
    let parent = if scratch.has_commit(&head).await {
        head
    } else {
        match req.base_head {
            Some(base) if scratch.has_commit(base).await => base.to_string(),
            _ => {
                return Err(OutsideGitError::Git {
                    what: "the WIP commit".into(),
                    detail: format!("neither the agent's HEAD {head} nor the base is readable"),
                });
            }
        }
    };
    let index = scratch_index(&scratch);
    let with_index = |mut cmd: tokio::process::Command| {
        cmd.env("GIT_INDEX_FILE", &index);
        cmd
    };
    let mut read = with_index(scratch.git(Some(req.work)));
    read.args(["read-tree", &parent]);
    step(read, "read-tree of the agent's HEAD").await?;
    let mut add = with_index(scratch.git(Some(req.work)));
    add.args(["add", "--all", "--", "."]);
    step(add, "git add of the work tree").await?;
    let mut write = with_index(scratch.git(Some(req.work)));
    write.arg("write-tree");
    let new_tree = step(write, "write-tree").await?;
    let mut old = scratch.git(None);
    old.args(["rev-parse", &format!("{parent}^{{tree}}")]);
    let parent_tree = step(old, "rev-parse of the agent's tree").await?;
    let commit = if new_tree == parent_tree {
        if Some(parent.as_str()) == req.base_head {
            return Ok(None);
        }
        // Nothing uncommitted, but the agent's commits are not pushed: they are the WIP.
        parent
    } else {
        let message = format!(
            "WIP: the work tree of Task {} when it was stopped\n\nCommitted by Axon from outside the sandbox.",
            req.task
        );
        let mut cmd = scratch.git(None);
        for (k, v) in [
            ("GIT_AUTHOR_NAME", AUTHOR_NAME),
            ("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL),
            ("GIT_COMMITTER_NAME", AUTHOR_NAME),
            ("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL),
        ] {
            cmd.env(k, v);
        }
        cmd.args(["commit-tree", &new_tree, "-p", &parent, "-m", &message]);
        step(cmd, "commit-tree").await?
    };
    let mut outcome = WipOutcome {
        branch: branch.clone(),
        commit: commit.clone(),
        pushed: false,
        push_error: None,
    };
    match scratch
        .push(&target, &commit, &branch, req.token_file)
        .await
    {
        Ok(()) => outcome.pushed = true,
        Err(e) if e.rejected => {
            // An earlier run's WIP holds the name: never overwrite it.
            let short: String = commit.chars().take(12).collect();
            let other = format!("{branch}-{short}");
            match scratch.push(&target, &commit, &other, req.token_file).await {
                Ok(()) => {
                    outcome.branch = other;
                    outcome.pushed = true;
                }
                Err(e) => outcome.push_error = Some(e.message),
            }
        }
        Err(e) => outcome.push_error = Some(e.message),
    }
    Ok(Some(outcome))
}

/// The scratch repository's index for the WIP commit (not the agent's).
fn scratch_index(scratch: &Scratch) -> std::path::PathBuf {
    scratch.path().join("wip-index")
}
