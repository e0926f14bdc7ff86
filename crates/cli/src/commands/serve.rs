//! `axon serve`: the local backend in the foreground until Ctrl-C.

use crate::args::GlobalArgs;
use crate::backend::Backend;
use crate::error::CliError;
use crate::settings;
use std::process::ExitCode;

pub async fn run(global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let settings = settings::resolve(global)?;
    let Backend::Local(local) = Backend::open(&settings, global).await? else {
        return Err(CliError::Usage(
            "`axon serve` runs the local backend; on Kubernetes the controller does this (axon install)".into(),
        ));
    };
    eprintln!(
        "axon serve: running the local backend (concurrency {}); Ctrl-C stops it",
        local.concurrency()
    );
    local
        .serve(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}
