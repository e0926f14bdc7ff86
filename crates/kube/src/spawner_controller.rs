//! The TaskSpawner controller: check the spec's rules the CRD cannot express (a bad cron
//! expression: phase Failed, `SpecValid=False`, no Deployment), apply the spawner's
//! ServiceAccount, Role, RoleBinding and Deployment (server-side apply, owned by the
//! TaskSpawner), and report `deploymentName` and the Deployment's phase. The spawner process writes its own counters; this never overwrites
//! a phase the spawner set while its Deployment is available.

use crate::error::KubeError;
use crate::metrics::Metrics;
use crate::names::CONTROLLER_FIELD_MANAGER;
use crate::spawner_deployment::{
    invalid_spec_patch, render_spawner, spawner_phase, spec_problem, without_spec_condition,
};
use axon_api::{TaskSpawner, TaskSpawnerPhase, Workspace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Client, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the TaskSpawner controller needs.
pub struct SpawnerContext {
    pub client: Client,
    /// The `axon` image the spawner Deployments run.
    pub image: String,
    pub metrics: Arc<Metrics>,
}

async fn apply<K>(client: &Client, ns: &str, obj: &K) -> Result<K, KubeError>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let name = obj.meta().name.clone().unwrap_or_default();
    let pp = PatchParams::apply(CONTROLLER_FIELD_MANAGER).force();
    api.patch(&name, &pp, &Patch::Apply(obj))
        .await
        .map_err(|e| KubeError::api(format!("apply {} {ns}/{name}", K::kind(&())), e))
}

/// Reconcile one TaskSpawner (records duration and errors in the metrics).
pub async fn reconcile(
    ts: Arc<TaskSpawner>,
    ctx: Arc<SpawnerContext>,
) -> Result<Action, KubeError> {
    let start = Instant::now();
    let result = reconcile_spawner(&ts, &ctx).await;
    ctx.metrics
        .reconciled("taskspawner", start.elapsed(), result.is_err());
    result
}

/// What to do after a failed reconcile: log and retry soon.
pub fn error_policy(ts: Arc<TaskSpawner>, err: &KubeError, _ctx: Arc<SpawnerContext>) -> Action {
    tracing::warn!(taskspawner = %ts.name_any(), error = %err, "reconcile failed");
    Action::requeue(Duration::from_secs(15))
}

async fn reconcile_spawner(ts: &TaskSpawner, ctx: &SpawnerContext) -> Result<Action, KubeError> {
    let ns = ts.namespace().unwrap_or_default();
    let name = ts.name_any();
    let current = ts.status.clone().unwrap_or_default();
    let api: Api<TaskSpawner> = Api::namespaced(ctx.client.clone(), &ns);
    if let Some(problem) = spec_problem(ts) {
        let now = jiff::Timestamp::now().to_string();
        if let Some(body) = invalid_spec_patch(&current, &problem, ts.metadata.generation, &now) {
            tracing::info!(taskspawner = %name, namespace = %ns, problem = %problem, "invalid spec");
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
                .await
                .map_err(|e| {
                    KubeError::api(format!("update status of TaskSpawner {ns}/{name}"), e)
                })?;
        }
        // A change of the spec triggers the next reconcile.
        return Ok(Action::await_change());
    }
    let spec_fixed = without_spec_condition(&current);
    let secret = match &ts.spec.task_template.workspace_ref {
        Some(r) => Api::<Workspace>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|e| KubeError::api(format!("get Workspace {ns}/{}", r.name), e))?
            .and_then(|w| w.spec.secret_ref.map(|s| s.name)),
        None => None,
    };
    let objs = render_spawner(ts, secret.as_deref(), &ctx.image);
    apply::<ServiceAccount>(&ctx.client, &ns, &objs.service_account).await?;
    apply::<Role>(&ctx.client, &ns, &objs.role).await?;
    apply::<RoleBinding>(&ctx.client, &ns, &objs.role_binding).await?;
    let deployment = apply::<Deployment>(&ctx.client, &ns, &objs.deployment).await?;
    let deployment_name = deployment.metadata.name.clone().unwrap_or_default();
    let (phase, message) = spawner_phase(Some(&deployment));
    let mut patch = serde_json::Map::new();
    if current.deployment_name.as_deref() != Some(deployment_name.as_str()) {
        patch.insert("deploymentName".into(), deployment_name.into());
    }
    // While the Deployment is available, the spawner owns its phase (it may be Failed for a
    // template error); otherwise the Deployment's state is the news.
    if let Some(conditions) = &spec_fixed {
        patch.insert(
            "conditions".into(),
            serde_json::to_value(conditions).unwrap_or_default(),
        );
    }
    let set_phase = spec_fixed.is_some()
        || match phase {
            TaskSpawnerPhase::Running => {
                matches!(current.phase, None | Some(TaskSpawnerPhase::Pending))
            }
            _ => current.phase != Some(phase) || current.message != message,
        };
    if set_phase {
        patch.insert(
            "phase".into(),
            serde_json::to_value(phase).unwrap_or_default(),
        );
        match &message {
            Some(m) => {
                patch.insert("message".into(), m.clone().into());
            }
            // The invalid-spec message is stale once the spec is fixed.
            None if spec_fixed.is_some() => {
                patch.insert("message".into(), serde_json::Value::Null);
            }
            None => {}
        }
    }
    if !patch.is_empty() {
        let body = serde_json::json!({ "status": patch });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
            .await
            .map_err(|e| KubeError::api(format!("update status of TaskSpawner {ns}/{name}"), e))?;
    }
    Ok(if phase == TaskSpawnerPhase::Running {
        Action::requeue(Duration::from_secs(300))
    } else {
        Action::requeue(Duration::from_secs(10))
    })
}
