//! The roles the same binary plays inside sandboxes, Pods and the cluster:
//! `axon agent run`, `axon agent collect` (in `agent_collect.rs`), `axon controller`,
//! `axon spawner`, `axon workspace prepare`.

use crate::args::{AgentCommand, ControllerArgs, GlobalArgs, SpawnerArgs, WorkspaceCommand};
use crate::error::CliError;
use std::process::ExitCode;

pub async fn agent(command: AgentCommand) -> Result<ExitCode, CliError> {
    let a = match command {
        AgentCommand::Run(a) => a,
        AgentCommand::Collect(a) => return super::agent_collect::run(&a).await,
    };
    let code = match axon_agent::run(axon_agent::AgentRunArgs {
        prompt: a.prompt,
        prompt_file: a.prompt_file,
        entrypoint: a.entrypoint,
        render: false,
        workdir: None,
        env: None,
    })
    .await
    {
        Ok(code) => code,
        Err(e) => {
            eprintln!("axon agent run: {e}");
            axon_agent::EXIT_RUNNER_FAILED
        }
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(2)))
}

pub async fn controller(args: &ControllerArgs) -> Result<ExitCode, CliError> {
    axon_kube::run_controller(axon_kube::ControllerOptions {
        metrics_addr: args.metrics_addr.clone(),
        leader_elect: args.leader_elect,
        gateway: args.gateway,
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `axon spawner --name X`: one TaskSpawner's loop against the configured backend, until
/// SIGTERM/Ctrl-C or the spawner is deleted.
pub async fn spawner(global: &GlobalArgs, args: &SpawnerArgs) -> Result<ExitCode, CliError> {
    let settings = crate::settings::resolve(global)?;
    let backend = crate::backend::open(&settings, global).await?;
    let Some(_guard) = backend.hold_spawner_lock(&args.name)? else {
        return Err(CliError::Invalid(format!(
            "TaskSpawner {} already runs in another process on this AXON_HOME (axon serve, or another axon spawner): stop that one first",
            args.name
        )));
    };
    eprintln!(
        "axon spawner: running TaskSpawner {} on the {} backend; Ctrl-C stops it",
        args.name,
        backend.describe()
    );
    crate::spawner_host::run_one(backend, &args.name, crate::spawner_host::shutdown_signal())
        .await
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn workspace(command: WorkspaceCommand) -> Result<ExitCode, CliError> {
    let WorkspaceCommand::Prepare(a) = command;
    let mut files = Vec::new();
    if let Some(dir) = &a.files_dir {
        collect_files(dir, dir, &mut files)?;
    }
    let remotes = a
        .remote
        .iter()
        .map(|r| {
            r.split_once('=')
                .map(|(n, u)| (n.to_string(), u.to_string()))
                .ok_or_else(|| {
                    CliError::Invalid(format!(
                        "--remote {r:?}: expected NAME=URL (e.g. upstream=https://github.com/o/r.git)"
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let a = std::sync::Arc::new(a);
    let args = a.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        axon_local::prepare(&axon_local::PrepareRequest {
            repo: &args.repo,
            git_ref: args.git_ref.as_deref(),
            dest: &args.dest,
            files: &files,
            token_file: args.token_file.as_deref(),
            cache: args.cache.as_deref(),
            branch: args.branch.as_deref(),
            remotes: &remotes,
            depth: args.depth,
        })
    })
    .await
    .map_err(|e| CliError::Invalid(format!("workspace preparation crashed: {e}")))??;
    if let Some(dir) = &a.base_dir {
        super::agent_collect::record_base(dir, &prepared.base_branch, &prepared.head)?;
    }
    if let Some(dir) = &a.env_dir {
        write_env_file(
            dir,
            axon_api::contract::ENV_BASE_BRANCH,
            &prepared.base_branch,
        )?;
    }
    println!("prepared {} at {:?}", a.dest.display(), prepared);
    Ok(ExitCode::SUCCESS)
}

/// Writes `value` to `dir/name` (for the Kubernetes agent container's wrapper, which exports
/// variable `name` from it).
fn write_env_file(dir: &std::path::Path, name: &str, value: &str) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(CliError::io(format!("create {}", dir.display())))?;
    let path = dir.join(name);
    std::fs::write(&path, value).map_err(CliError::io(format!("write {}", path.display())))
}

/// Every regular file under `dir`, as (path relative to `root`, content).
fn collect_files(
    root: &std::path::Path,
    dir: &std::path::Path,
    out: &mut Vec<(String, String)>,
) -> Result<(), CliError> {
    let entries =
        std::fs::read_dir(dir).map_err(CliError::io(format!("cannot read {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(CliError::io(format!("cannot read {}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("..") {
            continue; // ConfigMap mounts keep their data in ..data symlinks.
        }
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let content = std::fs::read_to_string(&path)
                .map_err(CliError::io(format!("cannot read {}", path.display())))?;
            out.push((rel, content));
        }
    }
    Ok(())
}
