//! `axon install` / `axon uninstall`: server-side apply of the install manifests, then wait
//! until the CRDs are Established and the controller Deployment is available; uninstall
//! removes the controller, the CRDs (and with them every Axon resource), RBAC and namespace.

use crate::backend::KubeBackend;
use crate::error::{KubeError, is_not_found};
use crate::manifests::install_manifests;
use crate::names::{CLI_FIELD_MANAGER, CONTROLLER_NAME, SYSTEM_NAMESPACE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::Value;
use std::time::Duration;

/// How long install waits for the CRDs and the controller.
const WAIT: Duration = Duration::from_secs(180);

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
        _ => return None,
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Some((ApiResource::from_gvk_with_plural(&gvk, plural), namespaced))
}

fn describe(doc: &Value) -> String {
    format!(
        "{} {}",
        doc["kind"].as_str().unwrap_or_default(),
        doc["metadata"]["name"].as_str().unwrap_or_default()
    )
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

    /// Install (or upgrade) Axon with `image` at `version`; `progress` hears each step.
    pub async fn install(
        &self,
        image: &str,
        version: &str,
        mut progress: impl FnMut(&str),
    ) -> Result<(), KubeError> {
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
        }
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        for crd in axon_api::crd::crds() {
            let name = crd.metadata.name.clone().unwrap_or_default();
            progress(&format!("waiting for CRD {name} to be established"));
            tokio::time::timeout(
                WAIT,
                await_condition(crds.clone(), &name, conditions::is_crd_established()),
            )
            .await
            .map_err(|_| KubeError::Timeout {
                what: format!("CRD {name} to be established"),
                seconds: WAIT.as_secs(),
            })?
            .map_err(|e| KubeError::Api {
                what: format!("watch CRD {name}"),
                reason: e.to_string(),
            })?;
        }
        progress(&format!(
            "waiting for Deployment {SYSTEM_NAMESPACE}/{CONTROLLER_NAME} to be available"
        ));
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), SYSTEM_NAMESPACE);
        let available = |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.available_replicas)
                .unwrap_or(0)
                >= 1
        };
        tokio::time::timeout(WAIT, await_condition(deployments, CONTROLLER_NAME, available))
            .await
            .map_err(|_| KubeError::Timeout {
                what: format!(
                    "the controller Deployment to be available (kubectl -n {SYSTEM_NAMESPACE} describe deployment {CONTROLLER_NAME})"
                ),
                seconds: WAIT.as_secs(),
            })?
            .map_err(|e| KubeError::Api {
                what: "watch the controller Deployment".into(),
                reason: e.to_string(),
            })?;
        progress("Axon is installed");
        Ok(())
    }

    /// Remove Axon: the controller, the CRDs (which deletes every Task, Workspace, AgentConfig
    /// and TaskSpawner, and by owner reference their Jobs and Deployments), RBAC, namespace.
    pub async fn uninstall(&self, mut progress: impl FnMut(&str)) -> Result<(), KubeError> {
        let docs = install_manifests("unused", "unused");
        let dp = DeleteParams::background();
        // Controller first (it would fight the deletion), CRDs next, the rest last.
        let mut order: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Deployment").collect();
        order.extend(
            docs.iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition"),
        );
        order.extend(
            docs.iter()
                .filter(|d| d["kind"] != "Deployment" && d["kind"] != "CustomResourceDefinition")
                .rev(),
        );
        for doc in order {
            let what = describe(doc);
            let Some(api) = self.dynamic(doc) else {
                continue;
            };
            let name = doc["metadata"]["name"].as_str().unwrap_or_default();
            match api.delete(name, &dp).await {
                Ok(_) => progress(&format!("deleted {what}")),
                Err(e) if is_not_found(&e) => progress(&format!("{what} was not there")),
                Err(e) => return Err(KubeError::api(format!("delete {what}"), e)),
            }
        }
        progress("Axon is uninstalled");
        Ok(())
    }
}
