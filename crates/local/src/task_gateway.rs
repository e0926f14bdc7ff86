//! A local Task's own Axon gateway, run inside its supervisor for as long as the Task runs
//! (all its attempts, so a budget spans retries). The agent holds only the gateway token; the
//! gateway holds the model key and the Workspace token the supervisor read from the credential
//! store, meters usage, refuses calls over budget and destinations outside the egress rule, and
//! appends every request to the Task's `requests.jsonl` (outside the sandbox).
//!
//! An open network listens on 127.0.0.1 (a free port); a restricted one on a Unix socket in a
//! directory bound into a sandbox whose only way out is that socket (the runner relays
//! `127.0.0.1:PORT` inside the sandbox to it), so the agent sees the same kind of URL either way.

use crate::network::{DEFAULT_GATEWAY_PORT, IsolatedNetwork};
use axon_core::gateway_plan::GatewayValue;
use axon_gateway::ca::TaskCa;
use axon_gateway::proxy::Proxy;
use axon_gateway::{
    Gateway, GatewayEvent, GitHubGrant, JsonlSink, ModelRoute, Network, Secret, Server,
    StaticGrants, TaskGrant, TaskRef, UsageTotals,
};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How long requests in flight may finish when the Task ends.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the gateway of one Task is made of (read by the supervisor from the Task, its
/// Workspace and the credential store).
pub struct TaskGatewaySpec {
    pub task: TaskRef,
    /// `scheme://host[:port]` of the model API.
    pub model_upstream: String,
    pub model_credential: Option<Secret>,
    /// The Workspace repository's URL, as Axon knows it.
    pub repo_url: Option<String>,
    pub github_token: Option<Secret>,
    /// `spec.policy.protectedBranches`.
    pub protected: Vec<String>,
    pub network: Network,
    pub budget: axon_core::budget::BudgetLimits,
    pub prices: axon_core::pricing::PriceTable,
    /// The Task's gateway directory (socket, CA bundle), outside the sandbox's writable paths.
    pub dir: PathBuf,
    /// The Task's `requests.jsonl`.
    pub audit_file: PathBuf,
    /// How long the Task's CA must stay valid (its certificates are checked by the agent's
    /// tools for as long as it runs).
    pub ca_validity: Duration,
}

/// A running gateway serving one Task.
pub struct TaskGateway {
    gateway: Arc<Gateway>,
    proxy: Arc<Proxy>,
    grants: Arc<StaticGrants>,
    grant: TaskGrant,
    server: Server,
    /// `http://127.0.0.1:PORT` as the agent reaches it.
    origin: String,
    /// The Unix socket of a restricted network.
    socket: Option<PathBuf>,
    ca_bundle: PathBuf,
}

impl TaskGateway {
    /// Start the gateway of `spec`. An `Err` is the Task's failure message.
    pub async fn start(spec: TaskGatewaySpec) -> Result<TaskGateway, String> {
        std::fs::create_dir_all(&spec.dir)
            .and_then(|()| {
                std::fs::set_permissions(&spec.dir, std::fs::Permissions::from_mode(0o755))
            })
            .map_err(|e| format!("create {}: {e}", spec.dir.display()))?;
        let token = axon_gateway::new_token()
            .map_err(|e| format!("cannot make the Task's gateway token: {e}"))?;
        let github = spec
            .repo_url
            .as_deref()
            .and_then(|url| github_grant(url, spec.github_token.clone(), &spec.protected));
        let grant = TaskGrant {
            task: spec.task.clone(),
            token,
            model: spec.model_credential.map(|credential| ModelRoute {
                upstream: spec.model_upstream.clone(),
                credential,
            }),
            github,
            network: spec.network.clone(),
            budget: spec.budget,
            prices: spec.prices,
        };
        let grants = Arc::new(StaticGrants::new());
        grants.add(grant.clone());
        let audit = JsonlSink::open(&spec.audit_file)
            .map_err(|e| format!("open {}: {e}", spec.audit_file.display()))?;
        let ca = Arc::new(
            TaskCa::generate_valid_for(&spec.task.to_string(), spec.ca_validity)
                .map_err(|e| format!("cannot make the Task's gateway CA: {e}"))?,
        );
        let proxy = Arc::new(Proxy::with_ca(ca.clone()));
        let gateway = Gateway::builder(grants.clone())
            .audit(Arc::new(audit))
            .proxy(proxy.clone())
            .build()
            .map_err(|e| e.to_string())?;
        let ca_bundle = spec.dir.join("ca-bundle.pem");
        std::fs::write(&ca_bundle, ca.bundle_with_system_roots())
            .and_then(|()| {
                std::fs::set_permissions(&ca_bundle, std::fs::Permissions::from_mode(0o644))
            })
            .map_err(|e| format!("write {}: {e}", ca_bundle.display()))?;

        let restricted = matches!(spec.network, Network::Restricted { .. });
        let (server, origin, socket) = if restricted {
            let socket = socket_path(&spec.dir, &spec.task.uid)?;
            let _ = std::fs::remove_file(&socket);
            let listener = tokio::net::UnixListener::bind(&socket)
                .map_err(|e| format!("bind the gateway socket {}: {e}", socket.display()))?;
            // A root caller's agent runs as nobody; the token, not the socket's mode, is the
            // gate.
            std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))
                .map_err(|e| format!("chmod {}: {e}", socket.display()))?;
            let authority = format!("127.0.0.1:{DEFAULT_GATEWAY_PORT}");
            gateway.add_own_authority(authority.clone());
            gateway.add_own_authority(format!("localhost:{DEFAULT_GATEWAY_PORT}"));
            let server = gateway
                .serve_unix(listener)
                .map_err(|e| format!("serve the gateway: {e}"))?;
            (server, format!("http://{authority}"), Some(socket))
        } else {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("bind the gateway on 127.0.0.1: {e}"))?;
            let server = gateway
                .serve_tcp(listener)
                .map_err(|e| format!("serve the gateway: {e}"))?;
            let origin = server
                .base_url()
                .ok_or_else(|| "the gateway has no address".to_string())?;
            (server, origin, None)
        };
        Ok(TaskGateway {
            gateway,
            proxy,
            grants,
            grant,
            server,
            origin,
            socket,
            ca_bundle,
        })
    }

    /// The base branch, once the work tree is prepared: pushes to it are refused.
    pub fn set_base_branch(&mut self, base: &str) {
        if let Some(gh) = self.grant.github.as_mut() {
            gh.base_branch = base.to_string();
            self.grants.add(self.grant.clone());
        }
    }

    /// The value of a gateway variable of the agent's environment.
    pub fn resolve(&self, value: &GatewayValue) -> String {
        match value {
            GatewayValue::Token => self.grant.token.expose().to_string(),
            GatewayValue::ModelBaseUrl { path } => format!("{}{path}", self.origin),
            GatewayValue::ProxyUrl => {
                let host = self.origin.strip_prefix("http://").unwrap_or(&self.origin);
                format!("http://axon:{}@{host}", self.grant.token.expose())
            }
            GatewayValue::CaBundle => self.ca_bundle.to_string_lossy().to_string(),
        }
    }

    /// The restricted network the sandbox gets (`None`: the host's network).
    pub fn isolated_network(&self) -> Option<IsolatedNetwork> {
        self.socket.as_ref().map(|s| IsolatedNetwork {
            gateway_socket: Some(s.clone()),
            gateway_port: DEFAULT_GATEWAY_PORT,
        })
    }

    /// The gateway token (a secret of the run: kept out of logs and status).
    pub fn token(&self) -> &str {
        self.grant.token.expose()
    }

    /// What the gateway tells the supervisor as it happens.
    pub fn events(&self) -> broadcast::Receiver<GatewayEvent> {
        self.gateway.events()
    }

    /// The Task's usage so far, as the gateway measured it.
    pub fn usage(&self) -> Option<UsageTotals> {
        self.gateway.usage(&self.grant.task.uid)
    }

    /// Stop serving: the token is forgotten at once, requests in flight get a short grace.
    pub async fn stop(self) {
        self.grants.remove_task(&self.grant.task.uid);
        self.proxy.forget(&self.grant.task.uid);
        self.server.shutdown(SHUTDOWN_GRACE).await;
        if let Some(s) = &self.socket {
            let _ = std::fs::remove_file(s);
            if let Some(dir) = s.parent().filter(|d| d.starts_with(std::env::temp_dir())) {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Longest Unix socket path the kernel takes (`sun_path` holds 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Where the gateway's socket lives: in the Task's gateway directory, or, when that path is too
/// long for a socket, in a fresh directory of its own under the temporary directory (created
/// here, so nobody prepared it).
fn socket_path(dir: &std::path::Path, uid: &str) -> Result<PathBuf, String> {
    let socket = dir.join("gateway.sock");
    if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok(socket);
    }
    let short: String = uid
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let mut last = None;
    for n in 0..16u32 {
        let d = std::env::temp_dir().join(format!("axon-gw-{short}-{}-{n}", std::process::id()));
        match std::fs::create_dir(&d) {
            Ok(()) => {
                std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| format!("chmod {}: {e}", d.display()))?;
                return Ok(d.join("gateway.sock"));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(format!(
        "cannot make a directory for the gateway socket under {}: {}",
        std::env::temp_dir().display(),
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// The GitHub grant of a Workspace repository reached over http(s); `None` for anything else
/// (a local path, `file://`, `git://`, ssh), which the gateway does not carry.
fn github_grant(url: &str, token: Option<Secret>, protected: &[String]) -> Option<GitHubGrant> {
    let parts = axon_core::github_scope::github_grant_parts(url)?;
    Some(GitHubGrant {
        scheme: parts.scheme,
        git_host: parts.git_host,
        api_base: parts.api_base,
        owner: parts.owner,
        repo: parts.repo,
        token,
        base_branch: String::new(),
        protected: protected.to_vec(),
    })
}
