//! `axon agent collect`: the results of a finished run, taken from outside the agent's reach.
//! On Kubernetes it is the `results` container, which starts after every process of the agent
//! is gone, as another user, with the work tree read-only. It reads
//!
//! * the work tree (git facts: branch, commits, pushed, pull requests — measured here),
//! * the base commit and branch `axon workspace prepare --base-dir` recorded in a directory the
//!   agent never sees ([`record_base`] writes it, this reads it),
//! * the agent side's claims (usage, final answer, success) and its entrypoint's exit code,
//!   read as untrusted input: regular files only (no symlink, FIFO or device), size-capped,
//!
//! and writes the results document to `--out` (the termination message file). Exit code: 0
//! when the document says the run succeeded, 1 when it says it failed (so a Job's
//! `backoffLimit` retries), anything else when no document could be written.

use crate::args::AgentCollectArgs;
use crate::error::CliError;
use axon_core::results::ResultsDocument;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::ExitCode;

use axon_agent::collect::{CollectInput, collect, read_capped, read_claims};

/// File in the base directory holding the base commit and branch.
pub const BASE_FILE: &str = "base.json";
/// Largest base record or exit-code file read.
const SMALL_FILE_LIMIT: u64 = 4096;

/// What `prepare` saw after the clone, before the agent ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    /// The branch (or tag, or commit) the work tree was cloned at.
    #[serde(default)]
    pub branch: Option<String>,
    /// HEAD after the clone.
    #[serde(default)]
    pub head: Option<String>,
}

/// Record the base commit and branch in `dir` (`axon workspace prepare --base-dir`).
pub fn record_base(dir: &Path, branch: &str, head: &str) -> Result<(), CliError> {
    let base = Base {
        branch: Some(branch.to_string()).filter(|b| !b.is_empty()),
        head: Some(head.to_string()).filter(|h| !h.is_empty()),
    };
    let json = serde_json::to_vec(&base)
        .map_err(|e| CliError::Invalid(format!("cannot encode the base record: {e}")))?;
    std::fs::create_dir_all(dir).map_err(CliError::io(format!("create {}", dir.display())))?;
    let tmp = dir.join(format!(".{BASE_FILE}.tmp"));
    std::fs::write(&tmp, json).map_err(CliError::io(format!("write {}", tmp.display())))?;
    let path = dir.join(BASE_FILE);
    std::fs::rename(&tmp, &path).map_err(CliError::io(format!("write {}", path.display())))
}

/// Read the base record from `dir` (empty when absent or unreadable).
pub fn read_base(dir: &Path) -> Base {
    read_capped(&dir.join(BASE_FILE), SMALL_FILE_LIMIT)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The exit code the agent container's wrapper recorded (a claim).
pub fn read_exit_code(path: &Path) -> Option<i32> {
    let bytes = read_capped(path, 32)?;
    std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
}

/// When the gateway refused a model call over the Task's budget: the run failed
/// `BudgetExceeded`, and whatever the work tree holds is saved on the Task's WIP branch and
/// pushed through the gateway (the scratch repository's objects live in this container's
/// `/tmp`; the work tree is only read). Without an answer from the gateway the document stays
/// as collected, with a warning.
async fn stop_over_budget(
    doc: &mut ResultsDocument,
    url: &str,
    token_file: &Path,
    args: &AgentCollectArgs,
    base: &Base,
) {
    let token = match std::fs::read_to_string(token_file) {
        Ok(t) => t.trim().to_string(),
        Err(e) => {
            tracing::warn!(
                "cannot read the gateway token {}: {e}; the budget was not checked",
                token_file.display()
            );
            return;
        }
    };
    let run = match axon_agent::gateway_run::ask(url, &token).await {
        Ok(run) => run,
        Err(e) => {
            tracing::warn!("{e}; the budget was not checked");
            return;
        }
    };
    let Some(message) = run.budget_exceeded else {
        return;
    };
    let save = args
        .repo
        .as_deref()
        .map(|remote| axon_agent::wip::WipRequest {
            work: &args.work,
            base_head: base.head.as_deref(),
            task: &run.task,
            remote,
            token_file: args.token_file.as_deref(),
            lent_objects: None,
        });
    if let Some(line) = axon_agent::wip::stopped(
        doc,
        axon_agent::wip::Stop::OverBudget(&message),
        save.as_ref(),
    )
    .await
    {
        eprintln!("{line}");
    }
}

/// 0 when the document says the run succeeded or was stopped over its budget (final: never
/// retried), else 1 (the same verdict the controller draws).
pub fn verdict_code(doc: &ResultsDocument) -> u8 {
    if doc.budget_exceeded.is_some() || (doc.success && doc.exit_code.unwrap_or(0) == 0) {
        0
    } else {
        1
    }
}

/// `axon agent collect`.
pub async fn run(args: &AgentCollectArgs) -> Result<ExitCode, CliError> {
    let base = args.base_dir.as_deref().map(read_base).unwrap_or_default();
    let github_api = std::env::var(axon_api::contract::ENV_GITHUB_API_URL).ok();
    let secrets: Vec<String> = args
        .token_file
        .as_deref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .into_iter()
        .collect();
    let input = CollectInput {
        work: &args.work,
        custom: args.custom,
        reported: args.claims.as_deref().and_then(read_claims),
        runner_exit: args.exit_code_file.as_deref().and_then(read_exit_code),
        base_branch: base.branch.as_deref(),
        base_head: base.head.as_deref(),
        remote_url: args.repo.as_deref(),
        token_file: args.token_file.as_deref(),
        github_api: github_api.as_deref(),
        secrets,
    };
    let mut doc = collect(&input).await;
    if let (Some(url), Some(file)) = (&args.gateway_url, &args.gateway_token_file) {
        stop_over_budget(&mut doc, url, file, args, &base).await;
    }
    std::fs::write(&args.out, doc.to_termination_message())
        .map_err(CliError::io(format!("write {}", args.out.display())))?;
    Ok(ExitCode::from(verdict_code(&doc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_base_record_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base_dir = dir.path().join("base");
        record_base(&base_dir, "main", &"a".repeat(40)).expect("record");
        assert_eq!(
            read_base(&base_dir),
            Base {
                branch: Some("main".into()),
                head: Some("a".repeat(40)),
            }
        );
        assert_eq!(read_base(&dir.path().join("none")), Base::default());
    }

    #[test]
    fn planted_files_are_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("token");
        std::fs::write(&secret, "7").expect("write");
        let link = dir.path().join("exit-code");
        std::os::unix::fs::symlink(&secret, &link).expect("symlink");
        assert_eq!(read_exit_code(&secret), Some(7));
        assert_eq!(read_exit_code(&link), None, "a symlink is not followed");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            assert_eq!(read_capped(&fifo, 10), None, "a FIFO is not opened");
        }
        let big = dir.path().join("big");
        std::fs::write(&big, "1".repeat(100)).expect("write");
        assert_eq!(read_capped(&big, 10), None);
        assert_eq!(read_exit_code(dir.path()), None, "a directory is not read");
    }

    fn args(dir: &Path, custom: bool) -> AgentCollectArgs {
        AgentCollectArgs {
            work: dir.to_path_buf(),
            claims: Some(dir.join("claims.json")),
            exit_code_file: Some(dir.join("exit-code")),
            base_dir: Some(dir.join("base")),
            repo: None,
            token_file: None,
            out: dir.join("termination-log"),
            custom,
            gateway_url: None,
            gateway_token_file: None,
        }
    }

    fn out(dir: &Path) -> ResultsDocument {
        let text = std::fs::read_to_string(dir.join("termination-log")).expect("written");
        assert!(text.len() <= axon_core::results::TERMINATION_MESSAGE_LIMIT);
        serde_json::from_str(&text).expect("a results document")
    }

    #[tokio::test]
    async fn writes_the_document_and_exits_with_its_verdict() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d: PathBuf = dir.path().to_path_buf();
        record_base(&d.join("base"), "main", &"b".repeat(40)).expect("base");
        std::fs::write(d.join("exit-code"), "0\n").expect("exit code");
        let claims = serde_json::json!({"success": true, "exitCode": 0, "finalAnswer": "done",
            "branch": "forged", "commits": ["f".repeat(40)], "pushed": true,
            "pullRequests": ["https://github.com/o/r/pull/666"],
            "usage": {"inputTokens": 10, "outputTokens": 2, "turns": 1}});
        std::fs::write(d.join("claims.json"), claims.to_string()).expect("claims");
        let code = run(&args(&d, false)).await.expect("collect");
        let doc = out(&d);
        assert_eq!(code, ExitCode::from(verdict_code(&doc)));
        assert_eq!(doc.final_answer.as_deref(), Some("done"));
        assert_eq!(doc.base_branch.as_deref(), Some("main"));
        assert_ne!(
            doc.branch.as_deref(),
            Some("forged"),
            "git facts are never claims"
        );
        assert!(!doc.pull_requests.iter().any(|p| p.ends_with("/666")));

        // A custom image: usage is never taken; a non-zero exit code fails the run.
        std::fs::write(d.join("exit-code"), "3\n").expect("exit code");
        let code = run(&args(&d, true)).await.expect("collect");
        let doc = out(&d);
        assert_eq!(doc.usage, Default::default());
        assert_eq!(code, ExitCode::from(1));
    }

    #[test]
    fn verdict_matches_the_controllers() {
        let ok = ResultsDocument {
            success: true,
            exit_code: Some(0),
            ..Default::default()
        };
        assert_eq!(verdict_code(&ok), 0);
        let bad_exit = ResultsDocument {
            exit_code: Some(2),
            ..ok.clone()
        };
        assert_eq!(verdict_code(&bad_exit), 1);
        assert_eq!(verdict_code(&ResultsDocument::default()), 1);
    }
}
