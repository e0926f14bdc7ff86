//! `axon gateway --backend kubernetes`: the cluster's Axon gateway, as the Deployment
//! `axon install` applies runs it. Agent Pods hold only gateway tokens; this process holds
//! their credentials (read from the Tasks' Secrets by RBAC), meters usage into Task status,
//! refuses calls over budget and destinations outside the egress rule, and prints one JSON
//! audit line per request on standard output (logs go to standard error, `AXON_LOG`).

use crate::args::{GatewayArgs, GatewayBackend};
use crate::error::CliError;
use std::process::ExitCode;

pub async fn run(args: &GatewayArgs) -> Result<ExitCode, CliError> {
    match args.backend {
        GatewayBackend::Kubernetes => {
            axon_kube::run_gateway(axon_kube::GatewayOptions {
                listen: args.listen.clone(),
                secret_dir: args.secret_dir.clone(),
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
