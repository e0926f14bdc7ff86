//! `axon install` / `axon uninstall`: the CRDs and the controller on a cluster. Steps show as
//! a spinner on a terminal and as one line each on stderr otherwise (CI logs see every step);
//! the outcome, and for uninstall everything it removed, goes to stdout.

use crate::args::{GlobalArgs, InstallArgs};
use crate::error::CliError;
use axon_kube::KubeBackend;
use axon_kube::install::UninstallReport;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// The default controller image for a version.
pub fn default_image(version: &str) -> String {
    format!("ghcr.io/axon-core/axon:{version}")
}

/// How the steps of a long operation are shown.
enum Progress {
    /// A terminal: one line that changes.
    Spinner(indicatif::ProgressBar),
    /// Not a terminal: each step on its own line of stderr, after `prefix: `.
    Lines(&'static str),
}

impl Progress {
    fn start(prefix: &'static str, message: &str) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(message.to_string());
            Progress::Spinner(bar)
        } else {
            eprintln!("{prefix}: {message}");
            Progress::Lines(prefix)
        }
    }

    fn step(&self, step: &str) {
        match self {
            Progress::Spinner(bar) => bar.set_message(step.to_string()),
            Progress::Lines(prefix) => eprintln!("{prefix}: {step}"),
        }
    }

    fn finish(self) {
        if let Progress::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// How long install waits for the controller (`None`: it does not).
fn wait_of(args: &InstallArgs) -> Option<Duration> {
    (!args.no_wait && args.wait_timeout > 0).then(|| Duration::from_secs(args.wait_timeout))
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
    let wait = wait_of(args);
    let progress = Progress::start("install", "installing Axon");
    let result = backend
        .install(&image, &version, wait, |step| progress.step(step))
        .await;
    progress.finish();
    result?;
    println!(
        "Axon {version} installed (controller image {image}){}",
        if wait.is_some() {
            ""
        } else {
            "; not waiting for the controller to be available (kubectl -n axon-system rollout status deployment axon-controller)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// What uninstall prints on stdout: everything removed, the Secrets, what was left.
pub fn uninstall_summary(report: &UninstallReport) -> String {
    let mut out = String::from("Axon uninstalled.\n");
    if report.removed.is_empty() {
        out.push_str("Nothing of Axon's install was in the cluster.\n");
    } else {
        out.push_str("Removed:\n");
        for line in &report.removed {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if report.secrets.is_empty() {
        out.push_str(
            "Secrets created by axon (labelled app.kubernetes.io/managed-by=axon): none found\n",
        );
    } else {
        out.push_str(&format!(
            "Secrets created by axon create secret, deleted: {}\n",
            report.secrets.join(", ")
        ));
    }
    for line in &report.left {
        out.push_str(&format!("Left: {line}\n"));
    }
    out
}

pub async fn uninstall(global: &GlobalArgs) -> Result<ExitCode, CliError> {
    if !global.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(
                "uninstall deletes the controller, the CRDs, ALL Axon resources (Tasks, Workspaces, AgentConfigs, TaskSpawners) in every namespace and the Secrets axon created; pass -y to confirm".into(),
            ));
        }
        eprint!(
            "This deletes the Axon controller, its CRDs, ALL Axon resources in every namespace and the Secrets `axon create secret` made. Continue? [y/N] "
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
    let progress = Progress::start("uninstall", "uninstalling Axon");
    let result = backend.uninstall(|step| progress.step(step)).await;
    progress.finish();
    print!("{}", uninstall_summary(&result?));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_secrets_and_what_was_left() {
        let report = UninstallReport {
            removed: vec!["Deployment axon-system/axon-controller".into()],
            secrets: vec!["default/claude".into()],
            left: vec![],
        };
        let s = uninstall_summary(&report);
        assert!(
            s.contains("Removed:\n  Deployment axon-system/axon-controller\n"),
            "{s}"
        );
        assert!(s.contains("deleted: default/claude"), "{s}");
        let s = uninstall_summary(&UninstallReport::default());
        assert!(s.contains("none found"), "{s}");
    }
}
