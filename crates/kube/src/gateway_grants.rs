//! The gateway's token lookup on Kubernetes ([`KubeGrants`], an [`axon_gateway::Grants`]).
//!
//! Why: the cluster's gateway holds no store of tokens. A token names its Task and carries an
//! HMAC under the gateway Secret's key ([`axon_core::gateway_token`]); the gateway checks the
//! MAC, then reads the live Task, its Workspace and the Secrets its plan routes through the
//! gateway ([`crate::gateway_grant::resolve_grant`], by RBAC) and turns them into the grant the
//! gateway serves with ([`task_grant`], pure). Grants are cached by token for a short time
//! ([`GRANT_TTL`]) so a model stream or a `git fetch` does not cost API calls per request; a
//! refusal is cached for even less ([`REFUSAL_TTL`]), so a Task that starts is served at once,
//! and a finished or deleted Task's token stops working within [`GRANT_TTL`].
//!
//! A restarted gateway continues a running Task's usage from `status.usage` (when it measured
//! it), so the budget spans the restart.

use crate::gateway_grant::{GrantError, TaskGrant as ResolvedGrant, resolve_grant};
use async_trait::async_trait;
use axon_core::gateway_plan::gateway_rules;
use axon_core::gateway_token::{TaskIdentity, TokenError, check_key, verify};
use axon_core::github_scope::github_grant_parts;
use axon_gateway::{Gateway, GitHubGrant, Grants, ModelRoute, Network, Secret, TaskGrant, TaskRef};
use kube::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// How long a grant is reused without reading the Task again.
pub const GRANT_TTL: Duration = Duration::from_secs(5);
/// How long a refusal is remembered (a burst of retries costs one API read).
pub const REFUSAL_TTL: Duration = Duration::from_secs(1);

/// Branches protected when the Workspace names no base branch: the gateway cannot tell the
/// repository's default branch, so it protects the usual ones.
pub const DEFAULT_BASE_GUESSES: [&str; 2] = ["main", "master"];

struct Cached {
    at: Instant,
    grant: Option<Arc<TaskGrant>>,
}

/// Gateway tokens resolved from the cluster.
pub struct KubeGrants {
    client: Client,
    key: Vec<u8>,
    ttl: Duration,
    refusal_ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
    gateway: OnceLock<Weak<Gateway>>,
}

impl std::fmt::Debug for KubeGrants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeGrants")
            .field("ttl", &self.ttl)
            .field("refusal_ttl", &self.refusal_ttl)
            .finish_non_exhaustive()
    }
}

impl KubeGrants {
    /// Grants verified with `key` (the gateway Secret's `token-key`) and read through `client`.
    pub fn new(client: Client, key: Vec<u8>) -> Result<KubeGrants, TokenError> {
        check_key(&key)?;
        Ok(KubeGrants {
            client,
            key,
            ttl: GRANT_TTL,
            refusal_ttl: REFUSAL_TTL,
            cache: Mutex::new(HashMap::new()),
            gateway: OnceLock::new(),
        })
    }

    /// Other cache lifetimes (tests).
    pub fn with_ttl(mut self, grant: Duration, refusal: Duration) -> KubeGrants {
        self.ttl = grant;
        self.refusal_ttl = refusal;
        self
    }

    /// The gateway these grants serve: a Task's recorded usage seeds its live state there.
    pub fn attach(&self, gateway: &Arc<Gateway>) {
        let _ = self.gateway.set(Arc::downgrade(gateway));
    }

    fn cached(&self, token: &str) -> Option<Option<Arc<TaskGrant>>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let c = cache.get(token)?;
        let ttl = if c.grant.is_some() {
            self.ttl
        } else {
            self.refusal_ttl
        };
        (c.at.elapsed() < ttl).then(|| c.grant.clone())
    }

    fn remember(&self, token: &str, grant: Option<Arc<TaskGrant>>) {
        let longest = self.ttl.max(self.refusal_ttl);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, c| c.at.elapsed() < longest);
        cache.insert(
            token.to_string(),
            Cached {
                at: Instant::now(),
                grant,
            },
        );
    }

    async fn resolve(&self, id: &TaskIdentity, token: &str) -> Option<Arc<TaskGrant>> {
        let task = format!("{}/{}", id.namespace, id.name);
        let resolved = match resolve_grant(&self.client, id).await {
            Ok(r) => r,
            Err(
                e @ (GrantError::TaskGone { .. }
                | GrantError::OtherTask { .. }
                | GrantError::NotActive { .. }),
            ) => {
                tracing::info!(task = %task, reason = %e, "gateway token refused");
                return None;
            }
            Err(e) => {
                tracing::warn!(task = %task, error = %e, "cannot grant the Task's gateway token");
                return None;
            }
        };
        let grant = match task_grant(&resolved, token) {
            Ok(g) => g,
            Err(reason) => {
                tracing::warn!(task = %task, reason = %reason, "cannot grant the Task's gateway token");
                return None;
            }
        };
        if let Some(gateway) = self.gateway.get().and_then(Weak::upgrade)
            && let Some(totals) = resolved
                .task
                .status
                .as_ref()
                .and_then(|s| s.usage.as_ref())
                .and_then(axon_core::task_status::recorded_totals)
            && gateway.seed_usage(&grant.task, totals)
        {
            tracing::info!(task = %task, "continuing the Task's usage from its status");
        }
        Some(Arc::new(grant))
    }
}

#[async_trait]
impl Grants for KubeGrants {
    async fn lookup(&self, token: &str) -> Option<Arc<TaskGrant>> {
        let id = match verify(&self.key, token) {
            Ok(id) => id,
            Err(e) => {
                tracing::debug!(reason = %e, "gateway token refused");
                return None;
            }
        };
        if let Some(hit) = self.cached(token) {
            return hit;
        }
        let grant = self.resolve(&id, token).await;
        self.remember(token, grant.clone());
        grant
    }
}

/// The base branch pushes to which are refused: the Workspace's `ref` when it names a branch
/// (not a commit), else the base the run recorded in status; `None` when neither is known.
pub fn base_branch(resolved: &ResolvedGrant) -> Option<String> {
    let from_ref = resolved
        .workspace
        .as_ref()
        .and_then(|w| w.spec.git_ref.as_deref())
        .map(|r| r.trim().trim_start_matches("refs/heads/"))
        .filter(|r| !r.is_empty() && !looks_like_commit(r) && !r.starts_with("refs/"));
    from_ref.map(str::to_string).or_else(|| {
        resolved
            .task
            .status
            .as_ref()
            .and_then(|s| s.outputs.as_ref())
            .and_then(|o| o.base_branch.clone())
            .filter(|b| !b.is_empty())
    })
}

fn looks_like_commit(r: &str) -> bool {
    (7..=64).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The gateway grant of a resolved Task (pure): model route (upstream and key), GitHub grant
/// (repository, token, base branch, protected branches), egress rule, budget, prices (shipped
/// and the Task's own `pricing`). The error says what is wrong with the Task, never a value.
pub fn task_grant(resolved: &ResolvedGrant, token: &str) -> Result<TaskGrant, String> {
    let meta = &resolved.task.metadata;
    let task = TaskRef {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
    };
    let rules = gateway_rules(&resolved.task.spec, &[])
        .map_err(|e| format!("its spec.pricing is refused: {e}"))?;
    let model = resolved
        .model_credential
        .as_ref()
        .map(|credential| ModelRoute {
            upstream: resolved.needs.model_upstream.clone(),
            credential: Secret::new(credential.expose()),
        });
    let github = resolved
        .needs
        .repo_url
        .as_deref()
        .and_then(github_grant_parts)
        .map(|parts| {
            let base = base_branch(resolved);
            let mut protected = rules.protected.clone();
            if base.is_none() {
                protected.extend(DEFAULT_BASE_GUESSES.iter().map(|b| b.to_string()));
            }
            GitHubGrant {
                scheme: parts.scheme,
                git_host: parts.git_host,
                api_base: parts.api_base,
                owner: parts.owner,
                repo: parts.repo,
                token: resolved
                    .github_token
                    .as_ref()
                    .map(|t| Secret::new(t.expose())),
                base_branch: base.unwrap_or_default(),
                protected,
            }
        });
    let network = match rules.restricted {
        Some(allow) => Network::Restricted { allow },
        None => Network::Open,
    };
    Ok(TaskGrant {
        task,
        token: Secret::new(token),
        model,
        github,
        network,
        budget: rules.budget,
        prices: rules.prices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway_grant::SecretValue;
    use axon_api::{Task, Workspace};
    use axon_core::gateway_plan::{GatewayNeeds, SecretKey};
    use serde_json::json;

    fn resolved(task_extra: serde_json::Value, git_ref: Option<&str>) -> ResolvedGrant {
        let mut spec = json!({"type": "claude-code", "prompt": "x",
            "credentials": {"type": "api-key", "secretRef": {"name": "k"}},
            "workspaceRef": {"name": "w"}});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), task_extra.as_object()) {
            s.extend(e.clone());
        }
        let task: Task = serde_json::from_value(json!({"apiVersion": "axon.io/v1alpha1",
            "kind": "Task", "metadata": {"name": "t", "namespace": "ns", "uid": "u1"},
            "spec": spec}))
        .expect("task");
        let mut ws = json!({"apiVersion": "axon.io/v1alpha1", "kind": "Workspace",
            "metadata": {"name": "w", "namespace": "ns"},
            "spec": {"repo": "https://github.com/acme/app.git", "secretRef": {"name": "gh"}}});
        if let Some(r) = git_ref {
            ws["spec"]["ref"] = json!(r);
        }
        let workspace: Workspace = serde_json::from_value(ws).expect("workspace");
        let sk = |s: &str, k: &str| SecretKey {
            secret: s.into(),
            key: k.into(),
        };
        ResolvedGrant {
            task,
            workspace: Some(workspace),
            needs: GatewayNeeds {
                model_upstream: "http://127.0.0.1:9".into(),
                model_credential: Some(sk("k", "ANTHROPIC_API_KEY")),
                repo_url: Some("https://github.com/acme/app.git".into()),
                github_token: Some(sk("gh", "GITHUB_TOKEN")),
            },
            model_credential: Some(SecretValue::new("sk-real")),
            github_token: Some(SecretValue::new("ghp-real")),
        }
    }

    #[test]
    fn the_grant_holds_the_tasks_credentials_and_rules() {
        let r = resolved(
            json!({"budget": {"maxTurns": 3, "maxCostUSD": 1.5},
                "network": {"mode": "restricted", "allow": ["pypi.org"]},
                "policy": {"protectedBranches": ["release/*"]},
                "pricing": [{"model": "my-model", "inputPerMTok": 1.0, "outputPerMTok": 2.0}]}),
            Some("develop"),
        );
        let g = task_grant(&r, "axgw1.tok").expect("grant");
        assert_eq!(g.task.to_string(), "ns/t");
        assert_eq!(g.task.uid, "u1");
        assert_eq!(g.token.expose(), "axgw1.tok");
        let model = g.model.as_ref().expect("model");
        assert_eq!(model.upstream, "http://127.0.0.1:9");
        assert_eq!(model.credential.expose(), "sk-real");
        let gh = g.github.as_ref().expect("github");
        assert_eq!((gh.owner.as_str(), gh.repo.as_str()), ("acme", "app"));
        assert_eq!(gh.api_base.as_deref(), Some("https://api.github.com"));
        assert_eq!(gh.token.as_ref().map(Secret::expose), Some("ghp-real"));
        assert_eq!(gh.base_branch, "develop");
        assert_eq!(gh.protected, vec!["release/*".to_string()]);
        assert_eq!(
            g.network,
            Network::Restricted {
                allow: vec!["pypi.org".into()]
            }
        );
        assert_eq!(g.budget.max_turns, Some(3));
        assert_eq!(g.budget.max_cost_usd, Some(1.5));
        assert!(
            g.prices.price("my-model").is_some(),
            "the Task's own prices"
        );
        assert!(!format!("{g:?}").contains("sk-real"));
    }

    #[test]
    fn an_unknown_base_branch_protects_the_usual_defaults() {
        for git_ref in [None, Some("0123456789abcdef0123456789abcdef01234567")] {
            let g = task_grant(&resolved(json!({}), git_ref), "t").expect("grant");
            let gh = g.github.expect("github");
            assert_eq!(gh.base_branch, "", "{git_ref:?}");
            assert_eq!(gh.protected, vec!["main".to_string(), "master".to_string()]);
        }
        let mut r = resolved(json!({}), None);
        r.task.status = Some(
            serde_json::from_value(json!({"outputs": {"baseBranch": "trunk"}})).expect("status"),
        );
        let gh = task_grant(&r, "t").expect("grant").github.expect("github");
        assert_eq!(gh.base_branch, "trunk");
        assert!(gh.protected.is_empty());
        let g = task_grant(&resolved(json!({}), Some("refs/heads/dev")), "t").expect("grant");
        assert_eq!(g.github.expect("github").base_branch, "dev");
        let g = task_grant(&resolved(json!({}), None), "t").expect("grant");
        assert_eq!(g.network, Network::Open);
    }
}
