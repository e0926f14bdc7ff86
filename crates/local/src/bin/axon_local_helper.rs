//! Hidden helper binary of the `axon-local` crate: it routes `__local` subcommands to
//! `axon_local::internal_main` and `agent run` to the same runner as `axon agent run`, so the
//! crate's own tests and benchmark can re-execute it as the engine, the per-Task supervisor and
//! the in-sandbox runner. Users run `axon`, which routes the same subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("agent")
        && args.get(2).map(String::as_str) == Some("run")
    {
        return agent_run(&args[3..]);
    }
    axon_local::internal_main(args)
}

/// `agent run [--entrypoint PATH] [--prompt-file PATH] [PROMPT]`.
fn agent_run(args: &[String]) -> ExitCode {
    let mut run = axon_agent::AgentRunArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--entrypoint" => run.entrypoint = it.next().map(PathBuf::from),
            "--prompt-file" => run.prompt_file = it.next().map(PathBuf::from),
            other => run.prompt = Some(other.to_string()),
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent run: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match rt.block_on(axon_agent::run(run)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("axon agent run: {e}");
            axon_agent::EXIT_RUNNER_FAILED
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}
