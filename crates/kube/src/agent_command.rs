//! The agent container's command. The agent runs as an init container so that the results
//! container starts only after every process of the agent is gone; an init container that
//! fails stops the Pod, so a small `sh` wrapper runs the image's entrypoint, records its exit
//! code in the claims volume (a claim, like everything the agent side writes) and always exits
//! 0. The kubelet still reports what it observed (OOMKilled, a kill at the deadline, an image
//! that cannot be pulled or a container that cannot start) in the init container's status.
//!
//! Before the entrypoint, the wrapper exports `AXON_BASE_BRANCH` from the file the workspace
//! preparation wrote in [`AGENT_ENV_DIR`] (the branch it resolved, as the local supervisor
//! sets it), when there is one.
//!
//! For a custom image (which has no `axon agent run` to do it), the wrapper runs the
//! Workspace's `setupCommand` from `AXON_SETUP_COMMAND` first, in the work tree, and on a
//! non-zero exit records it as the agent's (exit code and a claims document saying
//! `setup command exited N`) without starting the entrypoint. A built-in image's entrypoint,
//! `axon agent run`, runs it itself.
//!
//! The script is a constant: nothing from the Task (the prompt above all) is ever in it. A
//! custom image that gets the prompt as `$1` reads it from the prompt file inside the Pod.

use crate::names::{AGENT_ENV_DIR, ENTRYPOINT, EXIT_CODE_FILE, PROMPT_FILE};
use axon_api::contract::{ENV_BASE_BRANCH, ENV_SETUP_COMMAND};
use axon_core::results::RESULTS_FILE_ENV;

/// The shell the wrapper runs in (every agent image has one: the entrypoint is a script).
pub const SHELL: &str = "/bin/sh";

/// `command` of the agent container; `custom`: a custom image (the wrapper runs the setup
/// command); `prompt_argument`: pass the prompt file's content as `$1`.
pub fn agent_command(custom: bool, prompt_argument: bool) -> Vec<String> {
    let run = if prompt_argument {
        format!("{ENTRYPOINT} \"$(cat {PROMPT_FILE})\" &")
    } else {
        format!("{ENTRYPOINT} &")
    };
    // SIGTERM/SIGINT reach the entrypoint (sh as PID 1 would ignore them); `wait` returns
    // early when a trap ran, so wait again until the entrypoint is gone.
    let base_branch = format!(
        "f={AGENT_ENV_DIR}/{ENV_BASE_BRANCH}; if [ -r \"$f\" ]; then {ENV_BASE_BRANCH}=\"$(cat \"$f\")\"; export {ENV_BASE_BRANCH}; fi"
    );
    let setup = if custom {
        format!(
            "if [ -n \"${{{ENV_SETUP_COMMAND}-}}\" ]; then echo 'axon: running the setup command' >&2; /bin/sh -c \"${ENV_SETUP_COMMAND}\" 2>&1; code=$?; if [ \"$code\" != 0 ]; then echo \"axon: agent failed: setup command exited $code\" >&2; printf '{{\"success\":false,\"exitCode\":%s,\"failureReason\":\"setup command exited %s\"}}' \"$code\" \"$code\" > \"${RESULTS_FILE_ENV}\"; echo \"$code\" > {EXIT_CODE_FILE}; exit 0; fi; fi; unset {ENV_SETUP_COMMAND}"
        )
    } else {
        String::new()
    };
    let script = [
        base_branch.as_str(),
        setup.as_str(),
        run.as_str(),
        "pid=$!",
        "trap 'kill -TERM \"$pid\" 2>/dev/null' TERM INT",
        "while :; do wait \"$pid\"; code=$?; kill -0 \"$pid\" 2>/dev/null || break; done",
        &format!("echo \"$code\" > {EXIT_CODE_FILE}"),
        "exit 0",
    ]
    .into_iter()
    .filter(|line| !line.is_empty())
    .collect::<Vec<_>>()
    .join("\n");
    vec![SHELL.into(), "-c".into(), script]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn run(script: &str, entrypoint: &str, dir: &std::path::Path) -> (i32, String) {
        let script = script
            .replace(ENTRYPOINT, entrypoint)
            .replace(EXIT_CODE_FILE, &dir.join("exit-code").display().to_string())
            .replace(PROMPT_FILE, &dir.join("prompt").display().to_string())
            .replace(AGENT_ENV_DIR, &dir.join("env").display().to_string());
        let status = Command::new(SHELL)
            .args(["-c", &script])
            .status()
            .expect("sh runs");
        let code = std::fs::read_to_string(dir.join("exit-code")).unwrap_or_default();
        (status.code().unwrap_or(-1), code.trim().to_string())
    }

    #[test]
    fn exits_zero_and_records_the_entrypoint_exit_code() {
        let dir = tempfile::tempdir().expect("tempdir");
        let entry = dir.path().join("entry.sh");
        std::fs::write(
            &entry,
            "#!/bin/sh\necho \"$1\" > \"$(dirname \"$0\")/arg\"\nexit 7\n",
        )
        .expect("write");
        std::fs::set_permissions(&entry, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        std::fs::write(dir.path().join("prompt"), "fix \"it\" $HOME `x`").expect("prompt");
        let [_, _, script] = <[String; 3]>::try_from(agent_command(true, true)).expect("3 parts");
        let (exit, code) = run(&script, &entry.display().to_string(), dir.path());
        assert_eq!((exit, code.as_str()), (0, "7"));
        let arg = std::fs::read_to_string(dir.path().join("arg")).expect("arg");
        assert_eq!(
            arg.trim_end(),
            "fix \"it\" $HOME `x`",
            "the prompt is passed verbatim"
        );

        let [_, _, script] = <[String; 3]>::try_from(agent_command(true, false)).expect("3 parts");
        let (exit, code) = run(&script, &entry.display().to_string(), dir.path());
        assert_eq!((exit, code.as_str()), (0, "7"));
        let arg = std::fs::read_to_string(dir.path().join("arg")).expect("arg");
        assert_eq!(arg.trim_end(), "", "no prompt argument");
    }

    #[test]
    fn exports_the_base_branch_prepare_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let entry = dir.path().join("entry.sh");
        std::fs::write(
            &entry,
            "#!/bin/sh\necho \"${AXON_BASE_BRANCH-unset}\" > \"$(dirname \"$0\")/branch\"\n",
        )
        .expect("write");
        std::fs::set_permissions(&entry, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let [_, _, script] = <[String; 3]>::try_from(agent_command(true, false)).expect("3 parts");
        let branch = || std::fs::read_to_string(dir.path().join("branch")).expect("branch");
        // Without a workspace: no file, the variable as the Pod spec set it (here unset).
        run(&script, &entry.display().to_string(), dir.path());
        assert_eq!(branch().trim_end(), "unset");
        std::fs::create_dir(dir.path().join("env")).expect("mkdir");
        std::fs::write(dir.path().join("env").join(ENV_BASE_BRANCH), "feature/x").expect("write");
        run(&script, &entry.display().to_string(), dir.path());
        assert_eq!(branch().trim_end(), "feature/x");
    }

    #[test]
    fn a_custom_image_runs_the_setup_command_first_and_a_failure_stops_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let entry = dir.path().join("entry.sh");
        std::fs::write(
            &entry,
            "#!/bin/sh\necho \"${AXON_SETUP_COMMAND-unset}\" > \"$(dirname \"$0\")/ran\"\n",
        )
        .expect("write");
        std::fs::set_permissions(&entry, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let claims = dir.path().join("claims.json");
        let run_with = |custom: bool, setup: &str| {
            let _ = std::fs::remove_file(dir.path().join("ran"));
            let _ = std::fs::remove_file(dir.path().join("setup-ran"));
            let _ = std::fs::remove_file(&claims);
            let [_, _, script] =
                <[String; 3]>::try_from(agent_command(custom, false)).expect("3 parts");
            let script = script
                .replace(ENTRYPOINT, &entry.display().to_string())
                .replace(
                    EXIT_CODE_FILE,
                    &dir.path().join("exit-code").display().to_string(),
                )
                .replace(AGENT_ENV_DIR, &dir.path().join("env").display().to_string());
            let status = Command::new(SHELL)
                .args(["-c", &script])
                .current_dir(dir.path())
                .env(ENV_SETUP_COMMAND, setup)
                .env(RESULTS_FILE_ENV, &claims)
                .status()
                .expect("sh runs");
            assert_eq!(status.code(), Some(0), "the wrapper always exits 0");
            std::fs::read_to_string(dir.path().join("exit-code"))
                .expect("exit code")
                .trim()
                .to_string()
        };
        // Succeeds: the entrypoint runs after it, without the variable.
        assert_eq!(run_with(true, "touch setup-ran"), "0");
        assert!(dir.path().join("setup-ran").exists());
        let ran = std::fs::read_to_string(dir.path().join("ran")).expect("entrypoint ran");
        assert_eq!(ran.trim(), "unset");
        // Fails: the entrypoint never runs; the exit code and a claim say why.
        assert_eq!(run_with(true, "exit 3"), "3");
        assert!(!dir.path().join("ran").exists(), "the agent did not start");
        let doc: axon_core::results::ResultsDocument =
            serde_json::from_str(&std::fs::read_to_string(&claims).expect("claims"))
                .expect("a results document");
        assert!(!doc.success);
        assert_eq!(
            doc.failure_reason.as_deref(),
            Some("setup command exited 3")
        );
        // A built-in image: `axon agent run` runs it, not the wrapper.
        assert_eq!(run_with(false, "touch setup-ran"), "0");
        assert!(!dir.path().join("setup-ran").exists());
        let ran = std::fs::read_to_string(dir.path().join("ran")).expect("entrypoint ran");
        assert_eq!(ran.trim(), "touch setup-ran");
    }

    #[test]
    fn a_missing_entrypoint_is_recorded_not_fatal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let [_, _, script] = <[String; 3]>::try_from(agent_command(true, false)).expect("3 parts");
        let (exit, code) = run(&script, "/nonexistent/entry", dir.path());
        assert_eq!((exit, code.as_str()), (0, "127"));
    }
}
