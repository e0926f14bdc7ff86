//! `axon install` / `axon uninstall`: server-side apply of the install manifests (the
//! gateway's Secret created once, when absent, with fresh material: never rotated by a
//! re-install), then wait until the CRDs are Established and (bounded, optional) the
//! controller Deployment is available; uninstall removes the controller and the gateway, the
//! CRDs (and with them every Axon resource), the Secrets Axon created (`axon create secret`
//! and the gateway's, labelled managed-by axon), the gateway CA ConfigMaps and restricted
//! NetworkPolicies the controller put in Task namespaces, RBAC and the namespace, and reports
//! what it removed. What a timeout says is decided by a pure function
//! ([`controller_wait_problem`]).

use crate::backend::KubeBackend;
use crate::error::{KubeError, is_not_found};
use crate::manifests::install_manifests;
use crate::names::{
    CLI_FIELD_MANAGER, CONTROLLER_NAME, GATEWAY_NAME, LABEL_COMPONENT, LABEL_MANAGED_BY,
    LABEL_NAME, LABEL_TASK, SYSTEM_NAMESPACE,
};
use axon_api::{AgentConfig, Task, TaskSpawner, Workspace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::Value;
use std::time::Duration;

/// How long install waits for each CRD to be Established.
const CRD_WAIT: Duration = Duration::from_secs(60);
/// How long install waits for a terminating `axon-system` to be gone.
const NAMESPACE_WAIT: Duration = Duration::from_secs(120);
/// How long install waits for the controller by default (`--wait-timeout`).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(180);

/// The API resource of an install document, and whether it is namespaced.
fn api_resource(doc: &Value) -> Option<(ApiResource, bool)> {
    let api_version = doc["apiVersion"].as_str()?;
    let kind = doc["kind"].as_str()?;
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let (plural, namespaced) = match kind {
        "CustomResourceDefinition" => ("customresourcedefinitions", false),
        "Namespace" => ("namespaces", false),
        "ServiceAccount" => ("serviceaccounts", true),
        "ClusterRole" => ("clusterroles", false),
        "ClusterRoleBinding" => ("clusterrolebindings", false),
        "Role" => ("roles", true),
        "RoleBinding" => ("rolebindings", true),
        "Deployment" => ("deployments", true),
        "Service" => ("services", true),
        _ => return None,
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Some((ApiResource::from_gvk_with_plural(&gvk, plural), namespaced))
}

fn describe(doc: &Value) -> String {
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    let name = match doc["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    format!("{} {name}", doc["kind"].as_str().unwrap_or_default())
}

/// How many items a list call returned (`None` when it failed: the type is not installed).
fn len<T: Clone>(list: Result<kube::core::ObjectList<T>, kube::Error>) -> Option<usize> {
    list.ok().map(|l| l.items.len())
}

/// `n thing(s)`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Why the controller Deployment is not available yet, from it and its Pods (pure): what a
/// timed-out `axon install` says it waited for.
pub fn controller_wait_problem(deployment: Option<&Deployment>, pods: &[Pod]) -> String {
    let Some(d) = deployment else {
        return "the Deployment does not exist".into();
    };
    let status = d.status.as_ref();
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    let wanted = d.spec.replicas.unwrap_or(1);
    let mut out = format!("{available} of {wanted} replicas available");
    if pods.is_empty() {
        out.push_str("; no Pod yet (kubectl -n axon-system get events)");
        return out;
    }
    for p in pods {
        let name = p.metadata.name.as_deref().unwrap_or_default();
        let st = p.status.as_ref();
        let phase = st.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
        let waiting = st
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
            .find_map(|c| c.state.as_ref()?.waiting.as_ref());
        let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
        let detail = if let Some(w) = waiting.filter(|w| w.reason.is_some()) {
            format!(
                "{phase}, container waiting: {}{}",
                w.reason.as_deref().unwrap_or_default(),
                w.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )
        } else if !scheduled {
            format!(
                "{phase}, not scheduled to a node (is there a Ready node and a scheduler? kubectl get nodes)"
            )
        } else if phase == "Running" {
            "Running but not ready (/readyz)".to_string()
        } else {
            phase.to_string()
        };
        out.push_str(&format!("; Pod {name}: {detail}"));
    }
    out
}

/// What `axon uninstall` removed (and, when it could not, what it left), one line each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UninstallReport {
    /// Objects deleted (`Kind namespace/name`), and the Axon resources that went with the CRDs.
    pub removed: Vec<String>,
    /// The Secrets `axon create secret` made (`namespace/name`), deleted.
    pub secrets: Vec<String>,
    /// What could not be removed, with the command that removes it.
    pub left: Vec<String>,
}

impl KubeBackend {
    fn dynamic(&self, doc: &Value) -> Option<Api<DynamicObject>> {
        let (ar, namespaced) = api_resource(doc)?;
        Some(if namespaced {
            let ns = doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or(SYSTEM_NAMESPACE);
            Api::namespaced_with(self.client.clone(), ns, &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        })
    }

    /// Install (or upgrade) Axon with `image` at `version`; `progress` hears each step. Waits
    /// for the CRDs to be Established, then up to `wait` for the controller to be available
    /// (`None`: not at all).
    pub async fn install(
        &self,
        image: &str,
        version: &str,
        wait: Option<Duration>,
        mut progress: impl FnMut(&str),
    ) -> Result<(), KubeError> {
        self.wait_for_namespace_deletion(&mut progress).await?;
        let docs = install_manifests(image, version);
        let pp = PatchParams::apply(CLI_FIELD_MANAGER).force();
        for doc in &docs {
            let what = describe(doc);
            let Some(api) = self.dynamic(doc) else {
                continue;
            };
            let name = doc["metadata"]["name"].as_str().unwrap_or_default();
            api.patch(name, &pp, &Patch::Apply(doc))
                .await
                .map_err(|e| KubeError::api(format!("apply {what}"), e))?;
            progress(&format!("applied {what}"));
            if doc["kind"] == "Namespace" {
                // Before the gateway's Deployment, which mounts it.
                let secret = format!("Secret {SYSTEM_NAMESPACE}/{GATEWAY_NAME}");
                if crate::gateway_secret::ensure_secret(&self.client).await? {
                    progress(&format!(
                        "created {secret} (the gateway's token key and CA, generated now)"
                    ));
                } else {
                    progress(&format!(
                        "kept {secret} (the gateway's token key and CA are never rotated by a re-install)"
                    ));
                }
            }
        }
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        for crd in axon_api::crd::crds() {
            let name = crd.metadata.name.clone().unwrap_or_default();
            progress(&format!("waiting for CRD {name} to be established"));
            tokio::time::timeout(
                CRD_WAIT,
                await_condition(crds.clone(), &name, conditions::is_crd_established()),
            )
            .await
            .map_err(|_| KubeError::Timeout {
                what: format!("CRD {name} to be established (kubectl describe crd {name})"),
                seconds: CRD_WAIT.as_secs(),
            })?
            .map_err(|e| KubeError::Api {
                what: format!("watch CRD {name}"),
                reason: e.to_string(),
            })?;
        }
        let Some(wait) = wait.filter(|w| !w.is_zero()) else {
            progress(&format!(
                "not waiting for Deployment {SYSTEM_NAMESPACE}/{CONTROLLER_NAME} (kubectl -n {SYSTEM_NAMESPACE} rollout status deployment {CONTROLLER_NAME})"
            ));
            progress("Axon is installed");
            return Ok(());
        };
        progress(&format!(
            "waiting up to {}s for Deployment {SYSTEM_NAMESPACE}/{CONTROLLER_NAME} to have an available replica (its Pod scheduled, image {image} pulled, /readyz answering)",
            wait.as_secs()
        ));
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), SYSTEM_NAMESPACE);
        let available = |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.available_replicas)
                .unwrap_or(0)
                >= 1
        };
        let waited = tokio::time::timeout(
            wait,
            await_condition(deployments.clone(), CONTROLLER_NAME, available),
        )
        .await;
        match waited {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(KubeError::Api {
                    what: "watch the controller Deployment".into(),
                    reason: e.to_string(),
                });
            }
            Err(_) => {
                let problem = self.controller_problem(&deployments).await;
                return Err(KubeError::Timeout {
                    what: format!(
                        "Deployment {SYSTEM_NAMESPACE}/{CONTROLLER_NAME} to have an available replica: {problem}. The CRDs, namespace and RBAC are applied; `axon install --wait-timeout 0` does not wait, kubectl -n {SYSTEM_NAMESPACE} describe deployment {CONTROLLER_NAME} says more"
                    ),
                    seconds: wait.as_secs(),
                });
            }
        }
        progress("Axon is installed");
        Ok(())
    }

    /// A namespace left terminating by an uninstall takes nothing new: wait until it is gone.
    async fn wait_for_namespace_deletion(
        &self,
        progress: &mut impl FnMut(&str),
    ) -> Result<(), KubeError> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns = namespaces
            .get_opt(SYSTEM_NAMESPACE)
            .await
            .map_err(|e| KubeError::api(format!("get Namespace {SYSTEM_NAMESPACE}"), e))?;
        let Some(uid) = ns
            .filter(|n| n.metadata.deletion_timestamp.is_some())
            .and_then(|n| n.metadata.uid)
        else {
            return Ok(());
        };
        progress(&format!(
            "waiting for Namespace {SYSTEM_NAMESPACE} to finish terminating (an earlier uninstall)"
        ));
        tokio::time::timeout(
            NAMESPACE_WAIT,
            await_condition(namespaces, SYSTEM_NAMESPACE, conditions::is_deleted(&uid)),
        )
        .await
        .map_err(|_| KubeError::Timeout {
            what: format!(
                "Namespace {SYSTEM_NAMESPACE} to finish terminating (kubectl get namespace {SYSTEM_NAMESPACE} -o yaml shows what it waits for)"
            ),
            seconds: NAMESPACE_WAIT.as_secs(),
        })?
        .map_err(|e| KubeError::Api {
            what: format!("watch Namespace {SYSTEM_NAMESPACE}"),
            reason: e.to_string(),
        })?;
        Ok(())
    }

    /// Why the controller is not available, best effort (an error reads as unknown).
    async fn controller_problem(&self, deployments: &Api<Deployment>) -> String {
        let deployment = deployments.get_opt(CONTROLLER_NAME).await.ok().flatten();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), SYSTEM_NAMESPACE);
        let selector = format!("{LABEL_NAME}=axon,{LABEL_COMPONENT}=controller");
        let pods = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        controller_wait_problem(deployment.as_ref(), &pods)
    }

    /// How many of each Axon resource exist in the cluster (all namespaces), as "2 Tasks",
    /// skipping zeros; empty when the CRDs are not installed.
    async fn axon_resources(&self) -> Vec<String> {
        let lp = ListParams::default();
        let c = self.client.clone();
        let counts = [
            (
                len(Api::<Task>::all(c.clone()).list_metadata(&lp).await),
                "Task",
            ),
            (
                len(Api::<Workspace>::all(c.clone()).list_metadata(&lp).await),
                "Workspace",
            ),
            (
                len(Api::<AgentConfig>::all(c.clone()).list_metadata(&lp).await),
                "AgentConfig",
            ),
            (
                len(Api::<TaskSpawner>::all(c).list_metadata(&lp).await),
                "TaskSpawner",
            ),
        ];
        counts
            .into_iter()
            .filter_map(|(n, kind)| n.filter(|n| *n > 0).map(|n| count(n, kind)))
            .collect()
    }

    /// Delete the Secrets Axon created (`axon create secret` labels them managed-by axon), in
    /// every namespace. Only their metadata is read.
    async fn delete_axon_secrets(
        &self,
        report: &mut UninstallReport,
        progress: &mut impl FnMut(&str),
    ) -> Result<(), KubeError> {
        let selector = format!("{LABEL_MANAGED_BY}=axon");
        let all: Api<Secret> = Api::all(self.client.clone());
        let listed = all
            .list_metadata(&ListParams::default().labels(&selector))
            .await;
        let secrets = match listed {
            Ok(l) => l.items,
            Err(e) => {
                let err = KubeError::api("list the Secrets labelled managed-by axon", e);
                let left = format!(
                    "the Secrets axon created, if any ({err}): kubectl delete secrets -A -l {selector}"
                );
                progress(&format!("left {left}"));
                report.left.push(left);
                return Ok(());
            }
        };
        for s in secrets {
            let ns = s.metadata.namespace.clone().unwrap_or_default();
            let name = s.metadata.name.clone().unwrap_or_default();
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &ns);
            let gateway = ns == SYSTEM_NAMESPACE && name == GATEWAY_NAME;
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) if gateway => {
                    let line = format!(
                        "Secret {ns}/{name} (the gateway's token key and CA; a new install makes new ones)"
                    );
                    progress(&format!("deleted {line}"));
                    report.removed.push(line);
                }
                Ok(_) => {
                    progress(&format!(
                        "deleted Secret {ns}/{name} (created by axon create secret)"
                    ));
                    report.secrets.push(format!("{ns}/{name}"));
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(KubeError::api(format!("delete Secret {ns}/{name}"), e)),
            }
        }
        Ok(())
    }

    /// Delete what the controller keeps in Task namespaces for the gateway: the
    /// `axon-gateway-ca` ConfigMaps and the `axon-agent-restricted` NetworkPolicies (found by
    /// their labels, in every namespace).
    async fn delete_gateway_namespace_objects(
        &self,
        report: &mut UninstallReport,
        progress: &mut impl FnMut(&str),
    ) -> Result<(), KubeError> {
        let lp = |component: &str| {
            ListParams::default().labels(&format!(
                "{LABEL_MANAGED_BY}=axon,{LABEL_COMPONENT}={component}"
            ))
        };
        let configmaps: Api<ConfigMap> = Api::all(self.client.clone());
        let policies: Api<NetworkPolicy> = Api::all(self.client.clone());
        let mut found: Vec<(&str, String, String)> = Vec::new();
        match configmaps.list_metadata(&lp("gateway")).await {
            Ok(l) => found.extend(l.items.into_iter().map(|o| {
                (
                    "ConfigMap",
                    o.metadata.namespace.unwrap_or_default(),
                    o.metadata.name.unwrap_or_default(),
                )
            })),
            Err(e) => report.left.push(format!(
                "the gateway CA ConfigMaps of Task namespaces ({}): kubectl delete configmaps -A -l {LABEL_MANAGED_BY}=axon,{LABEL_COMPONENT}=gateway",
                KubeError::api("list them", e)
            )),
        }
        match policies.list_metadata(&lp("agent-network")).await {
            Ok(l) => found.extend(l.items.into_iter().map(|o| {
                (
                    "NetworkPolicy",
                    o.metadata.namespace.unwrap_or_default(),
                    o.metadata.name.unwrap_or_default(),
                )
            })),
            Err(e) => report.left.push(format!(
                "the restricted-egress NetworkPolicies of Task namespaces ({}): kubectl delete networkpolicies -A -l {LABEL_MANAGED_BY}=axon,{LABEL_COMPONENT}=agent-network",
                KubeError::api("list them", e)
            )),
        }
        for line in self.delete_listed(found, progress).await? {
            report.removed.push(line);
        }
        Ok(())
    }

    /// Delete the spawner Deployments and Task Jobs (their Pods follow by owner reference: a
    /// built-in kind the garbage collector always maps) in every namespace.
    async fn delete_owned_workloads(
        &self,
        report: &mut UninstallReport,
        progress: &mut impl FnMut(&str),
    ) -> Result<(), KubeError> {
        let deployments: Api<Deployment> = Api::all(self.client.clone());
        let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::all(self.client.clone());
        let spawners = ListParams::default().labels(&format!(
            "{LABEL_MANAGED_BY}=axon,{LABEL_COMPONENT}=spawner"
        ));
        let tasks = ListParams::default().labels(&format!("{LABEL_MANAGED_BY}=axon,{LABEL_TASK}"));
        let mut found: Vec<(&str, String, String)> = Vec::new();
        let name_of = |m: kube::core::ObjectMeta| {
            (m.namespace.unwrap_or_default(), m.name.unwrap_or_default())
        };
        match deployments.list_metadata(&spawners).await {
            Ok(l) => found.extend(l.items.into_iter().map(|o| {
                let (ns, name) = name_of(o.metadata);
                ("Deployment", ns, name)
            })),
            Err(e) => return Err(KubeError::api("list the spawner Deployments", e)),
        }
        match jobs.list_metadata(&tasks).await {
            Ok(l) => found.extend(l.items.into_iter().map(|o| {
                let (ns, name) = name_of(o.metadata);
                ("Job", ns, name)
            })),
            Err(e) => return Err(KubeError::api("list the Tasks' Jobs", e)),
        }
        let deleted = self.delete_listed(found, progress).await?.len();
        if deleted > 0 {
            report.removed.push(format!(
                "{deleted} spawner Deployments and Task Jobs (and their Pods)"
            ));
        }
        Ok(())
    }

    /// Delete each listed `(kind, namespace, name)` (kinds: ConfigMap, NetworkPolicy,
    /// Deployment, Job), in the background; what was gone already is skipped. Returns
    /// `Kind namespace/name` of each deleted one.
    async fn delete_listed(
        &self,
        found: Vec<(&str, String, String)>,
        progress: &mut impl FnMut(&str),
    ) -> Result<Vec<String>, KubeError> {
        async fn delete<K>(client: &kube::Client, ns: &str, name: &str) -> Result<(), kube::Error>
        where
            K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
                + Clone
                + serde::de::DeserializeOwned
                + std::fmt::Debug,
        {
            Api::<K>::namespaced(client.clone(), ns)
                .delete(name, &DeleteParams::background())
                .await
                .map(|_| ())
        }
        let mut deleted = Vec::new();
        for (kind, ns, name) in found {
            let c = &self.client;
            let result = match kind {
                "ConfigMap" => delete::<ConfigMap>(c, &ns, &name).await,
                "NetworkPolicy" => delete::<NetworkPolicy>(c, &ns, &name).await,
                "Deployment" => delete::<Deployment>(c, &ns, &name).await,
                _ => delete::<k8s_openapi::api::batch::v1::Job>(c, &ns, &name).await,
            };
            match result {
                Ok(()) => {
                    let line = format!("{kind} {ns}/{name}");
                    progress(&format!("deleted {line}"));
                    deleted.push(line);
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(KubeError::api(format!("delete {kind} {ns}/{name}"), e)),
            }
        }
        Ok(deleted)
    }

    /// Delete one install document; `true` when it was there.
    async fn delete_doc(
        &self,
        doc: &Value,
        report: &mut UninstallReport,
        progress: &mut impl FnMut(&str),
    ) -> Result<bool, KubeError> {
        let what = describe(doc);
        let Some(api) = self.dynamic(doc) else {
            return Ok(false);
        };
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {
                progress(&format!("deleted {what}"));
                report.removed.push(what);
                Ok(true)
            }
            Err(e) if is_not_found(&e) => {
                progress(&format!("{what} was not there"));
                Ok(false)
            }
            Err(e) => Err(KubeError::api(format!("delete {what}"), e)),
        }
    }

    /// Remove Axon: the controller, the spawner Deployments and Task Jobs (by label, before the
    /// CRDs: the garbage collector cannot always map an owner whose CRD is gone), the CRDs
    /// (which deletes every Task, Workspace, AgentConfig and TaskSpawner, and by owner reference
    /// their ConfigMaps), the Secrets Axon created, RBAC and the namespace. Returns what it
    /// removed.
    pub async fn uninstall(
        &self,
        mut progress: impl FnMut(&str),
    ) -> Result<UninstallReport, KubeError> {
        let docs = install_manifests("unused", "unused");
        let mut report = UninstallReport::default();
        let kind = |d: &Value, k: &str| d["kind"] == k;
        // Controller first (it would fight the deletion), CRDs next, then Axon's Secrets, the
        // rest last.
        let controller: Vec<&Value> = docs.iter().filter(|d| kind(d, "Deployment")).collect();
        let crds: Vec<&Value> = docs
            .iter()
            .filter(|d| kind(d, "CustomResourceDefinition"))
            .collect();
        let rest: Vec<&Value> = docs
            .iter()
            .filter(|d| !kind(d, "Deployment") && !kind(d, "CustomResourceDefinition"))
            .rev()
            .collect();
        for doc in controller {
            self.delete_doc(doc, &mut report, &mut progress).await?;
        }
        let resources = self.axon_resources().await;
        // What Axon's resources own goes first, by label: once a CRD is gone the garbage
        // collector may no longer map the owner's kind, and would keep these forever.
        self.delete_owned_workloads(&mut report, &mut progress)
            .await?;
        let mut crds_deleted = false;
        for doc in crds {
            crds_deleted |= self.delete_doc(doc, &mut report, &mut progress).await?;
        }
        if crds_deleted && !resources.is_empty() {
            let line = format!(
                "{} (with their CRDs; their Jobs, Pods, ConfigMaps and spawner Deployments follow by owner reference)",
                resources.join(", ")
            );
            progress(&format!("deleted {line}"));
            report.removed.push(line);
        }
        self.delete_axon_secrets(&mut report, &mut progress).await?;
        self.delete_gateway_namespace_objects(&mut report, &mut progress)
            .await?;
        for doc in rest {
            self.delete_doc(doc, &mut report, &mut progress).await?;
        }
        progress("Axon is uninstalled");
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(available: i32) -> Deployment {
        serde_json::from_value(json!({"metadata": {"name": "axon-controller"},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"availableReplicas": available}}))
        .expect("deployment")
    }

    fn pod(node: Option<&str>, waiting: Option<&str>) -> Pod {
        let mut p = json!({"metadata": {"name": "axon-controller-x"}, "spec": {"containers": []},
            "status": {"phase": "Pending"}});
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        if let Some(w) = waiting {
            p["status"]["containerStatuses"] = json!([{"name": "controller", "image": "i",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": w, "message": "back-off"}}}]);
        }
        serde_json::from_value(p).expect("pod")
    }

    #[test]
    fn a_timeout_says_what_the_controller_waits_for() {
        assert_eq!(
            controller_wait_problem(None, &[]),
            "the Deployment does not exist"
        );
        let d = deployment(0);
        assert!(
            controller_wait_problem(Some(&d), &[])
                .contains("0 of 1 replicas available; no Pod yet")
        );
        let m = controller_wait_problem(Some(&d), &[pod(None, None)]);
        assert!(
            m.contains("Pod axon-controller-x: Pending, not scheduled to a node"),
            "{m}"
        );
        let m = controller_wait_problem(Some(&d), &[pod(Some("n1"), Some("ImagePullBackOff"))]);
        assert!(
            m.contains("container waiting: ImagePullBackOff: back-off"),
            "{m}"
        );
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count(1, "Task"), "1 Task");
        assert_eq!(count(3, "Task"), "3 Tasks");
    }
}
