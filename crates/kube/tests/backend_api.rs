//! The CLI's client (`KubeBackend`) against a scripted API server: the exact calls each
//! operation makes, in order, and what it returns.

mod support;

use axon_api::{Kind, Resource, Task, TaskPhase, TaskSpawner, TaskSpawnerPhase, TaskSpawnerStatus};
use axon_core::apply::ApplyOutcome;
use axon_kube::{KubeBackend, KubeError};
use http::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
use support::{Expect, Seen, expect, get, not_found, raw, scripted};

const GROUP: &str = "/apis/axon.io/v1alpha1/namespaces/ns";
const SECRETS: &str = "/api/v1/namespaces/ns/secrets";
const PODS: &str = "/api/v1/namespaces/ns/pods";

/// Runs `op` on a backend in namespace `ns` over `script`; the requests seen and the result.
async fn run<T, F, Fut>(script: Vec<Expect>, op: F) -> (Vec<Seen>, T)
where
    F: FnOnce(KubeBackend) -> Fut,
    Fut: Future<Output = T>,
{
    let (client, server) = scripted(script);
    let backend = KubeBackend::from_client(client, "ns");
    let result = tokio::time::timeout(Duration::from_secs(10), op(backend))
        .await
        .expect("the operation ends");
    let seen = server.await.expect("verifier");
    (seen, result)
}

fn path(kind: Kind, name: &str) -> String {
    format!("{GROUP}/{}/{name}", kind.plural())
}

fn status_404(message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
        "reason": "NotFound", "code": 404})
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
        "reason": reason, "code": code})
}

const NOT_INSTALLED: &str = "the server could not find the requested resource";

fn credentials() -> Value {
    json!({"type": "api-key", "secretRef": {"name": "key"}})
}

fn task_json(name: &str, phase: Option<&str>) -> Value {
    let mut t = json!({
        "apiVersion": "axon.io/v1alpha1", "kind": "Task",
        "metadata": {"name": name},
        "spec": {"type": "claude-code", "prompt": "Do it", "credentials": credentials()},
    });
    if let Some(p) = phase {
        t["status"] = json!({"phase": p});
    }
    t
}

/// One object of each kind, as a user writes it.
fn manifests() -> Vec<(Kind, Value)> {
    vec![
        (Kind::Task, task_json("t", None)),
        (
            Kind::Workspace,
            json!({"apiVersion": "axon.io/v1alpha1", "kind": "Workspace",
                "metadata": {"name": "repo"}, "spec": {"repo": "https://github.com/o/r.git"}}),
        ),
        (
            Kind::AgentConfig,
            json!({"apiVersion": "axon.io/v1alpha1", "kind": "AgentConfig",
                "metadata": {"name": "cfg"}, "spec": {"agentsMD": "Be brief."}}),
        ),
        (
            Kind::TaskSpawner,
            json!({"apiVersion": "axon.io/v1alpha1", "kind": "TaskSpawner",
                "metadata": {"name": "s"},
                "spec": {"when": {"cron": {"schedule": "* * * * *"}},
                    "taskTemplate": {"type": "claude-code", "credentials": credentials()}}}),
        ),
    ]
}

fn resource(kind: Kind, v: &Value) -> Resource {
    let v = v.clone();
    match kind {
        Kind::Task => Resource::Task(Box::new(serde_json::from_value(v).expect("task"))),
        Kind::Workspace => {
            Resource::Workspace(Box::new(serde_json::from_value(v).expect("workspace")))
        }
        Kind::AgentConfig => {
            Resource::AgentConfig(Box::new(serde_json::from_value(v).expect("agentconfig")))
        }
        Kind::TaskSpawner => {
            Resource::TaskSpawner(Box::new(serde_json::from_value(v).expect("spawner")))
        }
    }
}

/// What the API server holds after the object was applied: server fields added.
fn stored(v: &Value) -> Value {
    let mut s = v.clone();
    s["metadata"]["namespace"] = json!("ns");
    s["metadata"]["uid"] = json!("uid-1");
    s["metadata"]["resourceVersion"] = json!("7");
    s["metadata"]["generation"] = json!(1);
    s
}

fn assert_server_side_apply(seen: &Seen, path: &str) {
    assert_eq!((&seen.method, seen.path.as_str()), (&Method::PATCH, path));
    let query: Vec<&str> = seen.query.split('&').filter(|p| !p.is_empty()).collect();
    assert!(query.contains(&"fieldManager=axon"), "query {}", seen.query);
    assert!(query.contains(&"force=true"), "query {}", seen.query);
    assert_eq!(
        seen.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/apply-patch+yaml"[..])
    );
}

#[tokio::test]
async fn apply_refuses_a_prompt_over_one_mib_before_any_request() {
    let mut manifest = task_json("big", None);
    manifest["spec"]["prompt"] = json!("x".repeat(1024 * 1024 * 14 / 10));
    let r = resource(Kind::Task, &manifest);
    let (seen, outcome) = run(vec![], |b| async move { b.apply(r).await }).await;
    assert!(seen.is_empty(), "nothing is sent");
    let e = outcome.expect_err("refused");
    assert!(matches!(e, KubeError::PromptTooLarge(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "spec.prompt: 1.4 MiB is over the Kubernetes backend's 1 MiB limit (ConfigMap); use the local backend or a shorter prompt"
    );
}

#[tokio::test]
async fn apply_of_each_kind_is_a_forced_server_side_apply_and_reports_created() {
    for (kind, manifest) in manifests() {
        let p = path(kind, manifest["metadata"]["name"].as_str().expect("name"));
        let r = resource(kind, &manifest);
        let (seen, outcome) = run(
            vec![not_found(&p), expect(Method::PATCH, &p, 200, None)],
            |b| async move { b.apply(r).await },
        )
        .await;
        assert_eq!(outcome.expect("apply"), ApplyOutcome::Created, "{kind}");
        assert_eq!(seen[0].method, Method::GET);
        assert_server_side_apply(&seen[1], &p);
        let body = &seen[1].body;
        assert_eq!(body["kind"], manifest["kind"]);
        assert_eq!(body["metadata"]["namespace"], "ns", "{kind}");
        assert_eq!(body["spec"], manifest["spec"], "{kind}");
        assert!(body["metadata"].get("resourceVersion").is_none());
        assert!(body.get("status").is_none(), "{kind}: no status is applied");
    }
}

#[tokio::test]
async fn apply_reports_configured_or_unchanged_from_the_stored_object() {
    for (kind, manifest) in manifests() {
        let p = path(kind, manifest["metadata"]["name"].as_str().expect("name"));

        // Same spec and labels, server fields and a status added: unchanged.
        let mut same = stored(&manifest);
        if kind == Kind::Task {
            same["status"] = json!({"phase": "Running"});
        }
        let r = resource(kind, &manifest);
        let (seen, outcome) = run(
            vec![get(&p, same.clone()), expect(Method::PATCH, &p, 200, None)],
            |b| async move { b.apply(r).await },
        )
        .await;
        assert_eq!(outcome.expect("apply"), ApplyOutcome::Unchanged, "{kind}");
        assert_server_side_apply(&seen[1], &p);
        // What was read back is not sent back: no uid, resourceVersion or status.
        assert!(seen[1].body["metadata"].get("uid").is_none());
        assert!(seen[1].body["metadata"].get("resourceVersion").is_none());
        assert!(seen[1].body.get("status").is_none());

        // Another label: configured.
        let mut labelled = same.clone();
        labelled["metadata"]["labels"] = json!({"team": "a"});
        let r = resource(kind, &manifest);
        let (_, outcome) = run(
            vec![get(&p, labelled), expect(Method::PATCH, &p, 200, None)],
            |b| async move { b.apply(r).await },
        )
        .await;
        assert_eq!(outcome.expect("apply"), ApplyOutcome::Configured, "{kind}");
    }

    // Another spec: configured.
    let p = path(Kind::Task, "t");
    let mut other = stored(&task_json("t", None));
    other["spec"]["prompt"] = json!("Do something else");
    let r = resource(Kind::Task, &task_json("t", None));
    let (_, outcome) = run(
        vec![get(&p, other), expect(Method::PATCH, &p, 200, None)],
        |b| async move { b.apply(r).await },
    )
    .await;
    assert_eq!(outcome.expect("apply"), ApplyOutcome::Configured);
}

#[tokio::test]
async fn apply_without_the_crds_says_to_install() {
    let p = path(Kind::Task, "t");
    let r = resource(Kind::Task, &task_json("t", None));
    let (seen, result) = run(
        vec![expect(
            Method::GET,
            &p,
            404,
            Some(status_404(NOT_INSTALLED)),
        )],
        |b| async move { b.apply(r).await },
    )
    .await;
    assert_eq!(seen.len(), 1, "nothing is written");
    let err = result.expect_err("not installed");
    assert!(matches!(err, KubeError::NotInstalled { .. }), "{err:?}");
    assert!(err.to_string().contains("axon install"), "{err}");
}

#[tokio::test]
async fn get_returns_the_resource_or_none() {
    for (kind, manifest) in manifests() {
        let name = manifest["metadata"]["name"].as_str().expect("name");
        let p = path(kind, name);
        let (seen, found) = run(vec![get(&p, stored(&manifest))], |b| async move {
            b.get(kind, name).await
        })
        .await;
        assert_eq!(seen[0].method, Method::GET);
        let found = found.expect("get").expect("found");
        assert_eq!(found.kind(), manifest["kind"].as_str().expect("kind"));
        assert_eq!(found.name(), name);

        let (_, missing) = run(
            vec![expect(
                Method::GET,
                &p,
                404,
                Some(status_404(&format!(
                    "{} \"{name}\" not found",
                    kind.plural()
                ))),
            )],
            |b| async move { b.get(kind, name).await },
        )
        .await;
        assert!(missing.expect("get").is_none(), "{kind}");
    }
}

/// A 404 for the resource type (CRDs not installed) is not "no such object": `Api::get_opt`
/// reads every 404 as a missing object, so `axon get` said "not found" on a cluster without
/// Axon instead of "run axon install first".
#[tokio::test]
async fn get_and_delete_without_the_crds_say_to_install() {
    let p = path(Kind::Task, "t");
    let (_, result) = run(
        vec![expect(
            Method::GET,
            &p,
            404,
            Some(status_404(NOT_INSTALLED)),
        )],
        |b| async move { b.get(Kind::Task, "t").await },
    )
    .await;
    let err = result.expect_err("not installed");
    assert!(matches!(err, KubeError::NotInstalled { .. }), "{err:?}");

    let (_, result) = run(
        vec![expect(
            Method::DELETE,
            &p,
            404,
            Some(status_404(NOT_INSTALLED)),
        )],
        |b| async move { b.delete(Kind::Task, "t").await },
    )
    .await;
    let err = result.expect_err("not installed");
    assert!(matches!(err, KubeError::NotInstalled { .. }), "{err:?}");
}

/// Without Axon, the API server does not serve the axon.io group at all and answers a plain
/// text "404 page not found" (not a `Status`): that is "not installed" too.
#[tokio::test]
async fn a_cluster_without_the_axon_group_says_to_install() {
    let list_path = format!("{GROUP}/tasks");
    let (_, result) = run(
        vec![raw(Method::GET, &list_path, 404, "404 page not found\n")],
        |b| async move { b.list(Kind::Task).await },
    )
    .await;
    let err = result.expect_err("not installed");
    assert!(matches!(err, KubeError::NotInstalled { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("Axon is not installed"), "{text}");
    assert!(text.contains("`axon install`"), "{text}");
    assert!(!text.contains("404 page not found"), "{text}");
}

/// `get -o yaml` shows what a person wrote and what the controller reported, not the server's
/// field-manager bookkeeping.
#[tokio::test]
async fn get_and_list_drop_managed_fields() {
    let mut t = stored(&task_json("t", Some("Running")));
    t["metadata"]["managedFields"] = json!([{"manager": "axon", "operation": "Apply",
        "apiVersion": "axon.io/v1alpha1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]);
    let (_, found) = run(
        vec![get(&path(Kind::Task, "t"), t.clone())],
        |b| async move { b.get(Kind::Task, "t").await },
    )
    .await;
    let found = found.expect("get").expect("found");
    assert!(!found.to_value().to_string().contains("managedFields"));
    let list =
        json!({"apiVersion": "axon.io/v1alpha1", "kind": "TaskList", "metadata": {}, "items": [t]});
    let (_, listed) = run(vec![get(&format!("{GROUP}/tasks"), list)], |b| async move {
        b.list(Kind::Task).await
    })
    .await;
    let listed = listed.expect("list");
    assert!(!listed[0].to_value().to_string().contains("managedFields"));
}

#[tokio::test]
async fn list_returns_every_resource_sorted_by_name() {
    for (kind, manifest) in manifests() {
        let list_path = format!("{GROUP}/{}", kind.plural());
        let items: Vec<Value> = ["b", "c", "a"]
            .iter()
            .map(|n| {
                let mut m = stored(&manifest);
                m["metadata"]["name"] = json!(n);
                m
            })
            .collect();
        let list = json!({"apiVersion": "axon.io/v1alpha1", "kind": format!("{}List", manifest["kind"].as_str().expect("kind")),
            "metadata": {"resourceVersion": "9"}, "items": items});
        let (seen, listed) = run(vec![get(&list_path, list)], |b| async move {
            b.list(kind).await
        })
        .await;
        assert!(
            !seen[0].query.contains("labelSelector"),
            "the whole namespace: {}",
            seen[0].query
        );
        let listed = listed.expect("list");
        let names: Vec<&str> = listed.iter().map(Resource::name).collect();
        assert_eq!(names, ["a", "b", "c"], "{kind}");
    }
}

#[tokio::test]
async fn delete_is_true_when_it_existed_and_false_when_it_did_not() {
    for (kind, manifest) in manifests() {
        let name = manifest["metadata"]["name"].as_str().expect("name");
        let p = path(kind, name);
        let (seen, deleted) = run(
            vec![expect(Method::DELETE, &p, 200, Some(stored(&manifest)))],
            |b| async move { b.delete(kind, name).await },
        )
        .await;
        assert!(deleted.expect("delete"), "{kind}");
        assert_eq!(
            seen[0].body["propagationPolicy"], "Background",
            "{kind}: dependents follow"
        );

        let (_, deleted) = run(
            vec![expect(
                Method::DELETE,
                &p,
                404,
                Some(status_404(&format!(
                    "{} \"{name}\" not found",
                    kind.plural()
                ))),
            )],
            |b| async move { b.delete(kind, name).await },
        )
        .await;
        assert!(!deleted.expect("delete"), "{kind}");
    }

    let p = path(Kind::Task, "t");
    let (_, result) = run(
        vec![expect(
            Method::DELETE,
            &p,
            403,
            Some(status(403, "Forbidden", "tasks.axon.io \"t\" is forbidden")),
        )],
        |b| async move { b.delete(Kind::Task, "t").await },
    )
    .await;
    assert!(
        matches!(result, Err(KubeError::Forbidden { .. })),
        "{result:?}"
    );
}

const TOKEN: &str = "sk-ant-very-secret-1234";
/// `TOKEN`, base64 (as a Secret's `data` carries it).
const TOKEN_B64: &str = "c2stYW50LXZlcnktc2VjcmV0LTEyMzQ=";

fn secret_data() -> BTreeMap<String, String> {
    BTreeMap::from([("ANTHROPIC_API_KEY".to_string(), TOKEN.to_string())])
}

fn leaks(v: &impl ToString) -> bool {
    let s = v.to_string();
    s.contains(TOKEN) || s.contains(TOKEN_B64)
}

#[tokio::test]
async fn create_secret_is_one_forced_apply_and_twice_is_the_same_request() {
    let p = format!("{SECRETS}/key");
    let mut bodies = Vec::new();
    // An apply does not conflict on an existing Secret: the second run is the same request.
    for _ in 0..2 {
        let (seen, result) = run(vec![expect(Method::PATCH, &p, 200, None)], |b| async move {
            b.create_secret("key", secret_data()).await
        })
        .await;
        result.expect("create_secret");
        assert_eq!(seen.len(), 1, "no read of the Secret: {seen:#?}");
        assert_server_side_apply(&seen[0], &p);
        let body = &seen[0].body;
        assert_eq!(body["data"]["ANTHROPIC_API_KEY"], TOKEN_B64);
        assert_eq!(body["type"], "Opaque");
        assert_eq!(body["metadata"]["namespace"], "ns");
        assert_eq!(
            body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "axon"
        );
        assert!(!seen[0].query.contains(TOKEN) && !seen[0].query.contains(TOKEN_B64));
        bodies.push(body.clone());
    }
    assert_eq!(bodies[0], bodies[1]);
}

/// The value is in the request body only, never in an error: not even when the API server
/// (an admission webhook, a proxy) echoes it back in its message.
#[tokio::test]
async fn create_secret_errors_never_carry_the_value() {
    let p = format!("{SECRETS}/key");
    let answers = [
        status(409, "Conflict", "Apply failed with 1 conflict"),
        status(403, "Forbidden", "secrets \"key\" is forbidden"),
        status(
            400,
            "BadRequest",
            &format!(
                "admission webhook \"policy.example.com\" denied the request: data.ANTHROPIC_API_KEY={TOKEN_B64} ({TOKEN}) looks like a live key"
            ),
        ),
        status(
            403,
            "Forbidden",
            &format!("secrets \"key\" is forbidden: value {TOKEN} is not allowed"),
        ),
    ];
    for answer in answers {
        let code = answer["code"].as_u64().expect("code") as u16;
        let (seen, result) = run(
            vec![expect(Method::PATCH, &p, code, Some(answer.clone()))],
            |b| async move { b.create_secret("key", secret_data()).await },
        )
        .await;
        assert_eq!(seen[0].body["data"]["ANTHROPIC_API_KEY"], TOKEN_B64);
        let err = result.expect_err("refused");
        assert!(!leaks(&err), "the value leaked: {err}");
        assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
        assert!(!format!("{err:?}").contains(TOKEN_B64), "{err:?}");
        assert!(err.to_string().contains("Secret ns/key"), "{err}");
    }

    // Not even when the answer is not a Status at all.
    let (_, result) = run(
        vec![raw(
            Method::PATCH,
            &p,
            502,
            format!("<html>bad gateway for {TOKEN_B64}</html>"),
        )],
        |b| async move { b.create_secret("key", secret_data()).await },
    )
    .await;
    let err = result.expect_err("bad gateway");
    assert!(!leaks(&err), "the value leaked: {err}");
}

#[tokio::test]
async fn secret_exists_fetches_metadata_only() {
    let p = format!("{SECRETS}/key");
    let meta = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
        "metadata": {"name": "key", "namespace": "ns"}});
    let (seen, exists) = run(vec![get(&p, meta)], |b| async move {
        b.secret_exists("key").await
    })
    .await;
    assert!(exists.expect("secret_exists"));
    let accept = seen[0]
        .headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        accept.contains("as=PartialObjectMetadata"),
        "metadata only, never the data: Accept {accept:?}"
    );

    let (_, exists) = run(vec![not_found(&p)], |b| async move {
        b.secret_exists("key").await
    })
    .await;
    assert!(!exists.expect("secret_exists"));

    let (_, result) = run(
        vec![expect(
            Method::GET,
            &p,
            403,
            Some(status(403, "Forbidden", "secrets \"key\" is forbidden")),
        )],
        |b| async move { b.secret_exists("key").await },
    )
    .await;
    assert!(
        matches!(result, Err(KubeError::Forbidden { .. })),
        "{result:?}"
    );
}

fn task_with(phase: &str, rv: &str) -> Value {
    let mut t = stored(&task_json("t", Some(phase)));
    t["metadata"]["resourceVersion"] = json!(rv);
    t
}

fn task_list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "axon.io/v1alpha1", "kind": "TaskList",
        "metadata": {"resourceVersion": "10"}, "items": items})
}

fn events(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(t, o)| format!("{}\n", json!({"type": t, "object": o})))
        .collect()
}

fn assert_watch_of_t(seen: &[Seen]) {
    let tasks = format!("{GROUP}/tasks");
    for s in seen {
        assert_eq!((&s.method, s.path.as_str()), (&Method::GET, tasks.as_str()));
        assert!(
            s.query.contains("fieldSelector=metadata.name%3Dt"),
            "only Task t: {}",
            s.query
        );
    }
    assert!(!seen[0].query.contains("watch=true"), "a list first");
    for s in &seen[1..] {
        assert!(s.query.contains("watch=true"), "then a watch: {}", s.query);
    }
}

#[tokio::test]
async fn wait_returns_the_task_once_it_succeeded() {
    let tasks = format!("{GROUP}/tasks");
    let (seen, done) = run(
        vec![
            get(&tasks, task_list(vec![task_with("Running", "10")])),
            raw(
                Method::GET,
                &tasks,
                200,
                events(&[
                    ("MODIFIED", task_with("Running", "11")),
                    ("MODIFIED", task_with("Succeeded", "12")),
                ]),
            ),
        ],
        |b| async move { b.wait("t").await },
    )
    .await;
    let done: Task = done.expect("wait");
    assert_eq!(
        done.status.and_then(|s| s.phase),
        Some(TaskPhase::Succeeded)
    );
    assert_eq!(done.metadata.resource_version.as_deref(), Some("12"));
    assert_watch_of_t(&seen);
}

#[tokio::test]
async fn wait_on_a_finished_task_returns_at_once() {
    let tasks = format!("{GROUP}/tasks");
    let (seen, done) = run(
        vec![get(&tasks, task_list(vec![task_with("Failed", "10")]))],
        |b| async move { b.wait("t").await },
    )
    .await;
    assert_eq!(
        done.expect("wait").status.and_then(|s| s.phase),
        Some(TaskPhase::Failed)
    );
    assert_eq!(seen.len(), 1, "no watch needed");
}

#[tokio::test]
async fn wait_ends_with_not_found_when_the_task_is_deleted_mid_wait() {
    let tasks = format!("{GROUP}/tasks");
    let (seen, result) = run(
        vec![
            get(&tasks, task_list(vec![task_with("Running", "10")])),
            raw(
                Method::GET,
                &tasks,
                200,
                events(&[
                    ("MODIFIED", task_with("Running", "11")),
                    ("DELETED", task_with("Running", "12")),
                ]),
            ),
        ],
        |b| async move { b.wait("t").await },
    )
    .await;
    assert_watch_of_t(&seen);
    match result {
        Err(KubeError::NotFound {
            kind,
            name,
            namespace,
        }) => assert_eq!(
            (kind.as_str(), name.as_str(), namespace.as_str()),
            ("Task", "t", "ns")
        ),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn wait_on_a_missing_task_is_not_found() {
    let tasks = format!("{GROUP}/tasks");
    let (seen, result) = run(vec![get(&tasks, task_list(vec![]))], |b| async move {
        b.wait("t").await
    })
    .await;
    assert_eq!(seen.len(), 1);
    assert!(
        matches!(result, Err(KubeError::NotFound { .. })),
        "{result:?}"
    );
}

fn spawner() -> TaskSpawner {
    let mut s = stored(&manifests()[3].1);
    s["metadata"]["uid"] = json!("spawner-uid");
    serde_json::from_value(s).expect("spawner")
}

#[tokio::test]
async fn create_task_if_absent_creates_an_owned_labelled_task_or_leaves_the_existing_one() {
    let tasks = format!("{GROUP}/tasks");
    let new_task = || -> Task { serde_json::from_value(task_json("s-1", None)).expect("task") };
    let (seen, created) = run(
        vec![expect(Method::POST, &tasks, 201, None)],
        |b| async move { b.create_task_if_absent(&spawner(), new_task()).await },
    )
    .await;
    assert!(created.expect("create"));
    let body = &seen[0].body;
    assert_eq!(body["metadata"]["name"], "s-1");
    assert_eq!(body["metadata"]["namespace"], "ns");
    assert_eq!(body["metadata"]["labels"]["axon.io/taskspawner"], "s");
    assert_eq!(
        body["metadata"]["ownerReferences"],
        json!([{"apiVersion": "axon.io/v1alpha1", "kind": "TaskSpawner", "name": "s",
            "uid": "spawner-uid", "controller": true, "blockOwnerDeletion": true}])
    );

    let (seen, created) = run(
        vec![expect(
            Method::POST,
            &tasks,
            409,
            Some(status(
                409,
                "AlreadyExists",
                "tasks.axon.io \"s-1\" already exists",
            )),
        )],
        |b| async move { b.create_task_if_absent(&spawner(), new_task()).await },
    )
    .await;
    assert!(!created.expect("an existing Task is not an error"));
    assert_eq!(seen.len(), 1, "the existing Task is left alone");

    let (_, result) = run(
        vec![expect(
            Method::POST,
            &tasks,
            422,
            Some(status(422, "Invalid", "Task.axon.io \"s-1\" is invalid")),
        )],
        |b| async move { b.create_task_if_absent(&spawner(), new_task()).await },
    )
    .await;
    let err = result.expect_err("invalid");
    assert!(err.to_string().contains("create Task ns/s-1"), "{err}");
}

#[tokio::test]
async fn write_spawner_status_merge_patches_the_status_subresource() {
    let p = format!("{}/status", path(Kind::TaskSpawner, "s"));
    let st = TaskSpawnerStatus {
        phase: Some(TaskSpawnerPhase::Running),
        deployment_name: Some("the controller's".into()),
        total_tasks_created: 3,
        ..TaskSpawnerStatus::default()
    };
    let (seen, result) = run(
        vec![expect(
            Method::PATCH,
            &p,
            200,
            Some(stored(&manifests()[3].1)),
        )],
        |b| async move { b.write_spawner_status("s", &st).await },
    )
    .await;
    result.expect("write status");
    assert_eq!(
        seen[0].headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/merge-patch+json"[..])
    );
    let body = &seen[0].body;
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "status only: {body}"
    );
    assert_eq!(body["status"]["phase"], "Running");
    assert_eq!(body["status"]["totalTasksCreated"], 3);
    assert_eq!(body["status"]["message"], Value::Null, "cleared explicitly");
    assert!(
        body["status"].get("deploymentName").is_none(),
        "deploymentName belongs to the controller"
    );
    assert!(!seen[0].query.contains("fieldManager"), "{}", seen[0].query);
}

fn pod(name: &str, created: &str, prepare: &str, agent: &str) -> Value {
    let state = |s: &str| match s {
        "running" => json!({"running": {}}),
        "terminated" => json!({"terminated": {"exitCode": 0}}),
        _ => json!({"waiting": {}}),
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
        "status": {"phase": "Succeeded",
            "initContainerStatuses": [{"name": "prepare", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": state(prepare)},
                {"name": "agent", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": state(agent)}],
            "containerStatuses": [{"name": "results", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": state("terminated")}]},
    })
}

fn pod_list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
}

#[tokio::test]
async fn logs_find_the_newest_pod_by_label_and_print_prepare_then_agent() {
    let old = pod("t-old", "2026-01-01T00:00:00Z", "terminated", "terminated");
    let new = pod("t-new", "2026-01-02T00:00:00Z", "terminated", "terminated");
    let pod_path = format!("{PODS}/t-new");
    let log_path = format!("{pod_path}/log");
    let (seen, out) = run(
        vec![
            get(PODS, pod_list(vec![old, new.clone()])),
            get(&pod_path, new.clone()),
            raw(Method::GET, &log_path, 200, "cloning o/r\n"),
            get(&pod_path, new),
            raw(Method::GET, &log_path, 200, "agent says hi\n"),
            get(
                &path(Kind::Task, "t"),
                stored(&task_json("t", Some("Succeeded"))),
            ),
        ],
        |b| async move {
            let mut out = Vec::new();
            let mut notices = Vec::new();
            let opts = axon_kube::logs::LogOptions {
                follow: true,
                wait: Duration::from_secs(5),
            };
            let result = {
                let mut note = |m: &str| notices.push(m.to_string());
                b.logs_with("t", opts, &mut out, &mut note).await
            };
            result.map(|()| (out, notices))
        },
    )
    .await;
    let (out, notices) = out.expect("logs");
    assert_eq!(
        notices,
        ["Task t Succeeded"],
        "how it ended, apart from the log"
    );
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "cloning o/r\nagent says hi\n"
    );
    assert_eq!(seen[0].query, "&labelSelector=axon.io%2Ftask%3Dt");
    assert!(
        seen[2].query.contains("container=prepare"),
        "{}",
        seen[2].query
    );
    assert!(
        seen[4].query.contains("container=agent"),
        "{}",
        seen[4].query
    );
    for s in [&seen[2], &seen[4]] {
        assert!(
            !s.query.contains("follow=true"),
            "a finished container is not followed: {}",
            s.query
        );
    }
}

#[tokio::test]
async fn logs_skip_a_pod_without_the_prepare_container() {
    let mut p = pod("t-x", "2026-01-01T00:00:00Z", "terminated", "terminated");
    p["status"]["initContainerStatuses"]
        .as_array_mut()
        .expect("init statuses")
        .remove(0);
    let pod_path = format!("{PODS}/t-x");
    let (seen, out) = run(
        vec![
            get(PODS, pod_list(vec![p.clone()])),
            get(&pod_path, p.clone()),
            get(&pod_path, p),
            raw(
                Method::GET,
                &format!("{pod_path}/log"),
                200,
                "only the agent\n",
            ),
        ],
        |b| async move {
            let mut out = Vec::new();
            b.logs("t", false, &mut out).await.map(|()| out)
        },
    )
    .await;
    assert_eq!(out.expect("logs"), b"only the agent\n");
    assert!(seen[3].query.contains("container=agent"));
}

#[tokio::test]
async fn logs_without_a_pod_say_why() {
    let task = stored(&task_json("t", None));
    let (seen, result) = run(
        vec![
            get(PODS, pod_list(vec![])),
            get(&path(Kind::Task, "t"), task),
        ],
        |b| async move {
            let mut out = Vec::new();
            b.logs("t", false, &mut out).await
        },
    )
    .await;
    assert_eq!(seen[0].query, "&labelSelector=axon.io%2Ftask%3Dt");
    match result {
        Err(KubeError::NoPod { task, reason }) => {
            assert_eq!(task, "t");
            assert_eq!(reason, "it has not started yet");
        }
        other => panic!("expected NoPod, got {other:?}"),
    }

    let mut failed = stored(&task_json("t", Some("Failed")));
    failed["status"]["message"] = json!("Workspace \"repo\" not found");
    let (_, result) = run(
        vec![
            get(PODS, pod_list(vec![])),
            get(&path(Kind::Task, "t"), failed),
        ],
        |b| async move {
            let mut out = Vec::new();
            b.logs("t", true, &mut out).await
        },
    )
    .await;
    match result {
        Err(KubeError::NoPod { reason, .. }) => assert_eq!(reason, "Workspace \"repo\" not found"),
        other => panic!("expected NoPod, got {other:?}"),
    }

    let (_, result) = run(
        vec![
            get(PODS, pod_list(vec![])),
            not_found(&path(Kind::Task, "t")),
        ],
        |b| async move {
            let mut out = Vec::new();
            b.logs("t", true, &mut out).await
        },
    )
    .await;
    assert!(
        matches!(result, Err(KubeError::NotFound { .. })),
        "{result:?}"
    );
}

/// `axon logs --requests` on Kubernetes: the gateway does not run there yet, so the backend
/// says so, and where request logs are, instead of an empty success; nothing is asked of the
/// API server and nothing is written.
#[tokio::test]
async fn request_logs_are_the_tasks_lines_of_the_gateway_pods_logs() {
    const GATEWAY_PODS: &str = "/api/v1/namespaces/axon-system/pods";
    let gateway_pod = |name: &str, created: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "axon-system", "creationTimestamp": created}})
    };
    let record = |task: &str, path: &str| {
        format!(
            r#"{{"task":"{task}","at":"2026-11-30T10:00:00.000Z","kind":"model","method":"POST","host":"api.anthropic.com","path":"{path}","status":200,"bytesUp":1,"bytesDown":2,"durationMs":3,"decision":"allowed"}}"#
        )
    };
    let old_log = format!(
        "{}\n2026-11-30T10:00:00Z  INFO the Axon gateway serves the cluster's Tasks\n{}\n",
        record("ns/t", "/v1/first"),
        record("ns/t-2", "/v1/other-task")
    );
    let new_log = format!(
        "{}\n{}\n",
        record("other/t", "/v1/other-namespace"),
        record("ns/t", "/v1/second")
    );
    let (seen, (result, out)) = run(
        vec![
            get(
                &path(Kind::Task, "t"),
                stored(&task_json("t", Some("Succeeded"))),
            ),
            get(
                GATEWAY_PODS,
                pod_list(vec![
                    gateway_pod("gw-new", "2026-11-30T09:00:00Z"),
                    gateway_pod("gw-old", "2026-11-29T09:00:00Z"),
                ]),
            ),
            raw(
                Method::GET,
                &format!("{GATEWAY_PODS}/gw-old/log"),
                200,
                old_log,
            ),
            raw(
                Method::GET,
                &format!("{GATEWAY_PODS}/gw-new/log"),
                200,
                new_log,
            ),
        ],
        |b| async move {
            let mut out = Vec::new();
            let result = axon_port::Backend::requests(&b, "t", true, &mut out, &mut |_| {}).await;
            (result, out)
        },
    )
    .await;
    result.expect("the request log");
    let lines: Vec<Value> = String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let paths: Vec<&str> = lines.iter().filter_map(|l| l["path"].as_str()).collect();
    assert_eq!(paths, ["/v1/first", "/v1/second"], "oldest Pod first");
    assert!(lines.iter().all(|l| l.get("task").is_none()));
    assert!(
        seen.iter().any(|s| s.query.contains("labelSelector")),
        "{seen:#?}"
    );
    // A finished Task is not followed.
    assert_eq!(seen.len(), 4, "{seen:#?}");
}

#[tokio::test]
async fn request_logs_without_a_gateway_pod_say_how_to_get_one() {
    let (_, result) = run(
        vec![
            get(
                &path(Kind::Task, "t"),
                stored(&task_json("t", Some("Running"))),
            ),
            get("/api/v1/namespaces/axon-system/pods", pod_list(vec![])),
        ],
        |b| async move {
            let mut out = Vec::new();
            axon_port::Backend::requests(&b, "t", false, &mut out, &mut |_| {}).await
        },
    )
    .await;
    let message = result.expect_err("no gateway").to_string();
    assert!(
        message.contains("Task \"t\"")
            && message.contains("no Axon gateway Pod")
            && message.contains("axon install"),
        "{message}"
    );
}

/// Follows `logs_with` with a short wait bound; the output, the notices and the result.
async fn follow(
    script: Vec<Expect>,
    wait: Duration,
) -> (Vec<Seen>, Vec<u8>, Vec<String>, Result<(), KubeError>) {
    let (seen, (out, notices, result)) = run(script, |b| async move {
        let mut out = Vec::new();
        let mut notices = Vec::new();
        let opts = axon_kube::logs::LogOptions { follow: true, wait };
        let result = {
            let mut note = |m: &str| notices.push(m.to_string());
            b.logs_with("t", opts, &mut out, &mut note).await
        };
        (out, notices, result)
    })
    .await;
    (seen, out, notices, result)
}

/// `logs -f` on a Pod whose containers have no status yet waits (saying for what) instead of
/// returning at once with nothing, and stops when the Task ends.
#[tokio::test]
async fn following_a_pod_that_has_not_started_waits_and_ends_with_the_task() {
    let unstarted = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "t-new", "namespace": "ns", "creationTimestamp": "2026-01-02T00:00:00Z"},
        "spec": {"initContainers": [{"name": "agent"}], "containers": [{"name": "results"}]},
        "status": {"phase": "Pending"}});
    let pod_path = format!("{PODS}/t-new");
    let pending = stored(&task_json("t", Some("Pending")));
    let mut failed = stored(&task_json("t", Some("Failed")));
    failed["status"]["message"] = json!("cannot pull image img: ImagePullBackOff");
    let (_, out, notices, result) = follow(
        vec![
            get(PODS, pod_list(vec![unstarted.clone()])),
            // No Workspace, so no `prepare`: skipped; then the agent, not started.
            get(&pod_path, unstarted.clone()),
            get(&pod_path, unstarted),
            get(&path(Kind::Task, "t"), pending),
            // The controller failed the Task and deleted its Job: the Pod is gone.
            not_found(&pod_path),
            get(&path(Kind::Task, "t"), failed),
        ],
        Duration::from_secs(5),
    )
    .await;
    result.expect("logs");
    assert!(out.is_empty());
    assert_eq!(
        notices,
        [
            "waiting: Pod t-new is Pending and not scheduled to a node yet",
            "Task t Failed: cannot pull image img: ImagePullBackOff",
        ]
    );
}

#[tokio::test]
async fn following_gives_up_after_its_wait_bound_and_says_on_what() {
    let (_, _, _, result) = follow(
        vec![
            get(PODS, pod_list(vec![])),
            get(
                &path(Kind::Task, "t"),
                stored(&task_json("t", Some("Pending"))),
            ),
        ],
        Duration::ZERO,
    )
    .await;
    match result {
        Err(KubeError::Timeout { what, seconds: 0 }) => {
            assert!(what.contains("Task t has no Pod yet"), "{what}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// Kind and name of each install document, in order.
fn install_docs() -> Vec<(String, String, String)> {
    axon_kube::manifests::install_manifests("img", "v")
        .iter()
        .map(|d| {
            let kind = d["kind"].as_str().expect("kind").to_string();
            let name = d["metadata"]["name"].as_str().expect("name").to_string();
            (kind.clone(), name.clone(), doc_path(&kind, &name))
        })
        .collect()
}

fn doc_path(kind: &str, name: &str) -> String {
    match kind {
        "CustomResourceDefinition" => {
            format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        }
        "Namespace" => format!("/api/v1/namespaces/{name}"),
        "ServiceAccount" => format!("/api/v1/namespaces/axon-system/serviceaccounts/{name}"),
        "ClusterRole" => format!("/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"),
        "ClusterRoleBinding" => {
            format!("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}")
        }
        "Role" => format!("/apis/rbac.authorization.k8s.io/v1/namespaces/axon-system/roles/{name}"),
        "RoleBinding" => {
            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/axon-system/rolebindings/{name}")
        }
        "Deployment" => format!("/apis/apps/v1/namespaces/axon-system/deployments/{name}"),
        "Service" => format!("/api/v1/namespaces/axon-system/services/{name}"),
        other => panic!("unexpected install document {other}"),
    }
}

#[tokio::test]
async fn install_applies_crds_first_then_waits_for_them_and_the_controller() {
    let docs = install_docs();
    let kinds: Vec<&str> = docs.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment",
        ],
        "CRDs and the namespace before what lives in it; the controller, then the gateway"
    );
    // A namespace left terminating by an uninstall would refuse what goes in it.
    let mut script = vec![not_found("/api/v1/namespaces/axon-system")];
    let gateway_secret = "/api/v1/namespaces/axon-system/secrets/axon-gateway";
    for (kind, _, p) in &docs {
        script.push(expect(Method::PATCH, p, 200, None));
        if kind == "Namespace" {
            // The gateway's Secret, made once: absent here, so created.
            script.push(not_found(gateway_secret));
            script.push(expect(
                Method::POST,
                "/api/v1/namespaces/axon-system/secrets",
                201,
                None,
            ));
        }
    }
    let crds_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let crd_names: Vec<String> = axon_api::crd::crds()
        .iter()
        .map(|c| c.metadata.name.clone().expect("name"))
        .collect();
    for name in &crd_names {
        let established = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinitionList",
            "metadata": {"resourceVersion": "1"},
            "items": [{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": name, "resourceVersion": "1"},
                "spec": {"group": "axon.io", "names": {"kind": "X", "plural": "xs"}, "scope": "Namespaced", "versions": []},
                "status": {"conditions": [{"type": "Established", "status": "True"}]}}]});
        script.push(get(crds_path, established));
    }
    let deployments = "/apis/apps/v1/namespaces/axon-system/deployments";
    script.push(get(
        deployments,
        json!({"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {"resourceVersion": "1"},
            "items": [{"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "axon-controller", "namespace": "axon-system", "resourceVersion": "1"},
                "status": {"availableReplicas": 1}}]}),
    ));
    let (seen, result) = run(script, |b| async move {
        let mut steps = Vec::new();
        b.install("img", "v", Some(Duration::from_secs(5)), |s| {
            steps.push(s.to_string())
        })
        .await
        .map(|()| steps)
    })
    .await;
    let steps = result.expect("install");
    let created = seen
        .iter()
        .find(|s| s.method == Method::POST)
        .expect("the gateway Secret created");
    assert_eq!(created.body["metadata"]["name"], "axon-gateway");
    assert_eq!(created.body["type"], "Opaque");
    let keys: Vec<&String> = created.body["data"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["ca.crt", "ca.key", "token-key"]);
    assert!(
        steps.contains(&"created Secret axon-system/axon-gateway (the gateway's token key and CA, generated now)".to_string()),
        "{steps:?}"
    );
    let seen: Vec<Seen> = seen[1..]
        .iter()
        .filter(|s| s.path != gateway_secret && s.method != Method::POST)
        .cloned()
        .collect();
    for (s, (kind, name, p)) in seen.iter().zip(&docs) {
        assert_server_side_apply(s, p);
        assert_eq!(s.body["kind"], kind.as_str());
        assert_eq!(s.body["metadata"]["name"], name.as_str());
    }
    for (s, name) in seen[docs.len()..].iter().zip(&crd_names) {
        assert!(
            s.query
                .contains(&format!("fieldSelector=metadata.name%3D{name}")),
            "{}",
            s.query
        );
    }
    assert!(
        seen.last()
            .expect("seen")
            .query
            .contains("metadata.name%3Daxon-controller")
    );
    assert_eq!(
        steps.first().map(String::as_str),
        Some("applied CustomResourceDefinition tasks.axon.io")
    );
    assert_eq!(steps.last().map(String::as_str), Some("Axon is installed"));
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items})
}

fn meta(api_version: &str, kind: &str, ns: &str, name: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}})
}

fn success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Success"})
}

#[tokio::test]
async fn uninstall_stops_the_controller_then_deletes_the_crds_secrets_and_the_rest() {
    let docs = install_docs();
    let (deployment, rest): (Vec<_>, Vec<_>) = docs.iter().partition(|(k, _, _)| k == "Deployment");
    let (crds, rest): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|(k, _, _)| k == "CustomResourceDefinition");
    let delete = |kind: &str, name: &str, p: &str| {
        if kind == "Role" {
            // Already gone: not an error.
            expect(
                Method::DELETE,
                p,
                404,
                Some(status_404(&format!("roles \"{name}\" not found"))),
            )
        } else {
            expect(Method::DELETE, p, 200, Some(success()))
        }
    };
    let mut script: Vec<Expect> = deployment.iter().map(|(k, n, p)| delete(k, n, p)).collect();
    // What goes with the CRDs is counted first (metadata only, every namespace).
    let task = meta("axon.io/v1alpha1", "Task", "ns", "t");
    script.push(get(
        "/apis/axon.io/v1alpha1/tasks",
        list("TaskList", vec![task.clone(), task]),
    ));
    script.push(get(
        "/apis/axon.io/v1alpha1/workspaces",
        list("WorkspaceList", vec![]),
    ));
    script.push(get(
        "/apis/axon.io/v1alpha1/agentconfigs",
        list("AgentConfigList", vec![]),
    ));
    script.push(get(
        "/apis/axon.io/v1alpha1/taskspawners",
        list(
            "TaskSpawnerList",
            vec![meta("axon.io/v1alpha1", "TaskSpawner", "ns", "s")],
        ),
    ));
    // What Axon's resources own, by label, before their CRDs go.
    script.push(get(
        "/apis/apps/v1/deployments",
        list(
            "DeploymentList",
            vec![meta("apps/v1", "Deployment", "ns", "s-spawner")],
        ),
    ));
    script.push(get(
        "/apis/batch/v1/jobs",
        list("JobList", vec![meta("batch/v1", "Job", "ns", "t")]),
    ));
    script.push(expect(
        Method::DELETE,
        "/apis/apps/v1/namespaces/ns/deployments/s-spawner",
        200,
        Some(success()),
    ));
    script.push(expect(
        Method::DELETE,
        "/apis/batch/v1/namespaces/ns/jobs/t",
        200,
        Some(success()),
    ));
    script.extend(crds.iter().map(|(k, n, p)| delete(k, n, p)));
    // The Secrets `axon create secret` made, in every namespace.
    script.push(get(
        "/api/v1/secrets",
        list(
            "SecretList",
            vec![
                meta("v1", "Secret", "ns", "claude"),
                meta("v1", "Secret", "axon-system", "axon-gateway"),
            ],
        ),
    ));
    script.push(expect(
        Method::DELETE,
        &format!("{SECRETS}/claude"),
        200,
        Some(success()),
    ));
    script.push(expect(
        Method::DELETE,
        "/api/v1/namespaces/axon-system/secrets/axon-gateway",
        200,
        Some(success()),
    ));
    // What the controller put in Task namespaces for the gateway.
    script.push(get(
        "/api/v1/configmaps",
        list(
            "ConfigMapList",
            vec![meta("v1", "ConfigMap", "ns", "axon-gateway-ca")],
        ),
    ));
    script.push(get(
        "/apis/networking.k8s.io/v1/networkpolicies",
        list(
            "NetworkPolicyList",
            vec![meta(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                "ns",
                "axon-agent-restricted",
            )],
        ),
    ));
    script.push(expect(
        Method::DELETE,
        "/api/v1/namespaces/ns/configmaps/axon-gateway-ca",
        200,
        Some(success()),
    ));
    script.push(expect(
        Method::DELETE,
        "/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/axon-agent-restricted",
        200,
        Some(success()),
    ));
    let rest: Vec<_> = rest.into_iter().rev().collect();
    script.extend(rest.iter().map(|(k, n, p)| delete(k, n, p)));
    let kinds: Vec<&str> = rest.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Service",
            "ClusterRoleBinding",
            "ClusterRole",
            "ServiceAccount",
            "RoleBinding",
            "Role",
            "ClusterRoleBinding",
            "ClusterRole",
            "ServiceAccount",
            "Namespace",
        ]
    );
    let expected = script.len();
    let (seen, result) = run(script, |b| async move {
        let mut steps = Vec::new();
        b.uninstall(|s| steps.push(s.to_string()))
            .await
            .map(|r| (r, steps))
    })
    .await;
    let (report, steps) = result.expect("uninstall");
    assert_eq!(seen.len(), expected);
    for s in seen.iter().filter(|s| s.method == Method::DELETE) {
        assert_eq!(s.body["propagationPolicy"], "Background");
    }
    let secrets = seen
        .iter()
        .find(|s| s.path == "/api/v1/secrets")
        .expect("listed");
    assert!(
        secrets
            .query
            .contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Daxon"),
        "{}",
        secrets.query
    );
    assert_eq!(
        secrets
            .headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .map(|a| a.contains("PartialObjectMetadataList")),
        Some(true),
        "only the Secrets' metadata is read"
    );
    assert!(
        steps.contains(
            &"Role axon-system/axon-controller-leader-election was not there".to_string()
        )
    );
    assert_eq!(
        steps.last().map(String::as_str),
        Some("Axon is uninstalled")
    );
    assert_eq!(report.secrets, ["ns/claude"]);
    for line in [
        "Secret axon-system/axon-gateway (the gateway's token key and CA; a new install makes new ones)",
        "ConfigMap ns/axon-gateway-ca",
        "NetworkPolicy ns/axon-agent-restricted",
        "Deployment axon-system/axon-gateway",
        "Service axon-system/axon-gateway",
    ] {
        assert!(
            report.removed.contains(&line.to_string()),
            "{line}: {:?}",
            report.removed
        );
    }
    let configmaps = seen
        .iter()
        .find(|s| s.path == "/api/v1/configmaps")
        .expect("listed");
    assert!(
        configmaps
            .query
            .contains("app.kubernetes.io%2Fcomponent%3Dgateway"),
        "{}",
        configmaps.query
    );
    assert!(
        report
            .removed
            .contains(&"Deployment axon-system/axon-controller".to_string())
    );
    assert!(
        report
            .removed
            .iter()
            .any(|l| l.starts_with("2 Tasks, 1 TaskSpawner (with their CRDs")),
        "{:?}",
        report.removed
    );
    assert!(
        report
            .removed
            .contains(&"Namespace axon-system".to_string())
    );
    assert!(
        !report.removed.iter().any(|l| l.starts_with("Role ")),
        "was not there"
    );
    assert!(report.left.is_empty());
}
