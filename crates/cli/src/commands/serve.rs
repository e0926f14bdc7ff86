//! `axon serve`: the local backend in the foreground until Ctrl-C or SIGTERM: the scheduler,
//! TTL cleanup, and a loop per stored TaskSpawner (`crate::spawner_host`). While it runs it
//! holds `AXON_HOME/serve.lock`, which is how `axon get taskspawners` knows spawners run.
//! With `--listen ADDR` it also receives GitHub webhooks (`crate::webhook_server`).

use crate::args::{GlobalArgs, ServeArgs};
use crate::backend;
use crate::error::CliError;
use crate::{settings, spawner_host, webhook_server};
use axon_api::config::Backend as BackendKind;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<ExitCode, CliError> {
    let settings = settings::resolve(global)?;
    if settings.backend != BackendKind::Local {
        return Err(CliError::Usage(
            "`axon serve` runs the local backend; on Kubernetes the controller does this (axon install)".into(),
        ));
    }
    let local = Arc::new(backend::open_local(&settings, global)?);
    let Some(_serve_lock) = local.hold_serve_lock()? else {
        return Err(CliError::Usage(format!(
            "another `axon serve` is already running on {}: stop it first",
            local.home().display()
        )));
    };
    let listener = match args.listen {
        Some(addr) => Some(webhook_server::bind(addr).await?),
        None => None,
    };
    if let Some(l) = &listener {
        let addr = l
            .local_addr()
            .map_err(CliError::io("read the webhook receiver's address"))?;
        eprintln!("axon serve: receiving GitHub webhooks at http://{addr}/webhooks/github");
        if !addr.ip().is_loopback() {
            eprintln!(
                "axon serve: warning: {addr} is reachable from other machines over plain HTTP; deliveries are still verified, but prefer 127.0.0.1 behind a TLS proxy"
            );
        }
    }
    eprintln!(
        "axon serve: running the local backend (concurrency {}) and its TaskSpawners; Ctrl-C stops it",
        local.concurrency()
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let signal = tokio::spawn(async move {
        spawner_host::shutdown_signal().await;
        let _ = stop.send(true);
    });
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let receiver = async {
        if let Some(listener) = listener {
            webhook_server::serve(listener, local.clone(), wait(stopped.clone())).await;
        }
    };
    let (engine, (), ()) = tokio::join!(
        local.serve(wait(stopped.clone())),
        spawner_host::host_all(local.clone(), wait(stopped.clone())),
        receiver,
    );
    signal.abort();
    engine?;
    eprintln!("axon serve: stopped");
    Ok(ExitCode::SUCCESS)
}
