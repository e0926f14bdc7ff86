//! `axon agent run`: configure the agent CLI, run it, stream its output, and record the
//! outcome.
//!
//! The prompt comes from `--prompt-file` / `AXON_PROMPT_FILE` (or, for compatibility, the
//! argument; see [`crate::prompt`]). A built-in CLI reads it from its standard input, which is
//! closed after it; a custom agent gets it in `AXON_PROMPT_FILE` (and as `$1` while small),
//! with standard input closed. The agent runs in its own process group (so everything it
//! started is killed when it exits, and a SIGTERM/SIGINT to the runner reaches all of it).
//! Its JSONL goes to standard output line by line as it arrives (secrets redacted); its
//! standard error to standard error. Afterwards the work tree is inspected with `git` and the
//! results document is written to `AXON_RESULTS_FILE`. In a sandbox without a network
//! (`AXON_GATEWAY_SOCKET`, `AXON_GATEWAY_PORT`), the runner first starts the relay of
//! [`crate::gateway_forward`] and keeps it up until the agent has exited. A Workspace's
//! `setupCommand` (`AXON_SETUP_COMMAND`) runs after the relay is up and before the agent
//! ([`crate::setup_command`]); when it fails, the agent never starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use axon_api::AgentType;
use axon_core::results::ResultsDocument;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};

use crate::adapter::{AdapterInput, Setup, adapter_for};
use crate::env::RunEnv;
use crate::error::AgentError;
use crate::gateway_forward::{
    self, ENV_GATEWAY_PORT, ENV_GATEWAY_SOCKET, GatewayForward, MAX_CONNECTIONS,
};
use crate::git;
use crate::github;
use crate::lines::LineSplitter;
use crate::outcome::{Outcome, Verdict};
use crate::parse::{StreamParser, parser_for, reports_result};
use crate::prompt::{PROMPT_FILE_ENV, PromptFile};
use crate::redact::Redactor;
use crate::render::LogRenderer;

/// Exit code: the agent succeeded.
pub const EXIT_SUCCESS: i32 = 0;
/// Exit code: the agent ran and failed (the results document says why).
pub const EXIT_AGENT_FAILED: i32 = 1;
/// Exit code: the runner could not run the agent (an [`AgentError`]).
pub const EXIT_RUNNER_FAILED: i32 = 2;

/// How long output may keep arriving after the agent exited and its process group was
/// killed (a process that escaped the group can hold the pipe open).
pub(crate) const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct AgentRunArgs {
    /// The Task's prompt as text (the command-line argument, kept for compatibility).
    pub prompt: Option<String>,
    /// `--prompt-file`: read the prompt from this file. Without it and without a non-empty
    /// `prompt`, `AXON_PROMPT_FILE` is read.
    pub prompt_file: Option<PathBuf>,
    /// A custom agent executable, run instead of the built-in CLI (prompt in
    /// `AXON_PROMPT_FILE`, and as `$1` up to 100 KiB).
    pub entrypoint: Option<PathBuf>,
    /// Write the agent's stream rendered for people instead of its raw JSONL.
    pub render: bool,
    /// The work tree (default: the current directory).
    pub workdir: Option<PathBuf>,
    /// The complete environment to use instead of the process's (for tests and embedding).
    /// The agent gets exactly this environment plus its adapter's settings.
    pub env: Option<BTreeMap<String, String>>,
}

/// Run the agent with the process's standard output and error. Returns the exit code
/// ([`EXIT_SUCCESS`] or [`EXIT_AGENT_FAILED`]); an `Err` means exit with
/// [`EXIT_RUNNER_FAILED`] (a results document with the reason was written when possible).
pub async fn run(args: AgentRunArgs) -> Result<i32, AgentError> {
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    run_with_output(args, &mut stdout, &mut stderr).await
}

/// [`run`], writing the agent's output to `out` and `err`.
pub async fn run_with_output(
    args: AgentRunArgs,
    out: &mut (dyn AsyncWrite + Unpin + Send),
    err: &mut (dyn AsyncWrite + Unpin + Send),
) -> Result<i32, AgentError> {
    let vars: BTreeMap<String, String> = match &args.env {
        Some(env) => env.clone(),
        None => std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
    };
    let env = match RunEnv::from_vars(vars.clone()) {
        Ok(env) => env,
        Err(e) => {
            // Still leave a document for the driver when it said where.
            if let Some(path) = vars.get(axon_core::results::RESULTS_FILE_ENV) {
                let doc = ResultsDocument {
                    failure_reason: Some(e.to_string()),
                    ..Default::default()
                };
                let _ = std::fs::write(path, doc.to_termination_message());
            }
            return Err(e);
        }
    };
    let redactor = Redactor::new(env.secrets.clone());
    match run_agent(&args, &env, vars, &redactor, out, err).await {
        Ok(code) => Ok(code),
        Err(e) => {
            let doc = ResultsDocument {
                agent_type: Some(agent_label(&args, &env)),
                base_branch: env.base_branch.clone(),
                success: false,
                failure_reason: Some(redactor.redact(&e.to_string())),
                ..Default::default()
            };
            if let Some(path) = &env.results_file {
                let _ = std::fs::write(path, doc.to_termination_message());
            }
            Err(e)
        }
    }
}

fn agent_label(args: &AgentRunArgs, env: &RunEnv) -> String {
    match (&args.entrypoint, env.agent_type) {
        (Some(_), _) | (None, None) => "custom".into(),
        (None, Some(t)) => t.as_str().into(),
    }
}

async fn run_agent(
    args: &AgentRunArgs,
    env: &RunEnv,
    vars: BTreeMap<String, String>,
    redactor: &Redactor,
    out: &mut (dyn AsyncWrite + Unpin + Send),
    err: &mut (dyn AsyncWrite + Unpin + Send),
) -> Result<i32, AgentError> {
    let workdir = match &args.workdir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().map_err(AgentError::Process)?,
    };
    let prompt = crate::prompt::resolve(
        args.prompt.as_deref(),
        args.prompt_file.as_deref(),
        env.prompt_file.as_deref(),
    )?;
    let mut child_env = vars;
    // The custom agent's copy of the prompt, removed once the agent is done.
    let mut prompt_copy: Option<PromptFile> = None;
    let (program, program_args, label, stdin_prompt) = match &args.entrypoint {
        Some(entrypoint) => {
            let name = entrypoint
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "agent".into());
            let tmp = env.tmpdir.clone().unwrap_or_else(|| PathBuf::from("/tmp"));
            let copy = PromptFile::create(&tmp, &prompt)?;
            child_env.insert(PROMPT_FILE_ENV.into(), copy.path().display().to_string());
            prompt_copy = Some(copy);
            let arg = crate::prompt::custom_agent_argument(&prompt).to_string();
            (entrypoint.clone(), vec![arg], name, None)
        }
        None => {
            let agent_type = env.agent_type.ok_or(AgentError::MissingEnv {
                name: axon_api::contract::ENV_AGENT_TYPE,
            })?;
            let setup = prepare(agent_type, &prompt, env).await?;
            child_env.remove(PROMPT_FILE_ENV);
            for warning in &setup.warnings {
                let _ = err
                    .write_all(format!("axon: warning: {warning}\n").as_bytes())
                    .await;
            }
            apply_env(&mut child_env, &setup, env.bin_dir.as_deref());
            if agent_type == AgentType::Gemini {
                // Gemini CLI runs shell commands with GIT_CONFIG_GLOBAL=/dev/null, so the
                // identity from ~/.gitconfig is lost to the agent's `git commit`: pass it on.
                if let Some((name, email)) = git::identity(&workdir, Some(&child_env)).await {
                    for (k, v) in [
                        ("GIT_AUTHOR_NAME", &name),
                        ("GIT_COMMITTER_NAME", &name),
                        ("GIT_AUTHOR_EMAIL", &email),
                        ("GIT_COMMITTER_EMAIL", &email),
                    ] {
                        child_env.entry(k.to_string()).or_insert_with(|| v.clone());
                    }
                }
            }
            let path = find_program(&setup.program, env.bin_dir.as_deref(), env.path.as_deref())?;
            (
                path,
                setup.args.clone(),
                setup.program.clone(),
                Some(prompt),
            )
        }
    };

    // The claims file is the only use of git facts here (Kubernetes; Axon measures them again
    // outside): without one (the local sandbox) no time is spent on them.
    let start = match &env.results_file {
        Some(_) => git::head(&workdir, Some(&child_env)).await,
        None => None,
    };
    // A sandbox without a network reaches the gateway through this relay; the agent is not
    // told about the socket.
    let forward = GatewayForward::from_vars(&child_env)?;
    for name in [ENV_GATEWAY_SOCKET, ENV_GATEWAY_PORT] {
        child_env.remove(name);
    }
    let relay = match &forward {
        Some(f) => Some(gateway_forward::start(f, MAX_CONNECTIONS).await?),
        None => None,
    };
    if let Some(setup) = child_env.remove(axon_api::contract::ENV_SETUP_COMMAND) {
        let _ = err.write_all(b"axon: running the setup command\n").await;
        if let Some(failed) =
            crate::setup_command::run(&setup, &workdir, &child_env, redactor, err).await?
        {
            drop(relay);
            let doc = ResultsDocument {
                agent_type: Some(agent_label(args, env)),
                base_branch: env.base_branch.clone(),
                exit_code: failed.code,
                success: false,
                failure_reason: Some(failed.reason()),
                ..Default::default()
            };
            return finish(&doc, env, err).await;
        }
    }
    let mut cmd = Command::new(&program);
    cmd.args(&program_args)
        .current_dir(&workdir)
        .env_clear()
        .envs(&child_env)
        .stdin(if stdin_prompt.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| AgentError::Spawn {
        program: program.display().to_string(),
        source,
    })?;
    let pid = child.id();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let mut outcome = Outcome::default();
    let mut stderr_tail = Vec::<String>::new();
    let parser = env.agent_type.map(parser_for);
    let renderer = match (args.render, env.agent_type) {
        (true, Some(t)) => Some(LogRenderer::new(t, false)),
        _ => None,
    };
    let status = {
        let pumps = async {
            tokio::join!(
                feed_stdin(stdin, stdin_prompt.as_deref().unwrap_or_default()),
                pump_stdout(stdout, parser, renderer, &mut outcome, redactor, out),
                pump_stderr(stderr, redactor, err, &mut stderr_tail),
            )
        };
        tokio::pin!(pumps);
        let (status, pumps_done) = wait_forwarding_signals(&mut child, pid, &mut pumps).await?;
        kill_group(pid, libc::SIGKILL);
        if !pumps_done {
            let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, &mut pumps).await;
        }
        status
    };
    drop(prompt_copy);
    drop(relay);

    let exit_code = status.code();
    let requires_result = args.entrypoint.is_none() && env.agent_type.is_some_and(reports_result);
    let verdict = outcome.verdict(&label, exit_code, requires_result, &stderr_tail.join("\n"));
    let doc = results_document(
        args,
        env,
        &child_env,
        &workdir,
        start.as_deref(),
        &outcome,
        &verdict,
        exit_code,
        redactor,
        err,
    )
    .await;
    finish(&doc, env, err).await
}

/// Say how the run ended on standard error (the line the drivers read the failure reason
/// from), write the results document, and return the exit code.
async fn finish(
    doc: &ResultsDocument,
    env: &RunEnv,
    err: &mut (dyn AsyncWrite + Unpin + Send),
) -> Result<i32, AgentError> {
    let summary = match &doc.failure_reason {
        None => "axon: agent succeeded\n".to_string(),
        Some(reason) => format!("axon: agent failed: {reason}\n"),
    };
    let _ = err.write_all(summary.as_bytes()).await;
    let _ = err.flush().await;
    if let Some(path) = &env.results_file {
        std::fs::write(path, doc.to_termination_message()).map_err(|source| {
            AgentError::WriteResults {
                path: path.clone(),
                source,
            }
        })?;
    }
    Ok(if doc.success {
        EXIT_SUCCESS
    } else {
        EXIT_AGENT_FAILED
    })
}

/// Check the prompt against the CLI's own limits, read instructions and plugins, compute the
/// adapter's setup and write its files.
async fn prepare(agent_type: AgentType, prompt: &str, env: &RunEnv) -> Result<Setup, AgentError> {
    let adapter = adapter_for(agent_type);
    adapter
        .check_prompt(prompt, env.model.as_deref())
        .map_err(|reason| AgentError::PromptRefused {
            agent: agent_type.as_str(),
            reason,
        })?;
    let home = env
        .home
        .clone()
        .ok_or(AgentError::MissingEnv { name: "HOME" })?;
    let agents_md = match &env.agents_md_file {
        Some(path) => {
            Some(
                std::fs::read_to_string(path).map_err(|source| AgentError::ReadInput {
                    what: axon_api::contract::ENV_AGENTS_MD_FILE,
                    path: path.clone(),
                    source,
                })?,
            )
        }
        None => None,
    };
    let (plugins, mut warnings) = match &env.plugins_dir {
        Some(dir) => crate::plugins::scan(dir)?,
        None => (Vec::new(), Vec::new()),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let is_root = unsafe { libc::geteuid() } == 0;
    let input = AdapterInput {
        home: &home,
        model: env.model.as_deref(),
        model_base_url: env.model_base_url.as_deref(),
        model_max_retries: env.model_max_retries,
        agents_md: agents_md.as_deref(),
        plugins: &plugins,
        credentials_present: &env.credentials_present,
        is_root,
    };
    let mut setup = adapter.setup(&input);
    warnings.append(&mut setup.warnings);
    setup.warnings = warnings;
    for file in &setup.files {
        write_file(&file.path, &file.contents)?;
    }
    Ok(setup)
}

fn write_file(path: &Path, contents: &str) -> Result<(), AgentError> {
    let wrap = |source| AgentError::WriteConfig {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(wrap)?;
    }
    std::fs::write(path, contents).map_err(wrap)
}

/// The agent's environment: the runner's, plus the adapter's defaults where unset, credential
/// aliases, and the adapter's forced settings; `AXON_AGENT_BIN_DIR` first on `PATH`.
fn apply_env(vars: &mut BTreeMap<String, String>, setup: &Setup, bin_dir: Option<&Path>) {
    for (k, v) in &setup.env_defaults {
        vars.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (to, from) in &setup.env_aliases {
        if !vars.contains_key(to)
            && let Some(v) = vars.get(from).cloned()
        {
            vars.insert(to.clone(), v);
        }
    }
    for (k, v) in &setup.env {
        vars.insert(k.clone(), v.clone());
    }
    if let Some(dir) = bin_dir {
        let path = match vars.get("PATH") {
            Some(p) => format!("{}:{p}", dir.display()),
            None => dir.display().to_string(),
        };
        vars.insert("PATH".into(), path);
    }
}

/// Find an executable in `bin_dir`, else on `PATH`.
pub fn find_program(
    program: &str,
    bin_dir: Option<&Path>,
    path: Option<&str>,
) -> Result<PathBuf, AgentError> {
    let dirs: Vec<PathBuf> = match bin_dir {
        Some(dir) => vec![dir.to_path_buf()],
        None => std::env::split_paths(path.unwrap_or_default()).collect(),
    };
    for dir in &dirs {
        let candidate = dir.join(program);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(AgentError::CliNotFound {
        program: program.to_string(),
        searched: match bin_dir {
            Some(dir) => format!("AXON_AGENT_BIN_DIR ({})", dir.display()),
            None => "PATH".to_string(),
        },
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Wait for the agent, forwarding SIGTERM and SIGINT to its process group. Also says whether
/// the output pumps finished meanwhile (they must not be polled again then).
pub(crate) async fn wait_forwarding_signals(
    child: &mut tokio::process::Child,
    pid: Option<u32>,
    pumps: &mut (impl std::future::Future + Unpin),
) -> Result<(ExitStatus, bool), AgentError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(AgentError::Process)?;
    let mut int = signal(SignalKind::interrupt()).map_err(AgentError::Process)?;
    let mut pumps_done = false;
    loop {
        tokio::select! {
            status = child.wait() => return Ok((status.map_err(AgentError::Process)?, pumps_done)),
            _ = &mut *pumps, if !pumps_done => pumps_done = true,
            _ = term.recv() => kill_group(pid, libc::SIGTERM),
            _ = int.recv() => kill_group(pid, libc::SIGINT),
        }
    }
}

pub(crate) fn kill_group(pid: Option<u32>, signal: libc::c_int) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 1) {
        // SAFETY: kill(2) with a negative pid signals that process group; it has no memory
        // effects. The group is the agent's own (process_group(0) at spawn).
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

/// Write the prompt to the agent's standard input, then close it. An agent that exits (or
/// closes its input) without reading it all makes the write fail: that is its business, the
/// outcome says how it ended.
async fn feed_stdin(stdin: Option<ChildStdin>, prompt: &str) {
    let Some(mut stdin) = stdin else { return };
    if stdin.write_all(prompt.as_bytes()).await.is_ok() {
        let _ = stdin.shutdown().await;
    }
}

/// Forward the agent's stdout line by line (redacted), parsing each line into the outcome.
async fn pump_stdout(
    stdout: Option<impl AsyncRead + Unpin>,
    mut parser: Option<Box<dyn StreamParser>>,
    mut renderer: Option<LogRenderer>,
    outcome: &mut Outcome,
    redactor: &Redactor,
    out: &mut (dyn AsyncWrite + Unpin + Send),
) {
    let Some(mut stdout) = stdout else { return };
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut handle = |line: crate::lines::Line<'_>, pending: &mut Vec<u8>| {
        let text = line.text();
        if let Some(parser) = parser.as_mut() {
            for event in parser.parse_line(&text) {
                outcome.apply(&event);
            }
        }
        let text = if redactor.is_empty() {
            text.into_owned()
        } else {
            redactor.redact(&text)
        };
        match renderer.as_mut() {
            Some(r) => {
                let _ = r.render_line(&text, pending);
            }
            None => {
                pending.extend_from_slice(text.as_bytes());
                pending.push(b'\n');
            }
        }
    };
    loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        splitter.push(&buf[..n], |line| handle(line, &mut pending));
        if !pending.is_empty() {
            let _ = out.write_all(&pending).await;
            let _ = out.flush().await;
            pending.clear();
        }
    }
    splitter.finish(|line| handle(line, &mut pending));
    if let Some(r) = renderer.as_mut() {
        let _ = r.finish(&mut pending);
    }
    let _ = out.write_all(&pending).await;
    let _ = out.flush().await;
}

/// Forward the agent's stderr line by line (redacted), keeping the last lines for a failure
/// reason.
pub(crate) async fn pump_stderr(
    stderr: Option<impl AsyncRead + Unpin>,
    redactor: &Redactor,
    err: &mut (dyn AsyncWrite + Unpin + Send),
    tail: &mut Vec<String>,
) {
    const TAIL_LINES: usize = 5;
    let Some(mut stderr) = stderr else { return };
    let mut splitter = LineSplitter::with_limit(64 * 1024);
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending = Vec::new();
    let mut handle = |line: crate::lines::Line<'_>, pending: &mut Vec<u8>| {
        let text = redactor.redact(&line.text());
        pending.extend_from_slice(text.as_bytes());
        pending.push(b'\n');
        if !text.trim().is_empty() {
            tail.push(crate::parse::one_line(&text, 500));
            if tail.len() > TAIL_LINES {
                tail.remove(0);
            }
        }
    };
    loop {
        let n = match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        splitter.push(&buf[..n], |line| handle(line, &mut pending));
        let _ = err.write_all(&pending).await;
        let _ = err.flush().await;
        pending.clear();
    }
    splitter.finish(|line| handle(line, &mut pending));
    let _ = err.write_all(&pending).await;
    let _ = err.flush().await;
}

#[allow(clippy::too_many_arguments)]
async fn results_document(
    args: &AgentRunArgs,
    env: &RunEnv,
    child_env: &BTreeMap<String, String>,
    workdir: &Path,
    start: Option<&str>,
    outcome: &Outcome,
    verdict: &Verdict,
    exit_code: Option<i32>,
    redactor: &Redactor,
    err: &mut (dyn AsyncWrite + Unpin + Send),
) -> ResultsDocument {
    let state = match &env.results_file {
        Some(_) => git::inspect(workdir, Some(child_env), start, env.base_branch.as_deref()).await,
        None => git::GitState::default(),
    };
    let mut pull_requests = Vec::new();
    if let (Some(token), Some(branch), true, Some(url)) = (
        &env.github_token,
        &state.branch,
        state.pushed,
        &state.remote_url,
    ) && let Some(remote) = github::parse_remote(url)
        && let Some(api) = github::api_for(&remote, env.github_api_url.as_deref())
    {
        match github::pull_requests(&api, &remote, branch, token).await {
            Ok(prs) => pull_requests = prs,
            Err(e) => {
                let msg = format!(
                    "axon: warning: cannot look up pull requests: {}\n",
                    redactor.redact(&e)
                );
                let _ = err.write_all(msg.as_bytes()).await;
            }
        }
    }
    ResultsDocument {
        agent_type: Some(agent_label(args, env)),
        branch: state.branch,
        base_branch: env.base_branch.clone(),
        commits: state.commits,
        pushed: state.pushed,
        pull_requests,
        usage: Some(outcome.usage()),
        final_answer: outcome.final_answer().map(|a| redactor.redact(&a)),
        exit_code,
        success: verdict.success,
        failure_reason: verdict.reason.as_ref().map(|r| redactor.redact(r)),
        budget_exceeded: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_env_defaults_yield_to_the_runner_env() {
        let mut vars = BTreeMap::from([
            ("CLAUDE_CODE_MAX_RETRIES".to_string(), "5".to_string()),
            ("OPENAI_API_KEY".to_string(), "k".to_string()),
            ("PATH".to_string(), "/usr/bin".to_string()),
        ]);
        let setup = Setup {
            env: BTreeMap::from([("HOME_X".into(), "1".into())]),
            env_defaults: BTreeMap::from([
                ("CLAUDE_CODE_MAX_RETRIES".into(), "0".into()),
                ("DISABLE_TELEMETRY".into(), "1".into()),
            ]),
            env_aliases: vec![("CODEX_API_KEY".into(), "OPENAI_API_KEY".into())],
            ..Default::default()
        };
        apply_env(&mut vars, &setup, Some(Path::new("/opt/agents/bin")));
        assert_eq!(vars["CLAUDE_CODE_MAX_RETRIES"], "5");
        assert_eq!(vars["DISABLE_TELEMETRY"], "1");
        assert_eq!(vars["CODEX_API_KEY"], "k");
        assert_eq!(vars["HOME_X"], "1");
        assert_eq!(vars["PATH"], "/opt/agents/bin:/usr/bin");
    }

    #[test]
    fn a_missing_cli_says_where_it_looked() {
        let err = find_program("claude", None, Some("/nonexistent")).unwrap_err();
        assert!(err.to_string().contains("AXON_AGENT_BIN_DIR"), "{err}");
    }
}
