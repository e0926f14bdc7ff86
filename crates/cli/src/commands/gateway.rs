//! `axon gateway --backend kubernetes`: the cluster's Axon gateway, as the Deployment
//! `axon install` applies runs it. Agent Pods hold only gateway tokens; this process holds
//! their credentials (read from the Tasks' Secrets by RBAC), meters usage into Task status,
//! refuses calls over budget and destinations outside the egress rule, and prints one JSON
//! audit line per request on standard output (logs go to standard error, `AXON_LOG`).
//!
//! `--backend` is the global flag (or `AXON_BACKEND`), and must say `kubernetes` explicitly:
//! the config file's backend is not consulted, and the local backend has no separate gateway
//! process (each Task's supervisor runs its own).

use crate::args::{GatewayArgs, GlobalArgs};
use crate::error::CliError;
use axon_api::config::Backend;
use std::process::ExitCode;

/// Why `axon gateway` refuses a backend (pure).
pub fn check_backend(backend: Option<Backend>) -> Result<(), CliError> {
    match backend {
        Some(Backend::Kubernetes) => Ok(()),
        Some(Backend::Local) => Err(CliError::Invalid(
            "axon gateway serves a Kubernetes cluster's Tasks: the local backend runs a gateway inside each Task's supervisor, there is nothing to start; use --backend kubernetes (in the cluster)".into(),
        )),
        None => Err(CliError::Invalid(
            "axon gateway needs --backend kubernetes (it runs in the cluster, as the Deployment `axon install` applies)".into(),
        )),
    }
}

pub async fn run(global: &GlobalArgs, args: &GatewayArgs) -> Result<ExitCode, CliError> {
    check_backend(global.backend)?;
    axon_kube::run_gateway(axon_kube::GatewayOptions {
        listen: args.listen.clone(),
        secret_dir: args.secret_dir.clone(),
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    #[test]
    fn the_deployments_command_line_parses() {
        let cli = Cli::try_parse_from([
            "axon",
            "gateway",
            "--backend=kubernetes",
            "--listen=0.0.0.0:8080",
        ])
        .expect("parses");
        assert_eq!(cli.global.backend, Some(Backend::Kubernetes));
        let Command::Gateway(a) = cli.command else {
            panic!("not the gateway command");
        };
        assert_eq!(a.listen, "0.0.0.0:8080");
        assert_eq!(a.secret_dir, std::path::Path::new("/var/run/axon/gateway"));
        assert!(check_backend(cli.global.backend).is_ok());
        let e = check_backend(Some(Backend::Local)).expect_err("local");
        assert!(e.to_string().contains("supervisor"), "{e}");
        assert!(check_backend(None).is_err());
    }
}
