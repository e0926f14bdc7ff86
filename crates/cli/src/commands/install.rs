//! `axon install` / `axon uninstall`: the CRDs and the controller on a cluster.

use crate::args::{GlobalArgs, InstallArgs};
use crate::error::CliError;
use axon_kube::KubeBackend;
use std::io::IsTerminal;
use std::process::ExitCode;

/// The default controller image for a version.
pub fn default_image(version: &str) -> String {
    format!("ghcr.io/axon-core/axon:{version}")
}

fn spinner(message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message(message.to_string());
    bar
}

pub async fn install(global: &GlobalArgs, args: &InstallArgs) -> Result<ExitCode, CliError> {
    let version = args
        .version
        .clone()
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    let image = args
        .image
        .clone()
        .unwrap_or_else(|| default_image(&version));
    if args.dry_run {
        print!(
            "{}",
            axon_kube::manifests::to_yaml(&axon_kube::manifests::install_manifests(
                &image, &version
            ))
        );
        return Ok(ExitCode::SUCCESS);
    }
    let backend = KubeBackend::connect(global.kubeconfig.as_deref(), Some("axon-system")).await?;
    let bar = spinner("installing Axon");
    backend
        .install(&image, &version, |step| bar.set_message(step.to_string()))
        .await?;
    bar.finish_with_message(format!(
        "Axon {version} installed (controller image {image})"
    ));
    Ok(ExitCode::SUCCESS)
}

pub async fn uninstall(global: &GlobalArgs) -> Result<ExitCode, CliError> {
    if !global.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(
                "uninstall deletes the controller, the CRDs and ALL Axon resources (Tasks, Workspaces, AgentConfigs, TaskSpawners) in every namespace; pass -y to confirm".into(),
            ));
        }
        eprint!(
            "This deletes the Axon controller, its CRDs and ALL Axon resources in every namespace. Continue? [y/N] "
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(CliError::io("cannot read the answer"))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("Aborted.");
            return Ok(ExitCode::FAILURE);
        }
    }
    let backend = KubeBackend::connect(global.kubeconfig.as_deref(), Some("axon-system")).await?;
    let bar = spinner("uninstalling Axon");
    backend
        .uninstall(|step| bar.set_message(step.to_string()))
        .await?;
    bar.finish_with_message("Axon uninstalled");
    Ok(ExitCode::SUCCESS)
}
