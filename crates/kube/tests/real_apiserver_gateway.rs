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
//!   ServiceAccount, and for a restricted Task along with its Pod's label;
//! - the gateway itself (`axon gateway --backend=kubernetes`, in process, as the gateway's
//!   ServiceAccount, its Secret read from a mounted-like directory): a model call with a Task's
//!   token reaches the fake model server with the real key, the Task's `status.usage` becomes
//!   the measured figures (source `gateway`), the next call over `maxTurns` is refused and
//!   recorded as a `BudgetExceeded` Event, a restarted gateway continues from the recorded
//!   usage, tokens of another uid or of a finished Task get 401, audit lines name the Task.
//!
//! Skipped, with a `SKIPPED` line, when `up.sh` is absent (`AXON_KUBE_REQUIRED=1` fails then).

use axon_api::{Task, TaskStatus};
use axon_core::gateway_token::{TaskIdentity, verify};
use axon_kube::KubeBackend;
use axon_kube::gateway_grant::{GrantError, resolve_grant};
use axon_kube::gateway_secret::{keys_from_secret, read_material};
use axon_kube::gateway_server::RunningGateway;
use axon_kube::job::JobOptions;
use axon_kube::metrics::Metrics;
use axon_kube::network_policy::{ensure_restricted_policy, is_restricted};
use axon_kube::task_controller::{Context, ControllerGateway, reconcile};
use axon_testsupport::kube_plane::{ControlPlane, up_sh_or_skip};
use axon_testsupport::kubelet::client;
use axon_testsupport::model_server::FakeModelServer;
use axon_testsupport::model_server::script::Script;
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

    the_gateway_serves(&admin, &as_gateway, &first, t0).await;
}

/// A writer the test reads back (the gateway's standard output).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).to_string()
    }
}

/// POST an Anthropic Messages call to `base` with `key` in `x-api-key`: status and body.
async fn messages(http: &reqwest::Client, base: &str, key: &str) -> (u16, String) {
    let r = http
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Say hello"}]}))
        .send()
        .await
        .expect("the gateway answers");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

async fn the_gateway_serves(admin: &Client, as_gateway: &Client, secret: &Secret, t0: Instant) {
    axon_kube::tls::install_crypto_provider();
    // The Secret as the Deployment mounts it.
    let dir = tempfile::tempdir().expect("tempdir");
    for (k, v) in secret.data.as_ref().expect("data") {
        std::fs::write(dir.path().join(k), &v.0).expect("write");
    }
    let material = read_material(dir.path()).expect("the mounted Secret reads");
    let fake = FakeModelServer::start(Script::new().text("hello").usage(120, 30)).expect("fake");
    let tasks: Api<Task> = Api::namespaced(admin.clone(), NS);
    let metered = task(
        "metered",
        json!({"modelBaseURL": fake.base_url(), "budget": {"maxTurns": 1}}),
    );
    let created = tasks
        .create(&PostParams::default(), &metered)
        .await
        .expect("task");
    let id = TaskIdentity {
        namespace: NS.into(),
        name: "metered".into(),
        uid: created.metadata.uid.clone().expect("uid"),
    };
    let token = axon_core::gateway_token::mint(&material.token_key, &id);
    let out = Captured::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = RunningGateway::start(
        as_gateway.clone(),
        &material,
        listener,
        Box::new(out.clone()),
    )
    .expect("the gateway starts");
    let base = running.base_url().expect("address");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    let (status, body) = messages(&http, &base, &token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""input_tokens":120"#), "{body}");
    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].headers.get("x-api-key").map(String::as_str),
        Some("sk-ant-test"),
        "the model server sees the real key, not the token"
    );
    let usage = must("status.usage measured by the gateway", async || {
        let t = tasks.get("metered").await.ok()?;
        t.status
            .and_then(|s| s.usage)
            .filter(|u| u.source == Some(axon_api::UsageSource::Gateway))
    })
    .await;
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.turns,
            usage.requests
        ),
        (120, 30, 1, 1),
        "{usage:?}"
    );
    step(
        t0,
        "gateway: a model call with the Task's token reaches the model with the real key; status.usage is the measure (source gateway)",
    );

    // Over budget: refused by the gateway, recorded as an Event on the Task.
    let (status, body) = messages(&http, &base, &token).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("maxTurns 1"), "{body}");
    assert_eq!(fake.requests().len(), 1, "nothing was forwarded");
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(admin.clone(), NS);
    let note = must("the BudgetExceeded Event on the Task", async || {
        events
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| {
                e.reason.as_deref() == Some("BudgetExceeded")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("metered")
            })
            .and_then(|e| e.note)
    })
    .await;
    assert!(note.contains("maxTurns 1"), "{note}");

    // Refused tokens: another uid, a finished Task, garbage.
    let other = axon_core::gateway_token::mint(
        &material.token_key,
        &TaskIdentity {
            uid: "another-uid".into(),
            ..id.clone()
        },
    );
    let hello = tasks.get("hello").await.expect("hello");
    let finished = axon_core::gateway_token::mint(
        &material.token_key,
        &TaskIdentity {
            namespace: NS.into(),
            name: "hello".into(),
            uid: hello.metadata.uid.clone().expect("uid"),
        },
    );
    for (what, key) in [
        ("another uid", other.as_str()),
        ("a finished Task", finished.as_str()),
        ("garbage", "axgw1.garbage.x"),
    ] {
        let (status, body) = messages(&http, &base, key).await;
        assert_eq!(status, 401, "{what}: {body}");
    }
    assert_eq!(fake.requests().len(), 1);
    step(
        t0,
        "gateway: the call over maxTurns is refused (BudgetExceeded Event); tokens of another uid, a finished Task, garbage get 401",
    );

    running.shutdown(Duration::from_secs(2)).await;
    let audit = out.text();
    assert!(
        audit
            .lines()
            .any(|l| l.contains(r#""task":"gw/metered""#) && l.contains(r#""status":200"#)),
        "{audit}"
    );
    assert!(
        !audit.contains("sk-ant-test") && !audit.contains(&token),
        "{audit}"
    );
    for line in audit.lines() {
        serde_json::from_str::<Value>(line).expect("every audit line is JSON");
    }

    // A restarted gateway continues from the recorded usage: the budget still holds.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let again = RunningGateway::start(
        as_gateway.clone(),
        &material,
        listener,
        Box::new(Captured::default()),
    )
    .expect("the gateway starts again");
    let base = again.base_url().expect("address");
    let (status, body) = messages(&http, &base, &token).await;
    assert_eq!(status, 400, "the restarted gateway knows the turn: {body}");
    assert_eq!(fake.requests().len(), 1);
    // The Task finishes: its token stops working within the grant cache's lifetime.
    let done = TaskStatus {
        phase: Some(axon_api::TaskPhase::Failed),
        ..Default::default()
    };
    tasks
        .patch_status(
            "metered",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": done.phase}})),
        )
        .await
        .expect("status");
    must("the finished Task's token to be refused", async || {
        let (status, _) = messages(&http, &base, &token).await;
        (status == 401).then_some(())
    })
    .await;
    again.shutdown(Duration::from_secs(2)).await;
    let kept = tasks.get("metered").await.expect("task");
    assert_eq!(
        kept.status.and_then(|s| s.usage).map(|u| u.turns),
        Some(1),
        "a refused call is no turn"
    );
    step(
        t0,
        "gateway restart: usage continues from status (budget holds); a finished Task's token stops working; audit lines name the Task, hold no secret",
    );
}
