//! The Workspace's `setupCommand`, run by `axon agent run` in the work tree before the agent.
//!
//! It runs where the agent runs — inside the sandbox (locally) or the agent container
//! (Kubernetes), with the agent's environment and the gateway relay already up — so it has
//! exactly the agent's file system and network rules: `npm ci` reaches the registry only if
//! the Task's egress allows it. Its standard output and error go, merged and redacted, to the
//! runner's standard error, so they are in the Task's log in order. It runs in its own process
//! group, which is killed when it exits (nothing it started outlives it into the agent's run)
//! and which receives the runner's SIGTERM/SIGINT.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWrite;
use tokio::process::Command;

use crate::error::AgentError;
use crate::redact::Redactor;

/// The shell that runs the command.
const SHELL: &str = "/bin/sh";

/// How the setup command ended, when it did not succeed: the Task's failure reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupFailed {
    /// The exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    /// The last non-blank lines of its output (redacted).
    pub tail: Vec<String>,
}

impl SetupFailed {
    /// The failure reason shown in status: `setup command exited N: <last line>`.
    pub fn reason(&self) -> String {
        let how = match self.code {
            Some(code) => format!("setup command exited {code}"),
            None => "setup command was killed by a signal".to_string(),
        };
        match self.tail.last() {
            Some(line) => format!("{how}: {line}"),
            None => how,
        }
    }
}

/// Runs `command` with `sh -c` in `workdir` with exactly `env`, its output to `err`.
/// `Ok(None)`: it succeeded; `Ok(Some(failed))`: it exited non-zero or was killed.
pub async fn run(
    command: &str,
    workdir: &Path,
    env: &BTreeMap<String, String>,
    redactor: &Redactor,
    err: &mut (dyn AsyncWrite + Unpin + Send),
) -> Result<Option<SetupFailed>, AgentError> {
    let (reader, writer) = std::io::pipe().map_err(AgentError::Process)?;
    let writer_too = writer.try_clone().map_err(AgentError::Process)?;
    let mut cmd = Command::new(SHELL);
    cmd.arg("-c")
        .arg(command)
        .current_dir(workdir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_too)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| AgentError::Spawn {
        program: format!("{SHELL} (setup command)"),
        source,
    })?;
    // Our copies of the write end are gone with `cmd`: the read end ends when the command
    // and everything it started closed theirs (or were killed).
    drop(cmd);
    let pid = child.id();
    let output = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
        .map_err(AgentError::Process)?;
    let mut tail = Vec::new();
    let status = {
        let pump = crate::runner::pump_stderr(Some(output), redactor, err, &mut tail);
        tokio::pin!(pump);
        let (status, pumped) =
            crate::runner::wait_forwarding_signals(&mut child, pid, &mut pump).await?;
        crate::runner::kill_group(pid, libc::SIGKILL);
        if !pumped {
            let _ = tokio::time::timeout(crate::runner::DRAIN_AFTER_EXIT, &mut pump).await;
        }
        status
    };
    Ok((!status.success()).then(|| SetupFailed {
        code: status.code(),
        tail,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("SECRET".to_string(), "hunter2-secret-value".to_string()),
        ])
    }

    async fn run_in(dir: &Path, command: &str) -> (Option<SetupFailed>, String) {
        let redactor = Redactor::new(vec!["hunter2-secret-value".to_string()]);
        let mut out = Vec::new();
        let failed = run(command, dir, &env(), &redactor, &mut out)
            .await
            .expect("the shell runs");
        (failed, String::from_utf8_lossy(&out).into_owned())
    }

    #[tokio::test]
    async fn success_runs_in_the_work_tree_with_the_environment_and_logs_both_streams() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (failed, log) = run_in(
            tmp.path(),
            "echo out; echo err >&2; touch made-here; echo \"secret is $SECRET\"",
        )
        .await;
        assert_eq!(failed, None);
        assert!(
            tmp.path().join("made-here").exists(),
            "ran in the work tree"
        );
        assert_eq!(log, "out\nerr\nsecret is ***\n");
    }

    #[tokio::test]
    async fn failure_names_the_exit_code_and_the_last_line() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (failed, log) = run_in(
            tmp.path(),
            "echo installing; echo 'npm ERR! missing' >&2; exit 3",
        )
        .await;
        let failed = failed.expect("failed");
        assert_eq!(failed.code, Some(3));
        assert_eq!(failed.reason(), "setup command exited 3: npm ERR! missing");
        assert!(log.contains("installing"));
    }

    #[tokio::test]
    async fn a_background_process_does_not_outlive_the_setup() {
        let tmp = tempfile::tempdir().expect("tmp");
        let pidfile = tmp.path().join("pid");
        let (failed, _) = run_in(
            tmp.path(),
            &format!("sleep 300 & echo $! > {}; exit 0", pidfile.display()),
        )
        .await;
        assert_eq!(failed, None);
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .expect("pid")
            .trim()
            .parse()
            .expect("number");
        // Killed with its group; reaped by init or left a zombie for an instant.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
            if !matches!(state, Some('R' | 'S' | 'D')) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sleep {pid} still alive"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
