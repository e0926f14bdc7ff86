//! `axon controller`: the Task and TaskSpawner controllers with leader election, the metrics
//! endpoints, structured logs and graceful shutdown (SIGTERM: finish in-flight reconciles,
//! release the Lease, stop serving).
//!
//! Settings beyond the flags come from the Pod's environment, set by the install manifests:
//! `AXON_IMAGE` (init containers and spawners), `AXON_VERSION` (default agent image tag),
//! `POD_NAMESPACE` (where the Lease lives), `POD_NAME` (the Lease holder's identity), and
//! optionally `AXON_WATCH_NAMESPACE` (watch one namespace instead of all) and
//! `AXON_DEFAULT_TIMEOUT_SECONDS` (deadline of Tasks without `timeoutSeconds`: 14400 unless set,
//! `0` for none), and `AXON_GATEWAY_URL` (the gateway's origin as agent Pods reach it, for a
//! controller whose Pods do not run in the cluster's network; default
//! `http://axon-gateway.axon-system.svc:8080`).

use crate::error::KubeError;
use crate::job::JobOptions;
use crate::leader::LeaderElector;
use crate::metrics::Metrics;
use crate::names::{
    CONTROLLER_NAME, LABEL_SPAWNER, LABEL_TASK, LEASE_NAME, SYSTEM_NAMESPACE, VERSION,
    default_axon_image,
};
use crate::server::{ServerState, serve};
use crate::timeout::{DEFAULT_TIMEOUT_ENV, parse_default_timeout};
use crate::{spawner_controller, task_controller};
use axon_api::{Task, TaskSpawner};
use axon_core::spawner_window::{held_by_spawner_budget, owning_spawner};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Environment variable of the controller: the gateway's origin as agent Pods reach it.
pub const GATEWAY_URL_ENV: &str = "AXON_GATEWAY_URL";

/// Flags of `axon controller`.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Address of `/metrics`, `/healthz`, `/readyz` (for example `0.0.0.0:8080`).
    pub metrics_addr: String,
    /// Hold a Lease before reconciling (two replicas are then safe).
    pub leader_elect: bool,
    /// Route Tasks through the Axon gateway (agent Pods hold no Secret). Off: Pods get their
    /// Secrets as before, for a cluster migrating to the gateway.
    pub gateway: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Completes on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Run the controllers until SIGTERM (Ok) or until the leader Lease is lost (Err).
pub async fn run_controller(opts: ControllerOptions) -> Result<(), KubeError> {
    crate::tls::install_crypto_provider();
    let version = env(crate::names::VERSION_ENV).unwrap_or_else(|| VERSION.to_string());
    let image = env(crate::names::IMAGE_ENV).unwrap_or_else(|| default_axon_image(&version));
    let lease_ns = env("POD_NAMESPACE").unwrap_or_else(|| SYSTEM_NAMESPACE.to_string());
    let identity =
        env("POD_NAME").unwrap_or_else(|| format!("{CONTROLLER_NAME}-{}", std::process::id()));
    let watch_ns = env("AXON_WATCH_NAMESPACE");
    let default_timeout_seconds =
        parse_default_timeout(env(DEFAULT_TIMEOUT_ENV).as_deref()).map_err(KubeError::Setting)?;
    let client = Client::try_default().await.map_err(|e| KubeError::Config {
        path: None,
        reason: e.to_string(),
    })?;

    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let ns = watch_ns.as_deref();
    let by_label = |l: &str| watcher::Config::default().labels(l).any_semantic();
    let tasks = Controller::new(
        api::<Task>(&client, ns),
        watcher::Config::default().any_semantic(),
    );
    // A Task that finishes wakes the Tasks that depend on it (their start gate), at once; a
    // change to a spawner's Task (a deletion takes its spending along) wakes the spawner's
    // Tasks its budget holds.
    let known = tasks.store();
    let known_by_spawners = tasks.store();
    let tasks = tasks
        .watches(
            api::<Task>(&client, ns),
            watcher::Config::default().any_semantic(),
            move |changed: Task| {
                let name = changed.name_any();
                let ns = changed.namespace().unwrap_or_default();
                let spawner = owning_spawner(&changed);
                known
                    .state()
                    .into_iter()
                    .filter(|t| {
                        t.namespace().unwrap_or_default() == ns
                            && (t.spec.depends_on.contains(&name)
                                || (spawner.is_some()
                                    && owning_spawner(t) == spawner
                                    && t.name_any() != name
                                    && held_by_spawner_budget(t)))
                    })
                    .map(|t| ObjectRef::from_obj(t.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        // A TaskSpawner changed (its budget raised, say): the Tasks its budget holds look again.
        .watches(
            api::<TaskSpawner>(&client, ns),
            watcher::Config::default().any_semantic(),
            move |spawner: TaskSpawner| {
                let name = spawner.name_any();
                let ns = spawner.namespace().unwrap_or_default();
                known_by_spawners
                    .state()
                    .into_iter()
                    .filter(|t| {
                        t.namespace().unwrap_or_default() == ns
                            && owning_spawner(t) == Some(name.as_str())
                            && held_by_spawner_budget(t)
                    })
                    .map(|t| ObjectRef::from_obj(t.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .owns(api::<Job>(&client, ns), by_label(LABEL_TASK))
        .watches(api::<Pod>(&client, ns), by_label(LABEL_TASK), |pod: Pod| {
            let task = pod.labels().get(LABEL_TASK)?.clone();
            Some(ObjectRef::<Task>::new(&task).within(&pod.namespace().unwrap_or_default()))
        })
        .shutdown_on_signal();
    let spawners = Controller::new(
        api::<TaskSpawner>(&client, ns),
        watcher::Config::default().any_semantic(),
    )
    .owns(api::<Deployment>(&client, ns), by_label(LABEL_SPAWNER))
    .shutdown_on_signal();

    let store = tasks.store();
    let phases = Arc::new(move || {
        let mut out = BTreeMap::new();
        for t in store.state() {
            let phase = t.status.as_ref().and_then(|s| s.phase).unwrap_or_default();
            *out.entry(phase.as_str().to_string()).or_insert(0u64) += 1;
        }
        out
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = serve(
        &opts.metrics_addr,
        ServerState {
            metrics: metrics.clone(),
            ready: ready.clone(),
            phases,
        },
        async move {
            let _ = stop_rx.await;
        },
    )
    .await?;

    client
        .apiserver_version()
        .await
        .map_err(|e| KubeError::api("reach the API server", e))?;
    ready.store(true, Ordering::Relaxed);

    let elector = opts.leader_elect.then(|| {
        LeaderElector::new(
            Api::<Lease>::namespaced(client.clone(), &lease_ns),
            LEASE_NAME,
            &identity,
        )
    });
    if let Some(e) = &elector {
        tracing::info!(
            identity,
            lease = LEASE_NAME,
            namespace = lease_ns,
            "waiting for the leader Lease"
        );
        tokio::select! {
            r = e.acquire() => r?,
            _ = shutdown_signal() => {
                let _ = stop_tx.send(());
                let _ = server.await;
                return Ok(());
            }
        }
        tracing::info!(identity, "leading");
    }

    let reporter = Reporter {
        controller: CONTROLLER_NAME.into(),
        instance: Some(identity.clone()),
    };
    let task_ctx = Arc::new(task_controller::Context {
        client: client.clone(),
        job_options: JobOptions {
            axon_image: image.clone(),
            version,
            default_timeout_seconds,
        },
        metrics: metrics.clone(),
        recorder: Recorder::new(client.clone(), reporter),
        gateway: opts.gateway.then(|| {
            let mut g = task_controller::ControllerGateway::in_cluster();
            if let Some(url) = env(GATEWAY_URL_ENV) {
                g.origin = url.trim_end_matches('/').to_string();
            }
            if g.system_roots.is_none() {
                tracing::warn!(
                    "no system CA bundle found (looked in {:?}): agent Pods trust only the gateway CA, so TLS to other hosts through the proxy fails",
                    crate::gateway_ca::SYSTEM_ROOTS
                );
            }
            g
        }),
    });
    match &task_ctx.gateway {
        Some(g) => tracing::info!(
            gateway = %g.origin,
            "Tasks run through the gateway: agent Pods hold no Secret"
        ),
        None => tracing::warn!(
            "--gateway=false: agent Pods get their Secrets (secretKeyRef, mounted Workspace Secret); restricted Tasks fail"
        ),
    }
    let spawner_ctx = Arc::new(spawner_controller::SpawnerContext {
        client: client.clone(),
        image,
        metrics,
    });
    let run_tasks = tasks
        .run(
            task_controller::reconcile,
            task_controller::error_policy,
            task_ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "task reconcile");
            }
        });
    let run_spawners = spawners
        .run(
            spawner_controller::reconcile,
            spawner_controller::error_policy,
            spawner_ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "taskspawner reconcile");
            }
        });
    let controllers = futures::future::join(run_tasks, run_spawners);
    let result = match &elector {
        Some(e) => tokio::select! {
            _ = controllers => Ok(()),
            lost = e.keep() => Err(lost),
        },
        None => {
            controllers.await;
            Ok(())
        }
    };
    if let Some(e) = &elector
        && result.is_ok()
    {
        e.release().await;
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    tracing::info!("controller stopped");
    result
}
