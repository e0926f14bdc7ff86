//! `axon`: the single binary for every role — user commands, `axon controller`,
//! `axon spawner`, `axon agent run` and the local backend's engine — so images cannot drift.

mod args;
mod backend;
mod commands;
mod error;
mod output;
mod request_log;
mod settings;
mod spawner_host;
mod spend;
mod webhook_server;

use anyhow::Result;
use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = per_task_fast_path() {
        return code;
    }
    let cli = Cli::parse();
    if let Command::Local { args } = cli.command {
        return axon_local::internal_main(args);
    }
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The processes every local Task starts — the engine, the supervisor and the privilege drop
/// (`axon __local ...`), and the runner inside the sandbox (`axon agent run`) — skip building
/// the whole command tree, and the runner runs on a single-threaded runtime. Anything the
/// short parse does not accept (help, a global flag, bad arguments) goes through the full
/// parser, so behaviour and messages are the same.
fn per_task_fast_path() -> Option<ExitCode> {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw.get(1).is_some_and(|a| a == "__local") {
        let args: Vec<String> = raw
            .iter()
            .map(|a| a.to_str().map(str::to_string))
            .collect::<Option<_>>()?;
        return Some(axon_local::internal_main(args));
    }
    let run_args = parse_agent_run(&raw)?;
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Some(ExitCode::from(2));
        }
    };
    let command = args::AgentCommand::Run(run_args);
    Some(match runtime.block_on(commands::roles::agent(command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    })
}

/// `axon agent run ARGS` parsed on its own; `None` for anything else or anything it refuses.
fn parse_agent_run(raw: &[std::ffi::OsString]) -> Option<args::AgentRunArgs> {
    if raw.get(1).is_none_or(|a| a != "agent") || raw.get(2).is_none_or(|a| a != "run") {
        return None;
    }
    use clap::{Args, FromArgMatches};
    let matches = args::AgentRunArgs::augment_args(clap::Command::new("run"))
        .try_get_matches_from(&raw[2..])
        .ok()?;
    args::AgentRunArgs::from_arg_matches(&matches).ok()
}

/// Output piped into `head` and closed early is not an error worth printing.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) || e.to_string().contains("Broken pipe")
}

/// The log filter: `AXON_LOG` (default `warn`), with kube's per-connection TLS warning for
/// kubeconfigs that skip verification silenced unless the filter asks for debug output or
/// names kube's crates itself.
fn log_filter(axon_log: Option<&str>) -> String {
    let quiet = axon_kube::backend::QUIET_LOG_DIRECTIVES;
    match axon_log.map(str::trim).filter(|f| !f.is_empty()) {
        None => format!("warn,{quiet}"),
        Some(f) if ["debug", "trace", "kube"].iter().any(|w| f.contains(w)) => f.to_string(),
        Some(f) => format!("{f},{quiet}"),
    }
}

fn init_tracing() {
    let directives = log_filter(std::env::var(axon_api::contract::ENV_LOG).ok().as_deref());
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_filter(None)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("AXON_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    Ok(match cli.command {
        Command::Version => commands::version::run(g).await?,
        Command::Status => commands::version::status(g).await?,
        Command::Init(a) => commands::init::run(g, &a)?,
        Command::Validate(a) => commands::validate::run(&a)?,
        Command::Run(a) => commands::run::run(g, &a).await?,
        Command::Apply(a) => commands::apply::run(g, &a).await?,
        Command::Get(a) => commands::get::run(g, &a).await?,
        Command::Delete(a) => commands::delete::run(g, &a).await?,
        Command::Suspend(a) => commands::suspend::run(g, &a, true).await?,
        Command::Resume(a) => commands::suspend::run(g, &a, false).await?,
        Command::Logs(a) => commands::logs::run(g, &a).await?,
        Command::Cancel(a) => commands::cancel::run(g, &a).await?,
        Command::Create(c) => commands::create::run(g, &c).await?,
        Command::Install(a) => commands::install::install(g, &a).await?,
        Command::Uninstall => commands::install::uninstall(g).await?,
        Command::Serve(a) => commands::serve::run(g, &a).await?,
        Command::Completion(a) => commands::completion::run(&a),
        Command::Agent(c) => commands::roles::agent(c).await?,
        Command::Controller(a) => commands::roles::controller(&a).await?,
        Command::Spawner(a) => commands::roles::spawner(g, &a).await?,
        Command::Gateway(a) => commands::gateway::run(g, &a).await?,
        Command::Workspace(c) => commands::roles::workspace(c).await?,
        Command::Local { .. } => ExitCode::SUCCESS,
    })
}

#[cfg(test)]
mod tests {
    use super::{log_filter, parse_agent_run};

    fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
        args.iter().map(std::ffi::OsString::from).collect()
    }

    /// The runner's short parse reads what the full parser reads, and leaves everything else
    /// (help, other commands, bad flags) to the full parser.
    #[test]
    fn the_runner_is_parsed_without_the_whole_command_tree() {
        let a = parse_agent_run(&os(&[
            "axon",
            "agent",
            "run",
            "--entrypoint",
            "/bin/agent",
            "--prompt-file",
            "/c/prompt",
        ]))
        .expect("parsed");
        assert_eq!(
            a.entrypoint.as_deref(),
            Some(std::path::Path::new("/bin/agent"))
        );
        assert_eq!(
            a.prompt_file.as_deref(),
            Some(std::path::Path::new("/c/prompt"))
        );
        assert_eq!(a.prompt, None);
        let p = parse_agent_run(&os(&["axon", "agent", "run", "fix it"])).expect("parsed");
        assert_eq!(p.prompt.as_deref(), Some("fix it"));
        for other in [
            &["axon", "agent", "run", "--help"][..],
            &["axon", "agent", "run", "--prompt-file", "/p", "also"],
            &["axon", "agent", "run", "--bogus"],
            &["axon", "agent", "collect"],
            &["axon", "get", "tasks"],
            &["axon"],
        ] {
            assert!(parse_agent_run(&os(other)).is_none(), "{other:?}");
        }
    }

    #[test]
    fn the_tls_bypass_warning_is_quiet_unless_debugging() {
        assert_eq!(log_filter(None), "warn,kube_client::client::tls=error");
        assert_eq!(log_filter(Some("")), "warn,kube_client::client::tls=error");
        assert_eq!(
            log_filter(Some("info")),
            "info,kube_client::client::tls=error"
        );
        assert_eq!(log_filter(Some("debug")), "debug");
        assert_eq!(
            log_filter(Some("info,kube_client=warn")),
            "info,kube_client=warn"
        );
    }
}
