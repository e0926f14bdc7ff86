//! `axon gateway --backend=kubernetes`: the cluster's one gateway, run by the Deployment
//! `axon install` applies. It reads its Secret from the mounted directory (token key, CA),
//! resolves tokens from the cluster ([`crate::gateway_grants::KubeGrants`]), intercepts GitHub
//! TLS with the cluster's one CA (the one agent Pods trust through their namespace's CA bundle),
//! writes each request's audit record as a JSON line on standard output (with its Task), and
//! writes usage and refusals back to the Tasks ([`crate::gateway_report`]). SIGTERM stops it
//! gracefully: no new connection, requests in flight get [`SHUTDOWN_GRACE`], pending usage is
//! written.

use crate::error::KubeError;
use crate::gateway_grants::KubeGrants;
use crate::gateway_secret::GatewayMaterial;
use crate::names::{GATEWAY_NAME, GATEWAY_PORT, SYSTEM_NAMESPACE};
use axon_gateway::{AuditRecord, AuditSink, Gateway, Proxy, Server, TaskCa, TaskRef};
use kube::Client;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long requests in flight may finish after SIGTERM (the Pod's grace period is 30 s).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// How `axon gateway --backend=kubernetes` runs.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// `host:port` to listen on.
    pub listen: String,
    /// Where the gateway Secret is mounted.
    pub secret_dir: PathBuf,
}

/// One audit line: the record with its Task (`namespace/name`, `null` for a request without
/// a valid token).
#[derive(Serialize)]
struct AuditLine<'a> {
    task: Option<String>,
    #[serde(flatten)]
    record: &'a AuditRecord,
}

/// The audit line of `record` (pure).
pub fn audit_line(task: Option<&TaskRef>, record: &AuditRecord) -> String {
    serde_json::to_string(&AuditLine {
        task: task.map(ToString::to_string),
        record,
    })
    .unwrap_or_default()
}

/// Audit records as JSON lines on a writer (standard output in the Deployment).
pub struct JsonLines {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonLines {
    pub fn new(out: Box<dyn Write + Send>) -> JsonLines {
        JsonLines {
            out: Mutex::new(out),
        }
    }
}

impl AuditSink for JsonLines {
    fn record(&self, task: Option<&TaskRef>, record: &AuditRecord) {
        let mut line = audit_line(task, record);
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "cannot write the gateway's audit record");
        }
    }
}

/// The addresses agent Pods reach the gateway at (its Service names, with its port): an
/// absolute-form request to one of them is a model call, not a proxied one.
pub fn own_authorities() -> Vec<String> {
    [
        format!("{GATEWAY_NAME}.{SYSTEM_NAMESPACE}.svc"),
        format!("{GATEWAY_NAME}.{SYSTEM_NAMESPACE}.svc.cluster.local"),
        format!("{GATEWAY_NAME}.{SYSTEM_NAMESPACE}"),
    ]
    .into_iter()
    .map(|h| format!("{h}:{GATEWAY_PORT}"))
    .collect()
}

/// A gateway serving the cluster's Tasks.
pub struct RunningGateway {
    gateway: Arc<Gateway>,
    server: Server,
    stop: watch::Sender<bool>,
    reporter: tokio::task::JoinHandle<()>,
}

impl RunningGateway {
    /// Serve on `listener` with `material`, resolving through `client`; audit lines go to `out`.
    pub fn start(
        client: Client,
        material: &GatewayMaterial,
        listener: TcpListener,
        out: Box<dyn Write + Send>,
    ) -> Result<RunningGateway, KubeError> {
        let ca = TaskCa::from_pem(&material.ca_cert_pem, &material.ca_key_pem).map_err(|e| {
            KubeError::Gateway(format!(
                "{e}: the gateway Secret {SYSTEM_NAMESPACE}/{GATEWAY_NAME} is unusable; delete it and run `axon install` to make a new one"
            ))
        })?;
        let grants = Arc::new(
            KubeGrants::new(client.clone(), material.token_key.clone())
                .map_err(|e| KubeError::Gateway(e.to_string()))?,
        );
        let gateway = Gateway::builder(grants.clone())
            .audit(Arc::new(JsonLines::new(out)))
            .proxy(Arc::new(Proxy::with_ca(Arc::new(ca))))
            .build()
            .map_err(|e| KubeError::Gateway(e.to_string()))?;
        grants.attach(&gateway);
        for a in own_authorities() {
            gateway.add_own_authority(a);
        }
        let (stop, stopped) = watch::channel(false);
        let reporter = tokio::spawn(crate::gateway_report::report(
            client,
            gateway.clone(),
            gateway.events(),
            stopped,
        ));
        let server = gateway
            .serve_tcp(listener)
            .map_err(|e| KubeError::Gateway(format!("serve the gateway: {e}")))?;
        Ok(RunningGateway {
            gateway,
            server,
            stop,
            reporter,
        })
    }

    /// `http://host:port` of the listener.
    pub fn base_url(&self) -> Option<String> {
        self.server.base_url()
    }

    /// The gateway (usage, events).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Stop accepting, let requests in flight finish within `grace`, write pending usage.
    pub async fn shutdown(self, grace: Duration) {
        self.server.shutdown(grace).await;
        let _ = self.stop.send(true);
        let _ = self.reporter.await;
    }
}

/// Run the gateway until SIGTERM or Ctrl-C.
pub async fn run_gateway(opts: GatewayOptions) -> Result<(), KubeError> {
    crate::tls::install_crypto_provider();
    let material = crate::gateway_secret::read_material(&opts.secret_dir)?;
    let client = Client::try_default().await.map_err(|e| KubeError::Config {
        path: None,
        reason: e.to_string(),
    })?;
    let listener = TcpListener::bind(&opts.listen)
        .await
        .map_err(|e| KubeError::Gateway(format!("cannot listen on {}: {e}", opts.listen)))?;
    let running = RunningGateway::start(client, &material, listener, Box::new(std::io::stdout()))?;
    tracing::info!(
        listen = %opts.listen,
        address = running.base_url().unwrap_or_default(),
        "the Axon gateway serves the cluster's Tasks"
    );
    crate::controller::shutdown_signal().await;
    tracing::info!("stopping: requests in flight may finish");
    running.shutdown(SHUTDOWN_GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_gateway::{Decision, RequestKind};

    #[test]
    fn audit_lines_name_the_task() {
        let mut r = AuditRecord::new(
            RequestKind::Model,
            "POST",
            "api.example",
            "/v1/messages?key=s",
        );
        r.at = "2026-01-01T00:00:00.000Z".into();
        r.status = 200;
        let task = TaskRef {
            namespace: "ns".into(),
            name: "t".into(),
            uid: "u".into(),
        };
        let line = audit_line(Some(&task), &r);
        assert_eq!(
            line,
            r#"{"task":"ns/t","at":"2026-01-01T00:00:00.000Z","kind":"model","method":"POST","host":"api.example","path":"/v1/messages","status":200,"bytesUp":0,"bytesDown":0,"durationMs":0,"decision":"allowed"}"#
        );
        r.decision = Decision::Denied {
            reason: "no token".into(),
        };
        let line = audit_line(None, &r);
        assert!(
            line.starts_with(r#"{"task":null,"#)
                && line.ends_with(r#""decision":"denied","reason":"no token"}"#),
            "{line}"
        );
    }

    #[test]
    fn the_service_names_are_the_gateways_own() {
        let own = own_authorities();
        assert!(own.contains(&"axon-gateway.axon-system.svc:8080".to_string()));
        assert_eq!(
            crate::names::gateway_origin(),
            format!("http://{}", own[0]),
            "the origin agent Pods are given is one of them"
        );
    }
}
