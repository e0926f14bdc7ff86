//! The forward-proxy half of the gateway: what an agent's `HTTP_PROXY`/`HTTPS_PROXY` reaches.
//!
//! Why: `git`, `gh`, `curl`, package managers — everything an agent runs — honours a proxy
//! variable, so a proxy is the one mechanism that sees every destination without changing any
//! tool. [`Proxy`] implements [`ProxyHooks`]: it authenticates the agent by
//! `Proxy-Authorization: Basic base64("axon:<gateway token>")` (407 otherwise), applies the
//! Task's egress rule ([`axon_core::egress`]), and sends requests to the Workspace's GitHub hosts
//! through the GitHub rules ([`crate::github`]); `http://` requests are forwarded
//! ([`crate::forward_proxy`]), `CONNECT` is intercepted for GitHub hosts and tunnelled blind
//! for the others ([`crate::connect`]). It also keeps each Task's CA ([`Proxy::ca_for`]), which
//! the driver writes into the agent's CA bundle before the agent starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use axon_core::egress::{self, HostPort};
use base64::Engine;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::audit::{AuditRecord, Decision, RequestKind};
use crate::body::{self, Body};
use crate::ca::{CaError, TaskCa};
use crate::events::GatewayEvent;
use crate::gateway::Gateway;
use crate::github::GitHubTarget;
use crate::grant::{Network, TaskGrant, TaskRef};
use crate::hooks::ProxyHooks;

/// The realm named in `Proxy-Authenticate`.
pub const REALM: &str = "axon-gateway";

/// What a proxy client without a valid gateway token is told.
pub const PROXY_AUTH_REQUIRED: &str = "Axon gateway: proxy authentication required: use the proxy URL http://axon:<gateway token>@<gateway> (the agent's HTTP_PROXY/HTTPS_PROXY)";

/// The forward proxy: egress rule, GitHub rules, TLS interception with per-Task CAs (or one
/// CA for every Task, [`Proxy::with_ca`]).
#[derive(Default)]
pub struct Proxy {
    cas: Mutex<HashMap<String, Arc<TaskCa>>>,
    shared: Option<Arc<TaskCa>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy with no Task CA yet.
    pub fn new() -> Proxy {
        Proxy::default()
    }

    /// A proxy that intercepts every Task's TLS with `ca` (Kubernetes: the cluster's gateway
    /// CA, which agent Pods trust through their namespace's CA bundle).
    pub fn with_ca(ca: Arc<TaskCa>) -> Proxy {
        Proxy {
            cas: Mutex::default(),
            shared: Some(ca),
        }
    }

    /// The CA of `task`: the shared one of [`Proxy::with_ca`], else one made for the Task on
    /// first use. The driver writes
    /// [`TaskCa::bundle_with_system_roots`] to the file the agent's `SSL_CERT_FILE`,
    /// `GIT_SSL_CAINFO` and `NODE_EXTRA_CA_CERTS` name.
    pub fn ca_for(&self, task: &TaskRef) -> Result<Arc<TaskCa>, CaError> {
        if let Some(ca) = &self.shared {
            return Ok(ca.clone());
        }
        let mut cas = self.cas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ca) = cas.get(&task.uid) {
            return Ok(ca.clone());
        }
        let ca = Arc::new(TaskCa::generate(&task.to_string())?);
        cas.insert(task.uid.clone(), ca.clone());
        Ok(ca)
    }

    /// Forgets the CA of the Task with this UID (when it ends).
    pub fn forget(&self, uid: &str) {
        self.cas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uid);
    }
}

#[async_trait]
impl ProxyHooks for Proxy {
    async fn connect(&self, gateway: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
        crate::connect::handle(self, gateway, req).await
    }

    async fn forward(&self, gateway: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
        crate::forward_proxy::handle(gateway, req).await
    }
}

/// The gateway token of `Proxy-Authorization: Basic base64("<any user>:<token>")`.
pub fn proxy_token(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(header::PROXY_AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (_, token) = decoded.split_once(':')?;
    (!token.is_empty()).then(|| token.to_string())
}

/// The grant of the request's proxy credentials, or the 407 to answer (recorded).
pub(crate) async fn authenticate(
    gateway: &Gateway,
    method: &str,
    host: &str,
    path: &str,
    headers: &HeaderMap,
    started: Instant,
) -> Result<Arc<TaskGrant>, Response<Body>> {
    if let Some(token) = proxy_token(headers)
        && let Some(grant) = gateway.grants().lookup(&token).await
    {
        return Ok(grant);
    }
    let mut response = body::text(
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        PROXY_AUTH_REQUIRED,
    );
    response.headers_mut().insert(
        header::PROXY_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"axon-gateway\""),
    );
    let mut record = AuditRecord::new(RequestKind::Egress, method, host, path);
    record.status = StatusCode::PROXY_AUTHENTICATION_REQUIRED.as_u16();
    record.duration_ms = millis(started);
    record.decision = Decision::Denied {
        reason: "no valid gateway token in Proxy-Authorization".into(),
    };
    gateway.audit(None, &record);
    Err(response)
}

/// Where a proxied request of a Task goes.
pub(crate) enum Destination {
    /// One of the Workspace's GitHub hosts: the GitHub rules apply.
    GitHub(Arc<GitHubTarget>),
    /// Anywhere else the egress rule admits.
    Other,
    /// Refused by the egress rule: the 403 to answer (already recorded, counted and announced
    /// as an `EgressDenied` event).
    Denied(Response<Body>),
}

/// Applies the egress rule to `dest`.
pub(crate) fn admit(
    gateway: &Gateway,
    grant: &TaskGrant,
    dest: &HostPort,
    method: &str,
    path: &str,
    started: Instant,
) -> Destination {
    let github = grant
        .github
        .as_ref()
        .and_then(GitHubTarget::from_grant)
        .map(Arc::new);
    if let Some(target) = &github
        && target.is_github_host(dest)
    {
        return Destination::GitHub(target.clone());
    }
    let Network::Restricted { allow } = &grant.network else {
        return Destination::Other;
    };
    // The model upstream is always reachable (host and port); the GitHub hosts were
    // matched above. Everything else must be on the allowlist.
    let model = grant
        .model
        .as_ref()
        .and_then(|m| url_host_port(&m.upstream));
    if model.as_ref() == Some(dest) || egress::allowed(&dest.host, allow) {
        return Destination::Other;
    }
    let message = format!(
        "Axon gateway: egress to {} is not allowed for Task {}: its spec.network is restricted; \
         add \"{}\" (or \"*.<domain>\") to spec.network.allow to allow it",
        dest.host, grant.task, dest.host
    );
    gateway.task(&grant.task).count_denied();
    gateway.emit(GatewayEvent::EgressDenied {
        task: grant.task.clone(),
        host: dest.authority(),
    });
    let mut record = AuditRecord::new(RequestKind::Egress, method, &dest.authority(), path);
    record.status = StatusCode::FORBIDDEN.as_u16();
    record.duration_ms = millis(started);
    record.decision = Decision::Denied {
        reason: message.clone(),
    };
    gateway.audit(Some(&grant.task), &record);
    Destination::Denied(body::text(StatusCode::FORBIDDEN, message))
}

/// The host and port of an `http(s)://host[:port]/…` URL.
fn url_host_port(url: &str) -> Option<HostPort> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    egress::parse_authority(authority, Some(default_port)).ok()
}

/// Milliseconds since `started`.
pub(crate) fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(proxy_token(&h), None);
        let encoded = base64::engine::general_purpose::STANDARD.encode("axon:axon-gw-123");
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).expect("header"),
        );
        assert_eq!(proxy_token(&h).as_deref(), Some("axon-gw-123"));
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Bearer axon-gw-123"),
        );
        assert_eq!(proxy_token(&h), None);
        let empty = base64::engine::general_purpose::STANDARD.encode("axon:");
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_str(&format!("basic {empty}")).expect("header"),
        );
        assert_eq!(proxy_token(&h), None);
    }

    #[test]
    fn url_hosts() {
        let hp = |h: &str, p: u16| HostPort {
            host: h.into(),
            port: p,
        };
        assert_eq!(
            url_host_port("https://api.anthropic.com"),
            Some(hp("api.anthropic.com", 443))
        );
        assert_eq!(
            url_host_port("http://127.0.0.1:8080/v1"),
            Some(hp("127.0.0.1", 8080))
        );
        assert_eq!(url_host_port("nonsense"), None);
        assert_eq!(url_host_port("ftp://x"), None);
    }
}
