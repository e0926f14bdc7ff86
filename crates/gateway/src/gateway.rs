//! The gateway: the grants, the live state of each Task, the audit sink, the event broadcast and
//! the upstream client, shared by every connection the server accepts.
//!
//! Why one struct: the model proxy and the forward proxy both resolve tokens, record requests,
//! count per Task and emit events; they do it through this one handle (`Arc<Gateway>`), which
//! is also what the driver keeps to read usage and subscribe to events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::broadcast;

use crate::audit::{AuditRecord, AuditSink, NullSink};
use crate::events::{EVENT_CAPACITY, GatewayEvent};
use crate::grant::{Grants, TaskRef};
use crate::hooks::{NoProxy, ProxyHooks};
use crate::metering::UsageTotals;
use crate::state::TaskState;
use crate::upstream::Upstream;

pub use crate::upstream::UpstreamClient;

/// Largest request body of a model call, by default (larger → 413).
pub const DEFAULT_MAX_MODEL_BODY: usize = 32 * 1024 * 1024;

/// Largest request head (request line + headers) accepted, by default (larger → 431).
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;

/// How long connecting to an upstream may take (an answer, once connected, may take as long
/// as the model needs).
pub const UPSTREAM_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Errors building a gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No TLS root could be loaded for the upstream client.
    #[error("cannot build the gateway's TLS client: {0}")]
    Tls(String),
    /// Binding or serving failed.
    #[error("gateway listener: {0}")]
    Io(#[from] std::io::Error),
}

/// The gateway shared by all connections.
pub struct Gateway {
    grants: Arc<dyn Grants>,
    audit: Arc<dyn AuditSink>,
    proxy: Arc<dyn ProxyHooks>,
    events: broadcast::Sender<GatewayEvent>,
    tasks: Mutex<HashMap<String, Arc<TaskState>>>,
    client: Upstream,
    own_authorities: RwLock<Vec<String>>,
    max_model_body: usize,
    max_head: usize,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("own_authorities", &self.own_authorities)
            .field("max_model_body", &self.max_model_body)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Gateway`].
pub struct GatewayBuilder {
    grants: Arc<dyn Grants>,
    audit: Arc<dyn AuditSink>,
    proxy: Arc<dyn ProxyHooks>,
    tls: Option<rustls::ClientConfig>,
    max_model_body: usize,
    max_head: usize,
}

impl GatewayBuilder {
    /// Where audit records go (default: nowhere).
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = sink;
        self
    }

    /// The forward-proxy half (default: [`NoProxy`], 501).
    pub fn proxy(mut self, hooks: Arc<dyn ProxyHooks>) -> Self {
        self.proxy = hooks;
        self
    }

    /// The TLS configuration of the upstream client (default: the system's roots, ring).
    pub fn tls(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Largest model-call request body (default [`DEFAULT_MAX_MODEL_BODY`]).
    pub fn max_model_body(mut self, bytes: usize) -> Self {
        self.max_model_body = bytes;
        self
    }

    /// Largest request head (default [`DEFAULT_MAX_HEAD`]; at least 8 KiB).
    pub fn max_head(mut self, bytes: usize) -> Self {
        self.max_head = bytes.max(8192);
        self
    }

    /// The gateway.
    pub fn build(self) -> Result<Arc<Gateway>, GatewayError> {
        let client = Upstream::new(self.tls)?;
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Ok(Arc::new(Gateway {
            grants: self.grants,
            audit: self.audit,
            proxy: self.proxy,
            events,
            tasks: Mutex::new(HashMap::new()),
            client,
            own_authorities: RwLock::new(Vec::new()),
            max_model_body: self.max_model_body,
            max_head: self.max_head,
        }))
    }
}

impl Gateway {
    /// A gateway resolving tokens with `grants` and recording to `audit`.
    pub fn new(
        grants: Arc<dyn Grants>,
        audit: Arc<dyn AuditSink>,
    ) -> Result<Arc<Gateway>, GatewayError> {
        Gateway::builder(grants).audit(audit).build()
    }

    /// A builder for the less common settings.
    pub fn builder(grants: Arc<dyn Grants>) -> GatewayBuilder {
        GatewayBuilder {
            grants,
            audit: Arc::new(NullSink),
            proxy: Arc::new(NoProxy),
            tls: None,
            max_model_body: DEFAULT_MAX_MODEL_BODY,
            max_head: DEFAULT_MAX_HEAD,
        }
    }

    /// The grants.
    pub fn grants(&self) -> &Arc<dyn Grants> {
        &self.grants
    }

    /// The forward-proxy hooks.
    pub fn proxy(&self) -> &Arc<dyn ProxyHooks> {
        &self.proxy
    }

    /// The client for upstream requests (no proxy from the environment). The first call may
    /// wait for the system's TLS roots, loading since the gateway was built.
    pub fn client(&self) -> &UpstreamClient {
        self.client.client()
    }

    /// Largest model-call request body.
    pub fn max_model_body(&self) -> usize {
        self.max_model_body
    }

    /// Largest request head.
    pub fn max_head(&self) -> usize {
        self.max_head
    }

    /// Subscribes to the gateway's events.
    pub fn events(&self) -> broadcast::Receiver<GatewayEvent> {
        self.events.subscribe()
    }

    /// Sends `event` to every subscriber (none: dropped).
    pub fn emit(&self, event: GatewayEvent) {
        let _ = self.events.send(event);
    }

    /// Records `record` of `task`.
    pub fn audit(&self, task: Option<&TaskRef>, record: &AuditRecord) {
        self.audit.record(task, record);
    }

    /// The live state of `task`, created on first use.
    pub fn task(&self, task: &TaskRef) -> Arc<TaskState> {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks
            .entry(task.uid.clone())
            .or_insert_with(|| Arc::new(TaskState::new(task.clone())))
            .clone()
    }

    /// Starts the live state of `task` from `totals` unless it already has one: a gateway that
    /// restarted continues a running Task's usage (and budget) from what it recorded before.
    /// Returns whether the totals were taken.
    pub fn seed_usage(&self, task: &TaskRef, totals: UsageTotals) -> bool {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if tasks.contains_key(&task.uid) {
            return false;
        }
        tasks.insert(
            task.uid.clone(),
            Arc::new(TaskState::with_usage(task.clone(), totals)),
        );
        true
    }

    /// The UIDs of the Tasks with live state.
    pub fn task_uids(&self) -> Vec<String> {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// The usage of the Task with this UID (`None`: it made no request yet).
    pub fn usage(&self, uid: &str) -> Option<UsageTotals> {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uid)
            .map(|s| s.usage())
    }

    /// Denied connections of the Task with this UID.
    pub fn denied(&self, uid: &str) -> u64 {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uid)
            .map_or(0, |s| s.denied())
    }

    /// Forgets the live state of the Task with this UID (after its driver read the totals).
    pub fn forget(&self, uid: &str) {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uid);
    }

    /// Whether `authority` (`host:port` of an absolute-form URI) is this gateway's own address.
    pub fn is_own_authority(&self, authority: &str) -> bool {
        self.own_authorities
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|a| a.eq_ignore_ascii_case(authority))
    }

    /// Notes that the gateway is reachable at `authority` (`host:port`), so an absolute-form
    /// request to it is served as a model call, not proxied. The server adds the addresses of
    /// each TCP listener; add the address agents use when it differs (a forwarded port).
    pub fn add_own_authority(&self, authority: String) {
        let mut own = self
            .own_authorities
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if !own.contains(&authority) {
            own.push(authority);
        }
    }
}
