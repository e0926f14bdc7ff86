//! Workspaces whose repository is on this machine (a path, a `file://` URL), end to end on the
//! local backend with real bubblewrap and git.
//!
//! Why: the sandbox sees the host read-only, so the agent's own `git push` cannot reach such
//! a repository; Axon pushes the agent's branch from outside after the run. That push runs as
//! the caller (often root) on a `.git` the agent controlled: nothing that `.git` names (hooks,
//! `core.fsmonitor`, filters) may run. Judged on the host: the branch in the repository, the
//! Task's status, and a marker file only such a program would create.

mod outside;

use axon_api::TaskPhase;
use outside::{Env, git};
use std::path::{Path, PathBuf};

/// A repository with one commit on `main`: bare, or a checkout (on `main`).
fn repository(root: &Path, bare: bool) -> PathBuf {
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).expect("seed");
    git(&seed, &["init", "-q", "-b", "main"]);
    std::fs::write(seed.join("README.md"), "local\n").expect("readme");
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-qm", "base"]);
    let repo = root.join(if bare { "repo.git" } else { "repo" });
    let r = repo.to_string_lossy().to_string();
    let mut args = vec!["clone", "-q"];
    if bare {
        args.push("--bare");
    }
    args.extend(["seed", r.as_str()]);
    git(root, &args);
    repo
}

/// Commits on `axon/<task>` and tries to push it from the sandbox (which cannot work).
const COMMIT_AGENT: &str = r#"set -e
git checkout -q -b "axon/$AXON_TASK"
echo "$AXON_TASK" > agent.txt
git add agent.txt
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm "agent: $AXON_TASK"
if git push -q origin "axon/$AXON_TASK" 2>/dev/null; then echo "pushed from inside"; else echo "push from inside failed"; fi"#;

async fn workspace(env: &Env, name: &str, url: &str) {
    env.apply(&format!(
        "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {{name: {name}}}\nspec: {{repo: {url:?}, ref: main}}\n"
    ))
    .await;
}

#[tokio::test]
async fn the_agents_branch_lands_in_a_local_repository() {
    let env = Env::new("axon-localrepo-").await;
    let agent = env.agent("commit.sh", COMMIT_AGENT);
    for (task, bare) in [("by-url", true), ("by-path", false)] {
        let root = env.scratch().join(task);
        std::fs::create_dir_all(&root).expect("root");
        let repo = repository(&root, bare);
        let url = match bare {
            true => format!("file://{}", repo.display()),
            false => repo.display().to_string(),
        };
        workspace(&env, &format!("ws-{task}"), &url).await;
        env.run(
            task,
            &agent,
            &format!("  workspaceRef: {{name: ws-{task}}}\n"),
        )
        .await;
        let t = env.wait(task).await;
        let log = env.log(task).await;
        let s = t.status.clone().expect("status");
        assert_eq!(s.phase, Some(TaskPhase::Succeeded), "{task}: {log}");
        assert!(log.contains("push from inside failed"), "{task}: {log}");
        let out = s.outputs.expect("outputs");
        let branch = format!("axon/{task}");
        assert_eq!(out.branch.as_deref(), Some(branch.as_str()), "{task}");
        assert_eq!(out.commits.len(), 1, "{task}");
        assert!(out.pushed, "{task}: {log}");
        assert_eq!(
            git(&repo, &["rev-parse", &format!("refs/heads/{branch}")]),
            out.commits[0],
            "{task}"
        );
        assert_eq!(
            git(&repo, &["show", &format!("{branch}:agent.txt")]),
            task,
            "{task}"
        );
        // The base branch is untouched.
        assert_eq!(git(&repo, &["log", "--format=%s", "main"]), "base");
    }
}

/// The agent commits, then plants in its `.git` every program a git run outside could start,
/// aimed at a marker on the host (which the agent itself cannot write: the host is read-only
/// in the sandbox).
#[tokio::test]
async fn a_hostile_git_dir_runs_nothing_when_axon_pushes() {
    let env = Env::new("axon-localrepo-").await;
    let root = env.scratch().join("hostile");
    std::fs::create_dir_all(&root).expect("root");
    let repo = repository(&root, true);
    let marker = env.scratch().join("pwned");
    let touch = format!("touch {}", marker.display());
    let agent = env.agent(
        "hostile.sh",
        &format!(
            r#"{COMMIT_AGENT}
for key in core.fsmonitor core.pager core.sshCommand core.alternateRefsCommand uploadpack.packObjectsHook filter.x.process remote.origin.receivepack remote.origin.uploadpack; do
  git config "$key" "{touch}"
done
git config filter.x.clean "{touch}; cat"
git config filter.x.smudge "{touch}; cat"
git config filter.x.required true
git config credential.helper "!{touch}"
for hook in pre-push pre-commit post-commit post-update reference-transaction post-index-change pre-auto-gc post-checkout update pre-receive; do
  printf '#!/bin/sh\n{touch}\n' > ".git/hooks/$hook"
  chmod +x ".git/hooks/$hook"
done
echo '* filter=x' > .gitattributes
echo "uncommitted" > extra.txt
echo planted"#
        ),
    );
    workspace(&env, "ws", &format!("file://{}", repo.display())).await;
    env.run("hostile", &agent, "  workspaceRef: {name: ws}\n")
        .await;
    let t = env.wait("hostile").await;
    let log = env.log("hostile").await;
    let s = t.status.clone().expect("status");
    assert_eq!(s.phase, Some(TaskPhase::Succeeded), "{log}");
    assert!(log.contains("planted"), "{log}");
    let out = s.outputs.expect("outputs");
    assert!(out.pushed, "{log}");
    assert_eq!(
        git(&repo, &["rev-parse", "refs/heads/axon/hostile"]),
        out.commits[0]
    );
    assert!(!marker.exists(), "a program named by the agent's .git ran");
}
