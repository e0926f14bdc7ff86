//! Opening the backend the settings name. Commands then talk to it through Axon's backend port
//! (`axon_port::Backend`), which the local and Kubernetes backends both implement, and never
//! care whether resources live in SQLite or in a cluster.

use crate::args::GlobalArgs;
use crate::error::CliError;
use crate::settings::{Settings, axon_home};
use axon_api::config::Backend as BackendKind;
use axon_kube::KubeBackend;
use axon_local::LocalBackend;
use axon_port::Backend;
use std::sync::Arc;

/// The backend a command talks to.
pub type SharedBackend = Arc<dyn Backend>;

/// Open the backend the settings name.
pub async fn open(settings: &Settings, global: &GlobalArgs) -> Result<SharedBackend, CliError> {
    Ok(match settings.backend {
        BackendKind::Local => Arc::new(open_local(settings, global)?),
        BackendKind::Kubernetes => {
            let ns = global
                .namespace
                .clone()
                .or_else(|| settings.config.namespace.clone());
            Arc::new(KubeBackend::connect(global.kubeconfig.as_deref(), ns.as_deref()).await?)
        }
    })
}

/// The local backend with the settings' concurrency, default timeout and sandbox (`axon
/// serve` needs it as such, to run its engine).
pub fn open_local(settings: &Settings, global: &GlobalArgs) -> Result<LocalBackend, CliError> {
    let backend = LocalBackend::open(&axon_home()?)?;
    if let Some(c) = settings.config.concurrency {
        backend.set_concurrency(c as usize);
    }
    backend.set_default_timeout(settings.config.timeout_seconds);
    backend.set_pricing(settings.config.pricing.clone());
    if let Some(mode) = global.sandbox {
        if mode == axon_local::SandboxMode::None {
            eprintln!("{}", axon_local::NO_SANDBOX_WARNING);
        }
        backend.set_sandbox(mode);
    }
    Ok(backend)
}

#[cfg(test)]
mod tests {
    use crate::args::{Cli, Command};
    use axon_api::config::Backend as BackendKind;
    use clap::Parser;

    /// The spawner Deployment's command line selects the Kubernetes backend: without it the
    /// binary in the Pod would use the local backend, find no spawner and exit.
    #[test]
    fn the_spawner_deployment_runs_on_the_kubernetes_backend() {
        let args = axon_kube::spawner_deployment::spawner_args("fix-bugs", "team");
        let cli = Cli::try_parse_from(std::iter::once("axon".to_string()).chain(args))
            .expect("the spawner's arguments parse");
        assert_eq!(cli.global.backend, Some(BackendKind::Kubernetes));
        assert_eq!(cli.global.namespace.as_deref(), Some("team"));
        match cli.command {
            Command::Spawner(a) => assert_eq!(a.name, "fix-bugs"),
            other => panic!("parsed as {other:?}"),
        }
    }
}
