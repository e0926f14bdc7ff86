//! What the gateway holds for a request on Kubernetes, found from the request's token alone:
//! the token's Task (verified by [`axon_core::gateway_token::verify`]) is read from the API,
//! must be the same object the token was minted for (its uid) and still active (not finished,
//! not being deleted), and the values of the Secrets its plan routes through the gateway are
//! read by name (`get`, never `list`: the gateway's ClusterRole). The plan is the one the
//! controller routed: the Task with its Workspace and AgentConfig, through
//! [`axon_core::gateway_plan::route_through_gateway`], so both sides agree on what the gateway
//! injects. A Task is active from its Job's creation (its `prepare` container clones through
//! the gateway while the Task is still Pending) to its end.
//!
//! Nothing is cached here: the caller decides how long a grant may be reused.

use crate::error::KubeError;
use axon_api::{Task, Workspace};
use axon_core::gateway_plan::{GatewayNeeds, SecretKey, route_through_gateway};
use axon_core::gateway_token::TaskIdentity;
use axon_core::plan::plan_run;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use thiserror::Error;

/// A secret value; `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps `value` (read from a Secret).
    pub fn new(value: impl Into<String>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The value, to put in the forwarded request only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What the gateway holds for a Task while it runs.
#[derive(Clone, Debug)]
pub struct TaskGrant {
    /// The Task as read now (its spec: agent type, `network`, `budget`, `policy`, ...).
    pub task: Task,
    /// Its Workspace, when it has one and it exists (repository, base ref).
    pub workspace: Option<Workspace>,
    /// What the gateway must hold: upstream, repository, which Secrets.
    pub needs: GatewayNeeds,
    /// The value of `needs.model_credential`.
    pub model_credential: Option<SecretValue>,
    /// The value of `needs.github_token`.
    pub github_token: Option<SecretValue>,
}

/// Why a token gets no grant. [`GrantError::status`] is the HTTP status to answer with.
#[derive(Debug, Error)]
pub enum GrantError {
    #[error("Task {namespace}/{name} does not exist (any more)")]
    TaskGone { namespace: String, name: String },
    #[error(
        "Task {namespace}/{name} was recreated since this gateway token was issued (another uid)"
    )]
    OtherTask { namespace: String, name: String },
    #[error("Task {namespace}/{name} is {state}: its gateway token is no longer valid")]
    NotActive {
        namespace: String,
        name: String,
        state: String,
    },
    #[error("Task {namespace}/{name} cannot be planned: {reason}")]
    Plan {
        namespace: String,
        name: String,
        reason: String,
    },
    #[error("Task {namespace}/{name}: {reason}")]
    Secret {
        namespace: String,
        name: String,
        reason: String,
    },
    #[error(transparent)]
    Api(#[from] KubeError),
}

impl GrantError {
    /// 403 for a token that no longer grants anything (Task gone, recreated, finished), 502
    /// for a Task whose references or Secrets are broken or an API that fails.
    pub fn status(&self) -> u16 {
        match self {
            GrantError::TaskGone { .. }
            | GrantError::OtherTask { .. }
            | GrantError::NotActive { .. } => 403,
            GrantError::Plan { .. } | GrantError::Secret { .. } | GrantError::Api(_) => 502,
        }
    }
}

/// Whether `task` is the live Task `id` names (pure).
pub fn check_task(task: &Task, id: &TaskIdentity) -> Result<(), GrantError> {
    let (namespace, name) = (id.namespace.clone(), id.name.clone());
    if task.metadata.uid.as_deref() != Some(id.uid.as_str()) {
        return Err(GrantError::OtherTask { namespace, name });
    }
    if task.metadata.deletion_timestamp.is_some() {
        return Err(GrantError::NotActive {
            namespace,
            name,
            state: "being deleted".into(),
        });
    }
    if let Some(phase) = task
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .filter(|p| p.is_finished())
    {
        return Err(GrantError::NotActive {
            namespace,
            name,
            state: phase.as_str().into(),
        });
    }
    Ok(())
}

/// The value of `key` in `secret` (pure): UTF-8, surrounding whitespace (a trailing newline
/// from `--from-file`) removed, not empty. The error names the key, never the value.
pub fn secret_value(secret: &Secret, key: &str) -> Result<SecretValue, String> {
    let name = secret.metadata.name.as_deref().unwrap_or_default();
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.clone().into_bytes())
        })
        .ok_or_else(|| format!("Secret {name:?} has no key {key:?}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("key {key:?} of Secret {name:?} is not UTF-8 text"))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("key {key:?} of Secret {name:?} is empty"));
    }
    Ok(SecretValue(text.to_string()))
}

async fn read(
    secrets: &Api<Secret>,
    id: &TaskIdentity,
    sk: &SecretKey,
) -> Result<SecretValue, GrantError> {
    let secret = secrets
        .get_opt(&sk.secret)
        .await
        .map_err(|e| KubeError::api(format!("get Secret {}/{}", id.namespace, sk.secret), e))?
        .ok_or_else(|| GrantError::Secret {
            namespace: id.namespace.clone(),
            name: id.name.clone(),
            reason: format!("Secret {:?} does not exist", sk.secret),
        })?;
    secret_value(&secret, &sk.key).map_err(|reason| GrantError::Secret {
        namespace: id.namespace.clone(),
        name: id.name.clone(),
        reason,
    })
}

/// The grant of a verified token's Task: the Task (live, same uid), its plan's gateway needs
/// and the values of the Secrets they name.
pub async fn resolve_grant(client: &Client, id: &TaskIdentity) -> Result<TaskGrant, GrantError> {
    let ns = id.namespace.as_str();
    let task = Api::<Task>::namespaced(client.clone(), ns)
        .get_opt(&id.name)
        .await
        .map_err(|e| KubeError::api(format!("get Task {ns}/{}", id.name), e))?
        .ok_or_else(|| GrantError::TaskGone {
            namespace: id.namespace.clone(),
            name: id.name.clone(),
        })?;
    check_task(&task, id)?;
    let workspace = match &task.spec.workspace_ref {
        Some(r) => Api::<Workspace>::namespaced(client.clone(), ns)
            .get_opt(&r.name)
            .await
            .map_err(|e| KubeError::api(format!("get Workspace {ns}/{}", r.name), e))?,
        None => None,
    };
    // AgentConfigs add files, never a Secret: one that is gone since does not matter.
    let found = crate::task_controller::agent_configs(client, ns, &task.spec)
        .await
        .unwrap_or_default();
    let agent_config = (!task.spec.agent_config_names().is_empty())
        .then(|| axon_core::agent_configs::merge(&found.iter().collect::<Vec<_>>()));
    let plan_error = |reason: String| GrantError::Plan {
        namespace: id.namespace.clone(),
        name: id.name.clone(),
        reason,
    };
    let mut plan = plan_run(&task, workspace.as_ref(), agent_config.as_ref())
        .map_err(|e| plan_error(e.to_string()))?;
    let needs = route_through_gateway(&mut plan).map_err(|e| plan_error(e.to_string()))?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let model_credential = match &needs.model_credential {
        Some(sk) => Some(read(&secrets, id, sk).await?),
        None => None,
    };
    let github_token = match &needs.github_token {
        Some(sk) => Some(read(&secrets, id, sk).await?),
        None => None,
    };
    Ok(TaskGrant {
        task,
        workspace,
        needs,
        model_credential,
        github_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use serde_json::json;

    fn task(uid: &str, phase: Option<&str>, deleting: bool) -> Task {
        let mut t = json!({"apiVersion": "axon.io/v1alpha1", "kind": "Task",
            "metadata": {"name": "t", "namespace": "ns", "uid": uid},
            "spec": {"type": "codex", "prompt": "x",
                "credentials": {"type": "api-key", "secretRef": {"name": "k"}}}});
        if let Some(p) = phase {
            t["status"] = json!({"phase": p});
        }
        if deleting {
            t["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        serde_json::from_value(t).expect("task")
    }

    fn id(uid: &str) -> TaskIdentity {
        TaskIdentity {
            namespace: "ns".into(),
            name: "t".into(),
            uid: uid.into(),
        }
    }

    #[test]
    fn only_the_live_task_of_the_token_is_granted() {
        assert!(check_task(&task("u1", None, false), &id("u1")).is_ok());
        assert!(check_task(&task("u1", Some("Pending"), false), &id("u1")).is_ok());
        assert!(check_task(&task("u1", Some("Running"), false), &id("u1")).is_ok());
        let e = check_task(&task("u2", Some("Running"), false), &id("u1")).expect_err("uid");
        assert!(matches!(e, GrantError::OtherTask { .. }), "{e}");
        assert_eq!(e.status(), 403);
        for phase in ["Succeeded", "Failed", "Cancelled"] {
            let e = check_task(&task("u1", Some(phase), false), &id("u1")).expect_err(phase);
            assert!(e.to_string().contains(phase), "{e}");
            assert_eq!(e.status(), 403);
        }
        let e = check_task(&task("u1", Some("Running"), true), &id("u1")).expect_err("deleting");
        assert!(e.to_string().contains("being deleted"), "{e}");
    }

    #[test]
    fn secret_values_are_trimmed_and_never_shown() {
        let s: Secret = serde_json::from_value(json!({"metadata": {"name": "k"}})).expect("s");
        let mut s = s;
        s.data = Some(
            [
                (
                    "OPENAI_API_KEY".to_string(),
                    ByteString(b"sk-123\n".to_vec()),
                ),
                ("EMPTY".to_string(), ByteString(b" \n".to_vec())),
                ("BIN".to_string(), ByteString(vec![0xff, 0xfe])),
            ]
            .into(),
        );
        let v = secret_value(&s, "OPENAI_API_KEY").expect("value");
        assert_eq!(v.expose(), "sk-123");
        assert_eq!(format!("{v:?}"), "<redacted>");
        assert!(
            secret_value(&s, "EMPTY")
                .expect_err("empty")
                .contains("empty")
        );
        let e = secret_value(&s, "BIN").expect_err("binary");
        assert!(e.contains("not UTF-8"), "{e}");
        let e = secret_value(&s, "MISSING").expect_err("missing");
        assert!(e.contains("no key \"MISSING\""), "{e}");
    }
}
