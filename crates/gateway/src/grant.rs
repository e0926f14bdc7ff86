//! What a Task may do through the gateway, keyed by its gateway token.
//!
//! Why: the gateway holds every credential an agent would otherwise hold. A [`TaskGrant`] is
//! the whole of what one Task is granted — its model upstream and key, its repository and
//! GitHub token, its network rule, its budget and prices — and the gateway token is the only
//! thing the agent holds to claim it. [`Grants`] resolves a token to its grant: in memory for
//! the local backend and tests ([`StaticGrants`]), from the cluster for Kubernetes (later).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde::Serialize;

use crate::metering::{BudgetLimits, PriceTable};

/// The prefix of every gateway token, so one is recognisable in a leak report.
pub const TOKEN_PREFIX: &str = "axon-gw-";

/// The Task a grant belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRef {
    /// Namespace of the Task.
    pub namespace: String,
    /// Name of the Task.
    pub name: String,
    /// UID of the Task (the key of its live state).
    pub uid: String,
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A credential: never printed, never serialised. Read it with [`Secret::expose`] only where it
/// is sent upstream.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a Task's model calls go and with which key.
#[derive(Debug, Clone)]
pub struct ModelRoute {
    /// Base URL of the upstream API (`https://api.anthropic.com`, or the Task's
    /// `modelBaseURL`); the request path is appended to it.
    pub upstream: String,
    /// The real credential, put where the agent put its gateway token.
    pub credential: Secret,
}

/// The Workspace repository a Task may reach on GitHub (or a git host), and with which token.
#[derive(Debug, Clone)]
pub struct GitHubGrant {
    /// `https` or `http`.
    pub scheme: String,
    /// Host of the git remote, with the port when not the scheme's default (`github.com`).
    pub git_host: String,
    /// REST API base (`https://api.github.com`, `https://ghe.example/api/v3`); `None` when the
    /// host has no API (a plain git server).
    pub api_base: Option<String>,
    /// Repository owner.
    pub owner: String,
    /// Repository name (without `.git`).
    pub repo: String,
    /// The real token; `None` for a repository reached anonymously.
    pub token: Option<Secret>,
    /// The Workspace's base branch (pushes to it are refused).
    pub base_branch: String,
    /// `spec.policy.protectedBranches` globs (pushes to a match are refused).
    pub protected: Vec<String>,
}

/// Which destinations an agent may reach through the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Network {
    /// Any destination (today's behaviour).
    #[default]
    Open,
    /// Only these domains (`example.com`, `*.example.com`), plus the model upstream and the
    /// GitHub hosts.
    Restricted {
        /// Allowed domains.
        allow: Vec<String>,
    },
}

/// Everything one Task is granted.
#[derive(Debug, Clone)]
pub struct TaskGrant {
    /// The Task.
    pub task: TaskRef,
    /// The gateway token the agent holds.
    pub token: Secret,
    /// Model upstream and key; `None`: model calls are refused.
    pub model: Option<ModelRoute>,
    /// Repository on GitHub or a git host; `None`: GitHub calls go anonymously.
    pub github: Option<GitHubGrant>,
    /// Egress rule.
    pub network: Network,
    /// Budget (`spec.budget`).
    pub budget: BudgetLimits,
    /// Prices per model for the cost figure.
    pub prices: PriceTable,
}

/// Resolves a gateway token to its grant.
#[async_trait]
pub trait Grants: Send + Sync + 'static {
    /// The grant of `token`, if the token is known and its Task is running.
    async fn lookup(&self, token: &str) -> Option<Arc<TaskGrant>>;
}

/// Grants held in memory: the local backend adds a Task's grant when it starts and removes it
/// when it ends.
#[derive(Debug, Default)]
pub struct StaticGrants {
    by_token: RwLock<HashMap<String, Arc<TaskGrant>>>,
}

impl StaticGrants {
    /// No grants.
    pub fn new() -> StaticGrants {
        StaticGrants::default()
    }

    /// Adds (or replaces) the grant of `grant.token`.
    pub fn add(&self, grant: TaskGrant) -> Arc<TaskGrant> {
        let grant = Arc::new(grant);
        write(&self.by_token).insert(grant.token.expose().to_string(), grant.clone());
        grant
    }

    /// Removes the grant of `token` (its agent's next request is refused).
    pub fn remove(&self, token: &str) -> Option<Arc<TaskGrant>> {
        write(&self.by_token).remove(token)
    }

    /// Removes every grant of the Task with this UID.
    pub fn remove_task(&self, uid: &str) {
        write(&self.by_token).retain(|_, g| g.task.uid != uid);
    }
}

#[async_trait]
impl Grants for StaticGrants {
    async fn lookup(&self, token: &str) -> Option<Arc<TaskGrant>> {
        self.by_token
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw a gateway token from the operating system's random source: {0}")]
pub struct TokenError(String);

/// A fresh gateway token: 32 random bytes from the OS, hex, prefixed [`TOKEN_PREFIX`].
pub fn new_token() -> Result<Secret, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError(e.to_string()))?;
    let mut out = String::with_capacity(TOKEN_PREFIX.len() + 64);
    out.push_str(TOKEN_PREFIX);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    Ok(Secret(out))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("sk-real");
        assert_eq!(format!("{s}"), "<redacted>");
        assert!(!format!("{s:?}").contains("sk-real"));
        let route = ModelRoute {
            upstream: "https://api.example".into(),
            credential: s.clone(),
        };
        assert!(!format!("{route:?}").contains("sk-real"));
        assert_eq!(s.expose(), "sk-real");
    }

    #[test]
    fn tokens_are_prefixed_hex_and_distinct() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_ne!(a, b);
        let hex = a.expose().strip_prefix(TOKEN_PREFIX).expect("prefix");
        assert_eq!(hex.len(), 64);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[tokio::test]
    async fn static_grants_add_lookup_remove() {
        let grants = StaticGrants::new();
        let token = new_token().expect("token");
        grants.add(TaskGrant {
            task: TaskRef {
                namespace: "default".into(),
                name: "t".into(),
                uid: "u1".into(),
            },
            token: token.clone(),
            model: None,
            github: None,
            network: Network::Open,
            budget: BudgetLimits::default(),
            prices: PriceTable::default(),
        });
        let found = grants.lookup(token.expose()).await.expect("known");
        assert_eq!(found.task.uid, "u1");
        assert!(grants.lookup("axon-gw-other").await.is_none());
        grants.remove_task("u1");
        assert!(grants.lookup(token.expose()).await.is_none());
    }
}
