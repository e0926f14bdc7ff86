//! The Kubernetes half of the gateway against a real kube-apiserver and
//! kube-controller-manager (`../shared/kube/up.sh`, always stopped), in process:
//!
//! - `install` applies the gateway's Deployment, Service and RBAC and creates its Secret
//!   (token key, CA); a second install keeps the Secret as it is (same resourceVersion, same
//!   data);
//! - the gateway's ServiceAccount can do what the gateway needs and nothing more, and the
//!   controller's can write the gateway CA ConfigMap and the NetworkPolicy (impersonation +
//!   SelfSubjectAccessReview, as the spawner Role test does);
//! - the Task reconciler, run as the controller's ServiceAccount, creates a Job whose Pod (made
//!   by the real Job controller) refers to no Secret anywhere, whose token verifies with the
//!   Secret's key to that Task, and the namespace's `axon-gateway-ca` ConfigMap;
//! - `resolve_grant`, run as the gateway's ServiceAccount, gives that Task's credentials, and
//!   refuses once the Task is finished;
//! - the restricted-egress NetworkPolicy is applied idempotently by the controller's
//!   ServiceAccount, and for a restricted Task along with its Pod's label.
//!
//! Skipped, with a `SKIPPED` line, when `up.sh` is absent (`AXON_KUBE_REQUIRED=1` fails then).

use axon_api::{Task, TaskStatus};
use axon_core::gateway_token::{TaskIdentity, verify};
use axon_kube::KubeBackend;
use axon_kube::gateway_grant::{GrantError, resolve_grant};
use axon_kube::gateway_secret::keys_from_secret;
use axon_kube::job::JobOptions;
use axon_kube::metrics::Metrics;
use axon_kube::network_policy::{ensure_restricted_policy, is_restricted};
use axon_kube::task_controller::{Context, ControllerGateway, reconcile};
use axon_testsupport::kube_plane::{ControlPlane, up_sh_or_skip};
use axon_testsupport::kubelet::client;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Recorder, Reporter};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NS: &str = "gw";
const BUDGET: Duration = Duration::from_secs(150);
const WAIT: Duration = Duration::from_secs(30);
const GATEWAY_SA: &str = "system:serviceaccount:axon-system:axon-gateway";
const CONTROLLER_SA: &str = "system:serviceaccount:axon-system:axon-controller";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_on_a_real_api_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(up) = up_sh_or_skip("real_apiserver_gateway", &root) else {
        return;
    };
    let plane = ControlPlane::start(&up);
    let result = tokio::time::timeout(BUDGET, scenario(&plane)).await;
    assert!(
        result.is_ok(),
        "the test took more than {}s (logs in {})",
        BUDGET.as_secs(),
        plane.dir().display()
    );
}

fn step(t0: Instant, what: &str) {
    eprintln!(
        "real_apiserver_gateway: [{:5.1}s] {what}",
        t0.elapsed().as_secs_f64()
    );
}

/// Polls `f` every 250 ms for up to [`WAIT`], failing with `what` when it never answers.
async fn must<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out after {}s waiting for {what}",
            WAIT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every path under `v` that refers to a Secret.
fn secret_references(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let here = format!("{path}.{k}");
                if matches!(
                    k.as_str(),
                    "secretKeyRef" | "secretRef" | "secret" | "secretName"
                ) {
                    out.push(here.clone());
                }
                secret_references(child, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                secret_references(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Whether the impersonated `client` may `verb` `resource` (group `group`) in `ns`.
async fn can(client: &Client, verb: &str, group: &str, resource: &str, ns: &str) -> bool {
    let review: SelfSubjectAccessReview = serde_json::from_value(json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource,
            "namespace": ns}}}))
    .expect("review");
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SelfSubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

fn context(client: Client) -> Arc<Context> {
    Arc::new(Context {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "axon-controller".into(),
                instance: None,
            },
        ),
        client,
        job_options: JobOptions {
            axon_image: "ghcr.io/axon-core/axon:test".into(),
            version: "test".into(),
            default_timeout_seconds: 600,
        },
        metrics: Arc::new(Metrics::default()),
        gateway: Some(ControllerGateway {
            origin: axon_kube::names::gateway_origin(),
            system_roots: None,
        }),
    })
}

fn task(name: &str, extra: Value) -> Task {
    let mut spec = json!({"type": "claude-code", "prompt": "Say hello",
        "credentials": {"type": "api-key", "secretRef": {"name": "claude"}},
        "workspaceRef": {"name": "repo"},
        "image": "registry.invalid/agent:test", "timeoutSeconds": 600});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    serde_json::from_value(json!({"apiVersion": "axon.io/v1alpha1", "kind": "Task",
        "metadata": {"name": name, "namespace": NS}, "spec": spec}))
    .expect("task")
}

/// Reconcile `name` (as the controller would, on each change) until its Job exists.
async fn job_of(ctx: &Arc<Context>, tasks: &Api<Task>, name: &str) -> Job {
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), NS);
    must(&format!("the Job of Task {name}"), async || {
        let t = tasks.get(name).await.ok()?;
        if let Err(e) = reconcile(Arc::new(t), ctx.clone()).await {
            eprintln!("reconcile {name}: {e}");
        }
        jobs.get_opt(name).await.ok().flatten()
    })
    .await
}

async fn scenario(plane: &ControlPlane) {
    let t0 = Instant::now();
    let kubeconfig = plane.kubeconfig();
    let admin = client(&kubeconfig, None).await;
    let as_gateway = client(&kubeconfig, Some(GATEWAY_SA)).await;
    let as_controller = client(&kubeconfig, Some(CONTROLLER_SA)).await;

    // Install twice: the Secret is made once and kept.
    let backend = KubeBackend::from_client(admin.clone(), "axon-system");
    let mut lines = Vec::new();
    backend
        .install("ghcr.io/axon-core/axon:test", "test", None, |l| {
            lines.push(l.to_string())
        })
        .await
        .expect("install");
    let text = lines.join("\n");
    for want in [
        "created Secret axon-system/axon-gateway",
        "applied Service axon-system/axon-gateway",
        "applied Deployment axon-system/axon-gateway",
        "applied ClusterRole axon-gateway",
    ] {
        assert!(text.contains(want), "install said:\n{text}");
    }
    let system_secrets: Api<Secret> = Api::namespaced(admin.clone(), "axon-system");
    let first = system_secrets.get("axon-gateway").await.expect("Secret");
    let keys = keys_from_secret(&first).expect("usable Secret");
    let deployment = Api::<Deployment>::namespaced(admin.clone(), "axon-system")
        .get("axon-gateway")
        .await
        .expect("gateway Deployment");
    let pod = deployment.spec.template.spec.expect("pod");
    assert_eq!(pod.service_account_name.as_deref(), Some("axon-gateway"));
    let service = Api::<Service>::namespaced(admin.clone(), "axon-system")
        .get("axon-gateway")
        .await
        .expect("gateway Service");
    assert_eq!(
        service.spec.and_then(|s| s.ports).map(|p| p[0].port),
        Some(8080)
    );
    let mut lines = Vec::new();
    backend
        .install("ghcr.io/axon-core/axon:test", "test", None, |l| {
            lines.push(l.to_string())
        })
        .await
        .expect("second install");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("kept Secret axon-system/axon-gateway")),
        "{lines:?}"
    );
    let second = system_secrets.get("axon-gateway").await.expect("Secret");
    assert_eq!(
        second.metadata.resource_version, first.metadata.resource_version,
        "a re-install never rewrites the gateway Secret"
    );
    assert_eq!(second.data, first.data);
    step(
        t0,
        "install: gateway Deployment, Service, RBAC; its Secret made once, kept on re-install",
    );

    // RBAC, by impersonation.
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    for (verb, group, resource) in [
        ("get", "axon.io", "tasks"),
        ("list", "axon.io", "tasks"),
        ("watch", "axon.io", "tasks"),
        ("get", "axon.io", "workspaces"),
        ("watch", "axon.io", "agentconfigs"),
        ("patch", "axon.io", "tasks/status"),
        ("get", "", "secrets"),
        ("create", "events.k8s.io", "events"),
    ] {
        assert!(
            can(&as_gateway, verb, group, resource, NS).await,
            "the gateway may {verb} {resource}"
        );
    }
    for (verb, group, resource) in [
        ("list", "", "secrets"),
        ("watch", "", "secrets"),
        ("create", "axon.io", "tasks"),
        ("update", "axon.io", "tasks"),
        ("delete", "axon.io", "tasks"),
        ("patch", "axon.io", "tasks"),
        ("create", "", "pods"),
        ("get", "", "configmaps"),
        ("create", "batch", "jobs"),
    ] {
        assert!(
            !can(&as_gateway, verb, group, resource, NS).await,
            "the gateway may not {verb} {resource}"
        );
    }
    for (verb, group, resource) in [
        ("patch", "", "configmaps"),
        ("create", "networking.k8s.io", "networkpolicies"),
        ("patch", "networking.k8s.io", "networkpolicies"),
    ] {
        assert!(
            can(&as_controller, verb, group, resource, NS).await,
            "the controller may {verb} {resource}"
        );
    }
    assert!(
        !can(
            &as_controller,
            "delete",
            "networking.k8s.io",
            "networkpolicies",
            NS
        )
        .await
    );
    step(
        t0,
        "RBAC: the gateway reads Tasks and Secrets by name, writes only status and Events; the controller writes the CA ConfigMap and NetworkPolicies",
    );

    // The Task's Job and Pod, reconciled as the controller's ServiceAccount.
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), NS);
    for (name, key, value) in [
        ("claude", "ANTHROPIC_API_KEY", "sk-ant-test"),
        ("gh", "GITHUB_TOKEN", "ghp-test\n"),
    ] {
        let s: Secret = serde_json::from_value(json!({"metadata": {"name": name},
            "stringData": {key: value}}))
        .expect("secret");
        secrets
            .create(&PostParams::default(), &s)
            .await
            .expect("secret");
    }
    let workspace: axon_api::Workspace = serde_json::from_value(json!({
        "apiVersion": "axon.io/v1alpha1", "kind": "Workspace",
        "metadata": {"name": "repo", "namespace": NS},
        "spec": {"repo": "https://github.com/acme/app.git", "secretRef": {"name": "gh"}}}))
    .expect("workspace");
    Api::<axon_api::Workspace>::namespaced(admin.clone(), NS)
        .create(&PostParams::default(), &workspace)
        .await
        .expect("workspace");
    let tasks: Api<Task> = Api::namespaced(admin.clone(), NS);
    tasks
        .create(&PostParams::default(), &task("hello", json!({})))
        .await
        .expect("task");
    let ctx = context(as_controller.clone());
    let job = job_of(&ctx, &tasks, "hello").await;
    let mut found = Vec::new();
    secret_references(
        &serde_json::to_value(&job).expect("json"),
        "job",
        &mut found,
    );
    assert!(found.is_empty(), "the Job refers to Secrets: {found:?}");
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NS);
    let pod = must("the Job controller to create the Pod", async || {
        pods.list(&ListParams::default().labels("axon.io/task=hello"))
            .await
            .ok()
            .and_then(|l| l.items.into_iter().next())
    })
    .await;
    let pod_json = serde_json::to_value(&pod).expect("json");
    let mut found = Vec::new();
    secret_references(&pod_json["spec"], "pod.spec", &mut found);
    assert!(
        found.is_empty(),
        "the Pod refers to Secrets: {found:?}\n{pod_json:#}"
    );
    let agent = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .and_then(|c| c.iter().find(|c| c.name == "agent"))
        .expect("agent container");
    let env = |n: &str| {
        agent
            .env
            .iter()
            .flatten()
            .find(|e| e.name == n)
            .and_then(|e| e.value.clone())
    };
    let token = env("ANTHROPIC_API_KEY").expect("the token where the key went");
    assert_eq!(env("GITHUB_TOKEN").as_deref(), Some(token.as_str()));
    let stored = tasks.get("hello").await.expect("task");
    let id = verify(&keys.token_key, &token).expect("the token verifies with the Secret's key");
    assert_eq!(
        id,
        TaskIdentity {
            namespace: NS.into(),
            name: "hello".into(),
            uid: stored.metadata.uid.clone().expect("uid"),
        }
    );
    assert!(
        !pod_json.to_string().contains("sk-ant-test") && !pod_json.to_string().contains("ghp-test"),
        "no secret value in the Pod"
    );
    let ca = Api::<ConfigMap>::namespaced(admin.clone(), NS)
        .get("axon-gateway-ca")
        .await
        .expect("the namespace's gateway CA ConfigMap");
    let ca_version = ca.metadata.resource_version.clone();
    let data = ca.data.expect("data");
    assert_eq!(data.get("ca.crt"), Some(&keys.ca_cert_pem));
    assert!(data["ca-bundle.crt"].ends_with(&keys.ca_cert_pem));
    step(
        t0,
        "a Task's Job and Pod hold no Secret; its token verifies to it; the namespace has the CA bundle",
    );

    // The gateway's lookup, as the gateway's ServiceAccount.
    let grant = resolve_grant(&as_gateway, &id).await.expect("grant");
    assert_eq!(
        grant.model_credential.as_ref().map(|s| s.expose()),
        Some("sk-ant-test")
    );
    assert_eq!(
        grant.github_token.as_ref().map(|s| s.expose()),
        Some("ghp-test")
    );
    assert_eq!(grant.needs.model_upstream, "https://api.anthropic.com");
    assert_eq!(
        grant.needs.repo_url.as_deref(),
        Some("https://github.com/acme/app.git")
    );
    assert!(!format!("{grant:?}").contains("sk-ant-test"));
    let other = TaskIdentity {
        uid: "another-uid".into(),
        ..id.clone()
    };
    let e = resolve_grant(&as_gateway, &other)
        .await
        .expect_err("other uid");
    assert!(matches!(e, GrantError::OtherTask { .. }), "{e}");
    let gone = TaskIdentity {
        name: "gone".into(),
        ..id.clone()
    };
    let e = resolve_grant(&as_gateway, &gone).await.expect_err("gone");
    assert!(matches!(e, GrantError::TaskGone { .. }), "{e}");
    let done = TaskStatus {
        phase: Some(axon_api::TaskPhase::Succeeded),
        ..Default::default()
    };
    tasks
        .patch_status(
            "hello",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": done})),
        )
        .await
        .expect("status");
    let e = resolve_grant(&as_gateway, &id).await.expect_err("finished");
    assert!(
        matches!(e, GrantError::NotActive { .. }) && e.status() == 403,
        "{e}"
    );
    step(
        t0,
        "resolve_grant (as the gateway): the Task's credentials while it runs; refused once finished, for another uid or a missing Task",
    );

    // Restricted egress.
    let policies: Api<NetworkPolicy> = Api::namespaced(admin.clone(), NS);
    ensure_restricted_policy(&as_controller, NS)
        .await
        .expect("apply the policy");
    let v1 = policies
        .get("axon-agent-restricted")
        .await
        .expect("policy")
        .metadata
        .resource_version;
    ensure_restricted_policy(&as_controller, NS)
        .await
        .expect("apply again");
    let v2 = policies
        .get("axon-agent-restricted")
        .await
        .expect("policy")
        .metadata
        .resource_version;
    assert_eq!(v1, v2, "applying the same policy again changes nothing");
    tasks
        .create(
            &PostParams::default(),
            &task("fenced", json!({"network": {"mode": "restricted"}})),
        )
        .await
        .expect("restricted task");
    let fenced = tasks.get("fenced").await.expect("task");
    assert!(is_restricted(&fenced), "the CRD keeps spec.network");
    policies
        .delete("axon-agent-restricted", &Default::default())
        .await
        .expect("delete the policy");
    job_of(&ctx, &tasks, "fenced").await;
    let pod = must("the Pod of the restricted Task", async || {
        pods.list(&ListParams::default().labels("axon.io/task=fenced"))
            .await
            .ok()
            .and_then(|l| l.items.into_iter().next())
    })
    .await;
    assert_eq!(
        pod.metadata
            .labels
            .unwrap_or_default()
            .get("axon.io/network")
            .map(String::as_str),
        Some("restricted")
    );
    let policy = policies
        .get("axon-agent-restricted")
        .await
        .expect("the controller applied the policy for the restricted Task");
    let selector = policy
        .spec
        .and_then(|s| s.pod_selector)
        .and_then(|s| s.match_labels)
        .unwrap_or_default();
    assert_eq!(
        selector.get("axon.io/network").map(String::as_str),
        Some("restricted")
    );
    let ca_again = Api::<ConfigMap>::namespaced(admin.clone(), NS)
        .get("axon-gateway-ca")
        .await
        .expect("CA ConfigMap");
    assert_eq!(
        ca_again.metadata.resource_version, ca_version,
        "a second Task in the namespace does not rewrite the CA ConfigMap"
    );
    step(
        t0,
        "restricted Task: its Pod is labelled, the namespace has the NetworkPolicy selecting it (applied idempotently); the CA ConfigMap is not rewritten",
    );
}
