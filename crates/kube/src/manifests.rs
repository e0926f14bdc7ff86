//! The install manifests: the four CRDs, the `axon-system` Namespace, the controller's
//! ServiceAccount, least-privilege RBAC, and its Deployment, then the gateway's
//! ServiceAccount, RBAC, Service and Deployment, in apply order. `deploy/` holds them for the
//! default image (checked fresh by a test), `axon install` applies them. The gateway's Secret
//! (token key and CA) is not among them: `axon install` generates it once
//! ([`crate::gateway_secret`]), so that no file holds it and a re-install never rotates it.

use crate::gateway_secret::gateway_labels;
use crate::names::{
    CONTROLLER_NAME, GATEWAY_NAME, GATEWAY_PORT, GATEWAY_SECRET_DIR, LABEL_COMPONENT,
    LABEL_MANAGED_BY, LABEL_NAME, LOG_ENV, METRICS_PORT, POD_LOG_LEVEL, SYSTEM_NAMESPACE,
};
use crate::security::{container_security_context, pod_security_context, resources};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, Namespace,
    ObjectFieldSelector, PodSpec, PodTemplateSpec, Probe, SecretVolumeSource, Service,
    ServiceAccount, ServicePort, ServiceSpec, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::BTreeMap;

/// Labels of everything the install creates.
fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), "axon".to_string()),
        (LABEL_COMPONENT.to_string(), "controller".to_string()),
        (LABEL_MANAGED_BY.to_string(), "axon".to_string()),
    ])
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels()),
        ..Default::default()
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(v(groups)),
        resources: Some(v(resources)),
        verbs: v(verbs),
        ..Default::default()
    }
}

/// What the controller may do, cluster-wide. `secrets: get` (no list, no watch) checks that a
/// Task's Secrets and keys exist before its Pod is created, so a missing one is named in
/// status; the rest is what the Task ⇄ Job and TaskSpawner ⇄ Deployment loops touch. The
/// controller also holds what it grants each spawner's Role (RBAC forbids granting more).
pub fn controller_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            &["axon.io"],
            &["tasks"],
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        rule(&["axon.io"], &["taskspawners"], &["get", "list", "watch"]),
        rule(
            &["axon.io"],
            &["tasks/status", "taskspawners/status"],
            &["get", "patch", "update"],
        ),
        // `create` and `patch` only to grant them to spawners with `when.items` (the
        // Workspaces of items with a `repo`); the controller itself never writes one.
        rule(
            &["axon.io"],
            &["workspaces"],
            &["get", "list", "watch", "create", "patch"],
        ),
        rule(&["axon.io"], &["agentconfigs"], &["get", "list", "watch"]),
        rule(
            &["batch"],
            &["jobs"],
            &["get", "list", "watch", "create", "delete"],
        ),
        rule(&[""], &["pods"], &["get", "list", "watch"]),
        // `patch`: the gateway CA ConfigMap it keeps in each Task namespace (server-side apply).
        rule(&[""], &["configmaps"], &["get", "create", "patch"]),
        // `get`: the Task Secrets' keys (never their values, except its own gateway Secret's
        // token key, to mint gateway tokens).
        rule(&[""], &["secrets"], &["get"]),
        // The restricted-egress NetworkPolicy of namespaces with restricted Tasks.
        rule(
            &["networking.k8s.io"],
            &["networkpolicies"],
            &["get", "create", "patch"],
        ),
        rule(&[""], &["serviceaccounts"], &["get", "create", "patch"]),
        rule(
            &["rbac.authorization.k8s.io"],
            &["roles", "rolebindings"],
            &["get", "create", "patch"],
        ),
        rule(
            &["apps"],
            &["deployments"],
            &["get", "list", "watch", "create", "patch"],
        ),
        rule(&["events.k8s.io"], &["events"], &["create", "patch"]),
    ]
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn env_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                api_version: None,
            }),
            ..Default::default()
        }),
    }
}

fn probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("metrics".into()),
            ..Default::default()
        }),
        period_seconds: Some(10),
        ..Default::default()
    }
}

/// The controller's Deployment.
pub fn controller_deployment(image: &str, version: &str) -> Deployment {
    let selector = BTreeMap::from([
        (LABEL_NAME.to_string(), "axon".to_string()),
        (LABEL_COMPONENT.to_string(), "controller".to_string()),
    ]);
    let container = Container {
        name: "controller".into(),
        image: Some(image.into()),
        image_pull_policy: Some("Always".into()),
        command: Some(vec!["axon".into()]),
        args: Some(vec![
            "controller".into(),
            format!("--metrics-addr=0.0.0.0:{METRICS_PORT}"),
            "--leader-elect=true".into(),
            // Route Tasks through the gateway; `--gateway=false` runs them as before (the
            // agent Pod holds its Secrets), for clusters migrating to the gateway.
            "--gateway=true".into(),
        ]),
        env: Some(vec![
            EnvVar {
                name: crate::names::IMAGE_ENV.into(),
                value: Some(image.into()),
                value_from: None,
            },
            EnvVar {
                name: crate::names::VERSION_ENV.into(),
                value: Some(version.into()),
                value_from: None,
            },
            EnvVar {
                name: crate::timeout::DEFAULT_TIMEOUT_ENV.into(),
                value: Some(crate::timeout::DEFAULT_TIMEOUT_SECONDS.to_string()),
                value_from: None,
            },
            env_field("POD_NAMESPACE", "metadata.namespace"),
            env_field("POD_NAME", "metadata.name"),
            EnvVar {
                name: LOG_ENV.into(),
                value: Some(POD_LOG_LEVEL.into()),
                value_from: None,
            },
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("metrics".into()),
            container_port: i32::from(METRICS_PORT),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        liveness_probe: Some(probe("/healthz")),
        readiness_probe: Some(probe("/readyz")),
        security_context: Some(container_security_context()),
        resources: Some(resources("50m", "64Mi", "500m", "256Mi")),
        ..Default::default()
    };
    Deployment {
        metadata: meta(CONTROLLER_NAME, Some(SYSTEM_NAMESPACE)),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(CONTROLLER_NAME.into()),
                    automount_service_account_token: Some(true),
                    security_context: Some(pod_security_context()),
                    termination_grace_period_seconds: Some(30),
                    containers: vec![container],
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        status: None,
    }
}

fn subject() -> Vec<Subject> {
    subject_of(CONTROLLER_NAME)
}

fn subject_of(service_account: &str) -> Vec<Subject> {
    vec![Subject {
        kind: "ServiceAccount".into(),
        name: service_account.into(),
        namespace: Some(SYSTEM_NAMESPACE.into()),
        api_group: None,
    }]
}

fn gateway_meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(str::to_string),
        labels: Some(gateway_labels()),
        ..Default::default()
    }
}

/// What the gateway may do, cluster-wide: read the Tasks it serves and what they reference
/// (Workspaces, AgentConfigs, and the Secrets of their credentials, `get` only: it never lists
/// them), record usage in Task status and publish Events.
pub fn gateway_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            &["axon.io"],
            &["tasks", "workspaces", "agentconfigs"],
            &["get", "list", "watch"],
        ),
        rule(&["axon.io"], &["tasks/status"], &["patch"]),
        rule(&[""], &["secrets"], &["get"]),
        rule(&["events.k8s.io"], &["events"], &["create", "patch"]),
    ]
}

/// The gateway's Service: `http://axon-gateway.axon-system.svc:8080`.
pub fn gateway_service() -> Service {
    Service {
        metadata: gateway_meta(GATEWAY_NAME, Some(SYSTEM_NAMESPACE)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(gateway_selector()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: i32::from(GATEWAY_PORT),
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

pub(crate) fn gateway_selector() -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), "axon".to_string()),
        (LABEL_COMPONENT.to_string(), "gateway".to_string()),
    ])
}

fn tcp_probe() -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String("http".into()),
            host: None,
        }),
        period_seconds: Some(10),
        ..Default::default()
    }
}

/// The gateway's Deployment: `axon gateway --backend=kubernetes` (the controller's image and
/// binary) listening on port 8080, its Secret (token key, CA) mounted read-only at
/// [`GATEWAY_SECRET_DIR`], the same Pod security as the controller. One replica: a Task's
/// usage and budget are counted in one process.
pub fn gateway_deployment(image: &str) -> Deployment {
    let container = Container {
        name: "gateway".into(),
        image: Some(image.into()),
        image_pull_policy: Some("Always".into()),
        command: Some(vec!["axon".into()]),
        args: Some(vec![
            "gateway".into(),
            "--backend=kubernetes".into(),
            format!("--listen=0.0.0.0:{GATEWAY_PORT}"),
        ]),
        env: Some(vec![
            env_field("POD_NAMESPACE", "metadata.namespace"),
            env_field("POD_NAME", "metadata.name"),
            EnvVar {
                name: LOG_ENV.into(),
                value: Some(POD_LOG_LEVEL.into()),
                value_from: None,
            },
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: i32::from(GATEWAY_PORT),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        liveness_probe: Some(tcp_probe()),
        readiness_probe: Some(tcp_probe()),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "gateway-secret".into(),
                mount_path: GATEWAY_SECRET_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            },
            VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..Default::default()
            },
        ]),
        security_context: Some(container_security_context()),
        resources: Some(resources("100m", "128Mi", "1", "512Mi")),
        ..Default::default()
    };
    Deployment {
        metadata: gateway_meta(GATEWAY_NAME, Some(SYSTEM_NAMESPACE)),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(gateway_selector()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(gateway_labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(GATEWAY_NAME.into()),
                    automount_service_account_token: Some(true),
                    security_context: Some(pod_security_context()),
                    termination_grace_period_seconds: Some(30),
                    containers: vec![container],
                    volumes: Some(vec![
                        Volume {
                            name: "gateway-secret".into(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(GATEWAY_NAME.into()),
                                default_mode: Some(0o440),
                                optional: Some(false),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        Volume {
                            name: "tmp".into(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                size_limit: Some(
                                    k8s_openapi::apimachinery::pkg::api::resource::Quantity(
                                        "64Mi".into(),
                                    ),
                                ),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        status: None,
    }
}

/// A component's ServiceAccount `name` in the system namespace, and the ClusterRole (`rules`)
/// bound to it, with the component's metadata.
fn identity(
    name: &str,
    meta: fn(&str, Option<&str>) -> ObjectMeta,
    rules: Vec<PolicyRule>,
) -> [Value; 3] {
    [
        to_value(&ServiceAccount {
            metadata: meta(name, Some(SYSTEM_NAMESPACE)),
            ..Default::default()
        }),
        to_value(&ClusterRole {
            metadata: meta(name, None),
            rules: Some(rules),
            aggregation_rule: None,
        }),
        to_value(&ClusterRoleBinding {
            metadata: meta(name, None),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: name.into(),
            },
            subjects: Some(subject_of(name)),
        }),
    ]
}

/// Every install document, in apply order: CRDs, Namespace, the controller's ServiceAccount,
/// ClusterRole and binding, leader-election Role and binding, and Deployment, then the
/// gateway's ServiceAccount, ClusterRole and binding, Service and Deployment.
pub fn install_manifests(image: &str, version: &str) -> Vec<Value> {
    let mut docs: Vec<Value> = axon_api::crd::crds().iter().map(to_value).collect();
    let mut ns_meta = meta(SYSTEM_NAMESPACE, None);
    if let Some(l) = ns_meta.labels.as_mut() {
        l.insert(
            "pod-security.kubernetes.io/enforce".into(),
            "restricted".into(),
        );
    }
    docs.push(to_value(&Namespace {
        metadata: ns_meta,
        ..Default::default()
    }));
    docs.extend(identity(CONTROLLER_NAME, meta, controller_rules()));
    let lease_role = format!("{CONTROLLER_NAME}-leader-election");
    docs.push(to_value(&Role {
        metadata: meta(&lease_role, Some(SYSTEM_NAMESPACE)),
        rules: Some(vec![rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["get", "create", "update"],
        )]),
    }));
    docs.push(to_value(&RoleBinding {
        metadata: meta(&lease_role, Some(SYSTEM_NAMESPACE)),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: lease_role.clone(),
        },
        subjects: Some(subject()),
    }));
    docs.push(to_value(&controller_deployment(image, version)));
    docs.extend(identity(GATEWAY_NAME, gateway_meta, gateway_rules()));
    docs.push(to_value(&gateway_service()));
    docs.push(to_value(&gateway_deployment(image)));
    docs
}

/// Multi-document YAML (`---` between documents).
pub fn to_yaml(docs: &[Value]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(d).unwrap_or_default());
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
