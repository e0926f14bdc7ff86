//! Restricted egress on Kubernetes: a Task with `spec.network.mode: restricted` gets the Pod
//! label `axon.io/network: restricted`, and its namespace the NetworkPolicy
//! `axon-agent-restricted`, which lets such Pods reach only the gateway (its Pods in
//! `axon-system`, port 8080) and DNS (the `kube-dns` Pods of any namespace, UDP and TCP 53).
//! Every other destination, model APIs and GitHub included, is reached through the gateway's
//! proxy, which applies the Task's allowlist. One policy per namespace selects every
//! restricted Pod of it; it is applied (server-side, idempotent) before each restricted Job.
//!
//! NetworkPolicies are enforced by the cluster's network plugin: on a cluster whose plugin
//! ignores them (kindnet, flannel alone), restricted Tasks are restricted only by the gateway
//! proxy, which a program ignoring `HTTPS_PROXY` bypasses.

use crate::error::KubeError;
use crate::gateway_secret::gateway_labels;
use crate::names::{
    CONTROLLER_FIELD_MANAGER, GATEWAY_PORT, LABEL_COMPONENT, LABEL_MANAGED_BY, LABEL_NAME,
    LABEL_NETWORK, RESTRICTED_POLICY_NAME, SYSTEM_NAMESPACE,
};
use axon_api::{NetworkMode, Task};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use std::collections::BTreeMap;

/// The value of [`LABEL_NETWORK`] on a restricted Task's Pod.
pub const RESTRICTED: &str = "restricted";

/// Whether `task` asks for restricted egress (`spec.network.mode: restricted`).
pub fn is_restricted(task: &Task) -> bool {
    task.spec
        .network
        .as_ref()
        .is_some_and(|n| n.mode == NetworkMode::Restricted)
}

fn selector(labels: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

fn port(protocol: &str, port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(i32::from(port))),
        end_port: None,
    }
}

/// The NetworkPolicy of `namespace` for restricted Task Pods.
pub fn render_restricted_policy(namespace: &str) -> NetworkPolicy {
    let mut labels = gateway_labels();
    labels.insert(LABEL_COMPONENT.into(), "agent-network".into());
    let gateway = NetworkPolicyPeer {
        namespace_selector: Some(selector(&[(
            "kubernetes.io/metadata.name",
            SYSTEM_NAMESPACE,
        )])),
        pod_selector: Some(selector(&[
            (LABEL_NAME, "axon"),
            (LABEL_COMPONENT, "gateway"),
        ])),
        ip_block: None,
    };
    let dns = NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        pod_selector: Some(selector(&[("k8s-app", "kube-dns")])),
        ip_block: None,
    };
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(RESTRICTED_POLICY_NAME.into()),
            namespace: Some(namespace.into()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(&[
                (LABEL_NETWORK, RESTRICTED),
                (LABEL_MANAGED_BY, "axon"),
            ])),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![gateway]),
                    ports: Some(vec![port("TCP", GATEWAY_PORT)]),
                },
                NetworkPolicyEgressRule {
                    to: Some(vec![dns]),
                    ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
                },
            ]),
            ingress: None,
        }),
    }
}

/// Apply the restricted-egress NetworkPolicy in `namespace` (server-side apply: creating it
/// the first time, a no-op after).
pub async fn ensure_restricted_policy(client: &Client, namespace: &str) -> Result<(), KubeError> {
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
    let what = format!("NetworkPolicy {namespace}/{RESTRICTED_POLICY_NAME}");
    let doc = serde_json::to_value(render_restricted_policy(namespace)).map_err(|e| {
        KubeError::Serde {
            what: what.clone(),
            reason: e.to_string(),
        }
    })?;
    api.patch(
        RESTRICTED_POLICY_NAME,
        &PatchParams::apply(CONTROLLER_FIELD_MANAGER).force(),
        &Patch::Apply(&doc),
    )
    .await
    .map_err(|e| KubeError::api(format!("apply {what}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(network: serde_json::Value) -> Task {
        let mut spec = serde_json::json!({"type": "codex", "prompt": "x",
            "credentials": {"type": "api-key", "secretRef": {"name": "k"}}});
        if !network.is_null() {
            spec["network"] = network;
        }
        serde_json::from_value(serde_json::json!({"apiVersion": "axon.io/v1alpha1",
            "kind": "Task", "metadata": {"name": "t"}, "spec": spec}))
        .expect("task")
    }

    #[test]
    fn open_is_the_default_and_restricted_is_read_from_the_spec() {
        assert!(!is_restricted(&task(serde_json::Value::Null)));
        assert!(!is_restricted(&task(serde_json::json!({"mode": "open"}))));
        assert!(is_restricted(&task(
            serde_json::json!({"mode": "restricted", "allow": ["pypi.org"]})
        )));
    }

    #[test]
    fn the_policy_selects_restricted_pods_and_allows_only_the_gateway_and_dns() {
        let p = render_restricted_policy("team-a");
        let v = serde_json::to_value(&p).expect("json");
        assert_eq!(v["spec"]["policyTypes"], serde_json::json!(["Egress"]));
        assert_eq!(
            v["spec"]["podSelector"]["matchLabels"][LABEL_NETWORK],
            RESTRICTED
        );
        assert_eq!(v["spec"]["egress"].as_array().map(Vec::len), Some(2));
        insta::assert_yaml_snapshot!(p);
    }
}
