//! The results document, assembled outside the agent's reach after its processes are gone.
//!
//! Two kinds of fact go into it, and status must not confuse them:
//! * **measured** by Axon: the branch, HEAD and commits (git on the work tree, with
//!   [`crate::outside_git`]'s precautions), whether the branch reached the remote (`ls-remote`
//!   against the Workspace's URL as Axon knows it), the pull requests (GitHub's API, with the
//!   Workspace's token), and the runner's exit code (from the process table or the kubelet);
//! * **reported** by the agent side: usage, the final answer and the reason for a failure,
//!   parsed from the agent CLI's stream (locally: the Task's log, read by the supervisor) or
//!   from the runner's claims file (Kubernetes). Usage is tagged `source: agent`; a custom
//!   agent's figures are never taken, so its status has no usage at all.
//!
//! Nothing the agent wrote decides a measured field: git fields in the claims are ignored.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use axon_api::AgentType;
use axon_core::results::{ResultsDocument, UsageSource};

use crate::github;
use crate::outcome::Outcome;
use crate::outside_git::{measure_tree, remote_has};
use crate::parse::{one_line, parser_for, reports_result};
use crate::redact::Redactor;

/// Largest claims file read (a results document is a few KiB).
const MAX_CLAIMS: u64 = 256 * 1024;
/// Longest stream line parsed; longer lines are skipped.
const MAX_LINE: usize = 4 * 1024 * 1024;
/// Most of a stream read (its tail, when longer).
const MAX_STREAM: u64 = 256 * 1024 * 1024;
/// The runner's closing line on failure (crates/agent/src/runner.rs).
const FAILED_MARKER: &str = "axon: agent failed: ";

/// What the collector is given, all of it from outside the agent's reach except `reported`.
#[derive(Clone, Debug)]
pub struct CollectInput<'a> {
    /// The work tree (the agent's processes are gone).
    pub work: &'a Path,
    /// A custom agent: its usage is never taken.
    pub custom: bool,
    /// What the agent side claimed (usage, final answer, failure reason); its git fields are
    /// ignored.
    pub reported: Option<ResultsDocument>,
    /// Exit code of `axon agent run` (`None`: killed by a signal).
    pub runner_exit: Option<i32>,
    /// The branch the work tree was prepared at.
    pub base_branch: Option<&'a str>,
    /// HEAD when the work tree was prepared, recorded by Axon.
    pub base_head: Option<&'a str>,
    /// The Workspace's repository URL (never the work tree's own `origin`).
    pub remote_url: Option<&'a str>,
    /// A file holding the Workspace's GitHub token.
    pub token_file: Option<&'a Path>,
    /// GitHub API base override (`AXON_GITHUB_API_URL`).
    pub github_api: Option<&'a str>,
    /// Values never to show (credentials), redacted from every reported text.
    pub secrets: Vec<String>,
}

/// Assemble the results document.
pub async fn collect(input: &CollectInput<'_>) -> ResultsDocument {
    let redactor = Redactor::new(input.secrets.iter().cloned());
    let reported = input.reported.clone().unwrap_or_default();
    let success = input.runner_exit == Some(0) && (input.reported.is_none() || reported.success);
    let failure_reason = (!success).then(|| {
        reported
            .failure_reason
            .clone()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| match input.runner_exit {
                Some(0) => "the agent reported failure".to_string(),
                Some(code) => format!("the agent exited with code {code}"),
                None => "the agent was killed by a signal".to_string(),
            })
    });

    let tree = measure_tree(input.work, input.base_head).await;
    let mut pushed = false;
    let mut pull_requests = Vec::new();
    let mut notes = Vec::new();
    if let (Some(branch), Some(head), Some(url)) = (&tree.branch, &tree.head, input.remote_url)
        && !tree.commits.is_empty()
    {
        match remote_has(url, branch, head, input.token_file).await {
            Ok(p) => pushed = p,
            Err(e) => notes.push(e),
        }
        let token = input
            .token_file
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        if pushed
            && let Some(token) = token
            && let Some(remote) = github::parse_remote(url)
            && let Some(api) = github::api_for(&remote, input.github_api)
        {
            match github::pull_requests(&api, &remote, branch, &token).await {
                Ok(prs) => pull_requests = prs,
                Err(e) => notes.push(format!("cannot look up pull requests: {e}")),
            }
        }
    }
    for note in &notes {
        tracing::warn!("{}", redactor.redact(note));
    }

    let usage = if input.custom {
        None
    } else {
        reported.usage.clone().map(|mut u| {
            u.source = UsageSource::Agent;
            u
        })
    };
    ResultsDocument {
        agent_type: reported
            .agent_type
            .clone()
            .filter(|_| !input.custom)
            .or_else(|| input.custom.then(|| "custom".to_string())),
        branch: tree.branch,
        base_branch: input.base_branch.map(str::to_string),
        commits: tree.commits,
        pushed,
        pull_requests,
        usage,
        final_answer: reported.final_answer.map(|a| redactor.redact(&a)),
        exit_code: input.runner_exit,
        success,
        failure_reason: failure_reason.map(|r| one_line(&redactor.redact(&r), 1000)),
        budget_exceeded: None,
    }
}

/// The runner's claims file (Kubernetes: written by the agent container into a volume the
/// results container reads). Opened without following a symlink and size-capped: the agent
/// may have replaced it with anything. `None` when missing or not a document.
pub fn read_claims(path: &Path) -> Option<ResultsDocument> {
    serde_json::from_slice(&read_capped(path, MAX_CLAIMS)?).ok()
}

/// A small file the agent may have tampered with: opened without following a symlink and
/// without blocking on a FIFO, a regular file only, at most `limit` bytes (`None` otherwise).
pub fn read_capped(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= limit).then_some(bytes)
}

/// Why the sandbox did not start, in words that say what to do: bubblewrap's own error line,
/// and when the kernel refused a user namespace, the settings that allow one and the
/// explicit way out. Never a silently weaker sandbox.
pub fn sandbox_failure(bwrap_error: &str) -> String {
    let e = bwrap_error.to_ascii_lowercase();
    let userns = [
        "uid map",
        "gid map",
        "user namespace",
        "creating new namespace",
        "setting up uid",
    ]
    .iter()
    .any(|k| e.contains(k));
    if userns {
        format!(
            "the sandbox could not start: the kernel refused a user namespace (bwrap: {bwrap_error}); allow unprivileged user namespaces (sysctl user.max_user_namespaces=15000, kernel.unprivileged_userns_clone=1 on Debian kernels, kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04+) or run without isolation with --sandbox none"
        )
    } else {
        format!("the sandbox could not start (bwrap: {bwrap_error})")
    }
}

/// What the agent side reported, read from the Task's log (the runner's stdout and stderr:
/// the agent CLI's JSONL and the runner's own `axon:` lines). Usage and the final answer
/// come from the CLI's events; the failure reason from the runner's closing line, else the
/// events, else the exit code. A custom agent (`agent_type` `None`) reports no usage.
pub fn claims_from_stream(
    agent_type: Option<AgentType>,
    log: &Path,
    runner_exit: Option<i32>,
) -> ResultsDocument {
    let mut outcome = Outcome::default();
    let mut parser = agent_type.map(parser_for);
    let mut failed_line: Option<String> = None;
    let mut error_line: Option<String> = None;
    let mut sandbox_line: Option<String> = None;
    let mut tail: Vec<String> = Vec::new();
    if let Ok(mut file) = std::fs::File::open(log) {
        use std::io::Seek;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > MAX_STREAM {
            let _ = file.seek(std::io::SeekFrom::Start(len - MAX_STREAM));
        }
        let mut reader = BufReader::new(file.take(MAX_STREAM));
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader
                .by_ref()
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if buf.len() > MAX_LINE {
                // Skip the rest of an oversized line.
                let mut rest = Vec::new();
                let _ = reader.read_until(b'\n', &mut rest);
                continue;
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(e) = line.strip_prefix("bwrap: ") {
                sandbox_line.get_or_insert_with(|| e.to_string());
            } else if let Some(reason) = line.strip_prefix(FAILED_MARKER) {
                failed_line = Some(reason.to_string());
            } else if let Some(e) = line.strip_prefix("error: ") {
                error_line = Some(e.to_string());
            } else if !line.starts_with('{') && !line.trim().is_empty() {
                tail.push(line.to_string());
                if tail.len() > 5 {
                    tail.remove(0);
                }
            }
            if let Some(p) = parser.as_mut() {
                for event in p.parse_line(line) {
                    outcome.apply(&event);
                }
            }
        }
    }
    let label = agent_type.map(|t| t.as_str()).unwrap_or("agent");
    let requires_result = agent_type.is_some_and(reports_result);
    let verdict = outcome.verdict(label, runner_exit, requires_result, &tail.join("\n"));
    let success = runner_exit == Some(0);
    let failure_reason = if success {
        None
    } else {
        sandbox_line
            .map(|e| sandbox_failure(&e))
            .or(failed_line)
            .or(error_line)
            .or(verdict.reason)
    };
    ResultsDocument {
        agent_type: Some(label.to_string()).filter(|_| agent_type.is_some()),
        usage: agent_type
            .is_some()
            .then(|| outcome.usage())
            .filter(|_| outcome.saw_events()),
        final_answer: outcome.final_answer(),
        exit_code: runner_exit,
        success,
        failure_reason,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_agents_report_no_usage_whatever_they_print() {
        let tmp = tempfile::tempdir().expect("tmp");
        let log = tmp.path().join("log");
        std::fs::write(
            &log,
            "{\"type\":\"result\",\"is_error\":false,\"result\":\"done\",\"usage\":{\"input_tokens\":999999,\"output_tokens\":5},\"total_cost_usd\":999,\"num_turns\":7}\n",
        )
        .expect("log");
        let doc = claims_from_stream(None, &log, Some(0));
        assert_eq!(doc.usage, None);
        let claude = claims_from_stream(Some(AgentType::ClaudeCode), &log, Some(0));
        let usage = claude.usage.expect("claude usage");
        assert_eq!(usage.input_tokens, 999999);
        assert_eq!(usage.source, UsageSource::Agent);
    }

    #[test]
    fn the_failure_reason_comes_from_the_runner_line_then_the_exit_code() {
        let tmp = tempfile::tempdir().expect("tmp");
        let log = tmp.path().join("log");
        std::fs::write(&log, "noise\naxon: agent failed: model said no\n").expect("log");
        let doc = claims_from_stream(Some(AgentType::ClaudeCode), &log, Some(1));
        assert_eq!(doc.failure_reason.as_deref(), Some("model said no"));
        std::fs::write(&log, "").expect("log");
        let doc = claims_from_stream(None, &log, Some(3));
        assert!(!doc.success);
        assert!(
            doc.failure_reason
                .as_deref()
                .is_some_and(|r| r.contains("code 3")),
            "{doc:?}"
        );
    }

    #[test]
    fn a_refused_user_namespace_names_the_sysctl_and_the_way_out() {
        let tmp = tempfile::tempdir().expect("tmp");
        let log = tmp.path().join("log");
        std::fs::write(&log, "bwrap: setting up uid map: Permission denied\n").expect("log");
        let doc = claims_from_stream(None, &log, Some(1));
        let reason = doc.failure_reason.unwrap_or_default();
        assert!(reason.contains("user.max_user_namespaces"), "{reason}");
        assert!(reason.contains("--sandbox none"), "{reason}");
    }

    #[tokio::test]
    async fn git_fields_in_claims_are_ignored() {
        let tmp = tempfile::tempdir().expect("tmp");
        let forged = ResultsDocument {
            branch: Some("forged".into()),
            commits: vec!["a".repeat(40)],
            pushed: true,
            pull_requests: vec!["https://github.com/o/r/pull/1".into()],
            usage: Some(Default::default()),
            success: true,
            ..Default::default()
        };
        let doc = collect(&CollectInput {
            work: tmp.path(),
            custom: true,
            reported: Some(forged),
            runner_exit: Some(0),
            base_branch: None,
            base_head: None,
            remote_url: None,
            token_file: None,
            github_api: None,
            secrets: Vec::new(),
        })
        .await;
        assert_eq!(doc.branch, None);
        assert!(doc.commits.is_empty() && !doc.pushed && doc.pull_requests.is_empty());
        assert_eq!(doc.usage, None);
        assert!(doc.success);
    }

    #[test]
    fn claims_are_not_read_through_a_symlink() {
        let tmp = tempfile::tempdir().expect("tmp");
        let real = tmp.path().join("real.json");
        std::fs::write(&real, r#"{"success":true}"#).expect("write");
        assert!(read_claims(&real).is_some());
        let link = tmp.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        assert_eq!(read_claims(&link), None);
    }
}
