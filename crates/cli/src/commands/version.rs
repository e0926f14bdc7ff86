//! `axon version` and `axon status`: what this binary is and which backend it uses; on
//! Kubernetes, `status` says when Axon is not installed in the cluster (exit code 1).

use crate::args::GlobalArgs;
use crate::backend;
use crate::error::CliError;
use crate::settings;
use std::process::ExitCode;

pub async fn run(global: &GlobalArgs) -> Result<ExitCode, CliError> {
    println!("axon {}", env!("CARGO_PKG_VERSION"));
    println!("api: {}", axon_api::API_VERSION);
    match settings::resolve(global) {
        Ok(s) => {
            println!(
                "backend: {} (from {})",
                s.backend.as_str(),
                s.backend_source
            );
            println!(
                "config: {}{}",
                s.config_path.display(),
                if s.config_found {
                    ""
                } else {
                    " (not found; `axon init` writes one)"
                }
            );
        }
        Err(e) => println!("config: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn status(global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let s = settings::resolve(global)?;
    println!(
        "backend: {} (from {})",
        s.backend.as_str(),
        s.backend_source
    );
    let backend = backend::open(&s, global).await?;
    let tasks = match backend.list(axon_api::Kind::Task).await {
        Ok(tasks) => tasks,
        // Reachable, but Axon's API is not there: say so instead of the API server's 404.
        Err(e) if e.kind() == axon_port::ErrorKind::NotInstalled => {
            println!("connected: {}", backend.describe());
            println!(
                "axon: not installed in this cluster (no axon.io API); install it with `axon install` (needs cluster-admin)"
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let mut counts = std::collections::BTreeMap::new();
    for t in &tasks {
        if let axon_api::loader::Resource::Task(t) = t {
            let phase = t.status.as_ref().and_then(|s| s.phase).unwrap_or_default();
            *counts.entry(phase.as_str()).or_insert(0) += 1;
        }
    }
    println!("connected: {}", backend.describe());
    let summary: Vec<String> = counts.iter().map(|(p, n)| format!("{n} {p}")).collect();
    println!(
        "tasks: {}",
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
