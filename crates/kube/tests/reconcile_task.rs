//! Every Task reconcile path against a scripted API server: the exact calls the controller
//! makes, and the status it writes.

mod support;

use axon_api::{
    AgentType, CredentialType, Credentials, LocalObjectReference, SecretReference, Task, TaskPhase,
    TaskSpec, TaskStatus,
};
use axon_kube::job::JobOptions;
use axon_kube::metrics::Metrics;
use axon_kube::task_controller::{Context, ControllerGateway, reconcile};
use http::Method;
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Expect, Seen, expect, get, not_found, scripted};

const JOB: &str = "/apis/batch/v1/namespaces/ns/jobs/t";
const JOBS: &str = "/apis/batch/v1/namespaces/ns/jobs";
const CONFIGMAPS: &str = "/api/v1/namespaces/ns/configmaps";
const PODS: &str = "/api/v1/namespaces/ns/pods";
const SECRET: &str = "/api/v1/namespaces/ns/secrets/key";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/ns/events";
const STATUS: &str = "/apis/axon.io/v1alpha1/namespaces/ns/tasks/t/status";
const TASK: &str = "/apis/axon.io/v1alpha1/namespaces/ns/tasks/t";

fn task(status: Option<TaskStatus>) -> Task {
    let mut t = Task::new(
        "t",
        TaskSpec {
            type_: AgentType::ClaudeCode,
            prompt: "Do it".into(),
            credentials: Credentials {
                type_: CredentialType::ApiKey,
                secret_ref: SecretReference { name: "key".into() },
            },
            model: None,
            image: None,
            workspace_ref: None,
            agent_config_refs: Vec::new(),
            agent_config_ref: None,
            ttl_seconds_after_finished: None,
            timeout_seconds: Some(600),
            backoff_limit: None,
            model_base_url: None,
            env: vec![],
            depends_on: vec![],
            branch: None,
            budget: None,
            network: None,
            policy: None,
            pricing: vec![],
        },
    );
    t.metadata.namespace = Some("ns".into());
    t.metadata.uid = Some("uid-1".into());
    t.metadata.generation = Some(1);
    t.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2020-01-01T00:00:00Z".parse().expect("time"),
    ));
    t.status = status;
    t
}

fn context(client: Client) -> (Arc<Context>, Arc<Metrics>) {
    context_with(client, None)
}

fn context_with(
    client: Client,
    gateway: Option<ControllerGateway>,
) -> (Arc<Context>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let ctx = Context {
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
            default_timeout_seconds: 14400,
        },
        metrics: metrics.clone(),
        gateway,
    };
    (Arc::new(ctx), metrics)
}

async fn run(t: Task, script: Vec<Expect>) -> (Vec<Seen>, Arc<Metrics>) {
    let (client, server) = scripted(script);
    let (ctx, metrics) = context(client);
    let result = reconcile(Arc::new(t), ctx.clone()).await;
    drop(ctx);
    let seen = server.await.expect("verifier");
    assert!(result.is_ok(), "reconcile failed: {result:?}");
    (seen, metrics)
}

fn secret(keys: &[&str]) -> Value {
    let data: serde_json::Map<String, Value> = keys
        .iter()
        .map(|k| (k.to_string(), json!("c2VjcmV0")))
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "key", "namespace": "ns"}, "data": data})
}

fn job(status: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "t", "namespace": "ns"}, "spec": {"template": {}}, "status": status})
}

fn pods(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
}

/// A Pod: the agent init container in `agent_state`, the results container in `results_state`.
fn pod(agent_state: Value, results_state: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "t-x1", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"phase": "Running",
            "initContainerStatuses": [
                {"name": "agent", "image": "img", "imageID": "", "ready": true, "restartCount": 0, "state": agent_state}
            ],
            "containerStatuses": [
                {"name": "results", "image": "axon", "imageID": "", "ready": false, "restartCount": 0, "state": results_state}
            ]}
    })
}

fn initializing() -> Value {
    json!({"waiting": {"reason": "PodInitializing"}})
}

/// The agent init container after its wrapper exited 0, with a (forgeable) message of its own.
fn agent_done(message: &str) -> Value {
    json!({"terminated": {"exitCode": 0, "reason": "Completed", "message": message,
        "startedAt": "2026-01-01T00:00:10Z", "finishedAt": "2026-01-01T00:04:00Z"}})
}

fn status_of(seen: &[Seen]) -> TaskStatus {
    let s = seen
        .iter()
        .rev()
        .find(|s| s.path == STATUS)
        .expect("a status patch");
    serde_json::from_value(s.body["status"].clone()).expect("status parses")
}

fn patched() -> Expect {
    let t = serde_json::to_value(task(None)).expect("task json");
    expect(Method::PATCH, STATUS, 200, Some(t))
}

fn pending() -> TaskStatus {
    TaskStatus {
        phase: Some(TaskPhase::Pending),
        message: Some("created Job t, waiting for its Pod".into()),
        ..Default::default()
    }
}

/// Through the gateway, a cluster without the gateway's Secret keeps the Task Pending, saying
/// how to fix it; nothing is created.
#[tokio::test]
async fn without_the_gateway_secret_the_task_waits_saying_why() {
    let (client, server) = scripted(vec![
        not_found(JOB),
        get(SECRET, secret(&["ANTHROPIC_API_KEY"])),
        not_found("/api/v1/namespaces/axon-system/secrets/axon-gateway"),
        patched(),
        expect(Method::POST, EVENTS, 201, None),
    ]);
    let (ctx, _) = context_with(
        client,
        Some(ControllerGateway {
            origin: "http://axon-gateway.axon-system.svc:8080".into(),
            system_roots: None,
        }),
    );
    let result = reconcile(Arc::new(task(None)), ctx.clone()).await;
    drop(ctx);
    let seen = server.await.expect("verifier");
    assert!(result.is_ok(), "reconcile failed: {result:?}");
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Pending));
    let m = s.message.unwrap_or_default();
    assert!(
        m.contains("axon-system/axon-gateway does not exist")
            && m.contains("axon install")
            && m.contains("--gateway=false"),
        "{m}"
    );
}

/// A restricted Task on a controller without the gateway fails: nothing would hold it to its
/// allowlist. Nothing is created.
#[tokio::test]
async fn a_restricted_task_without_the_gateway_fails_saying_why() {
    let mut t = task(None);
    t.spec.network = Some(axon_api::Network {
        mode: axon_api::NetworkMode::Restricted,
        allow: vec![],
    });
    let (seen, _) = run(
        t,
        vec![
            not_found(JOB),
            get(SECRET, secret(&["ANTHROPIC_API_KEY"])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    let m = s.message.unwrap_or_default();
    assert!(
        m.contains("restricted needs the Axon gateway") && m.contains("--gateway=false"),
        "{m}"
    );
}

#[tokio::test]
async fn new_task_creates_its_job_once() {
    let (seen, _) = run(
        task(None),
        vec![
            not_found(JOB),
            get(SECRET, secret(&["ANTHROPIC_API_KEY"])),
            expect(Method::POST, CONFIGMAPS, 201, None),
            expect(Method::POST, JOBS, 201, None),
            expect(Method::POST, EVENTS, 201, None),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    assert_eq!(
        seen[2].body["data"]["prompt"], "Do it",
        "the prompt is a file"
    );
    let created = &seen[3].body;
    assert_eq!(created["metadata"]["name"], "t");
    assert_eq!(created["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert_eq!(created["spec"]["activeDeadlineSeconds"], 600);
    assert!(
        !created.to_string().contains("Do it"),
        "the prompt is not in the Job"
    );
    assert_eq!(seen[4].body["reason"], "JobCreated");
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Pending));
    assert_eq!(
        s.message.as_deref(),
        Some("created Job t, waiting for its Pod")
    );
    assert!(
        !seen.iter().any(|s| s.body.to_string().contains("c2VjcmV0")),
        "no secret value is written anywhere"
    );

    // Second reconcile: the Job exists, so nothing is created.
    let (seen, _) = run(
        task(Some(pending())),
        vec![
            get(JOB, job(json!({"active": 1}))),
            get(PODS, pods(vec![])),
            patched(),
        ],
    )
    .await;
    assert!(
        seen.iter().all(|s| s.method != Method::POST),
        "second reconcile creates nothing"
    );
    assert_eq!(seen[1].query, "&labelSelector=axon.io%2Ftask%3Dt");
}

#[tokio::test]
async fn unchanged_status_is_not_rewritten() {
    let waiting = TaskStatus {
        phase: Some(TaskPhase::Pending),
        message: Some("waiting for Job t to create its Pod".into()),
        observed_generation: Some(1),
        ..Default::default()
    };
    run(
        task(Some(waiting)),
        vec![get(JOB, job(json!({"active": 1}))), get(PODS, pods(vec![]))],
    )
    .await;
}

#[tokio::test]
async fn running_pod_makes_the_task_running() {
    let (seen, _) = run(
        task(Some(pending())),
        vec![
            get(JOB, job(json!({"active": 1}))),
            get(
                PODS,
                pods(vec![pod(
                    json!({"running": {"startedAt": "2026-01-01T00:00:10Z"}}),
                    initializing(),
                )]),
            ),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Running));
    assert_eq!(s.job_name.as_deref(), Some("t"));
    assert_eq!(s.pod_name.as_deref(), Some("t-x1"));
    assert_eq!(s.start_time.as_deref(), Some("2026-01-01T00:00:10Z"));
    assert_eq!(seen[3].body["reason"], "Running");
}

#[tokio::test]
async fn succeeded_job_fills_outputs_from_the_termination_message() {
    let results = json!({
        "branch": "axon/t", "baseBranch": "main", "commits": ["a".repeat(40)], "pushed": true,
        "pullRequests": ["https://github.com/o/r/pull/1"],
        "usage": {"inputTokens": 100, "outputTokens": 20, "costUSD": 0.5, "turns": 3},
        "success": true, "exitCode": 0
    });
    let terminated = json!({"terminated": {"exitCode": 0, "reason": "Completed", "message": results.to_string(),
        "startedAt": "2026-01-01T00:04:01Z", "finishedAt": "2026-01-01T00:05:00Z"}});
    let (seen, metrics) = run(
        task(Some(pending())),
        vec![
            get(JOB, job(json!({"succeeded": 1, "completionTime": "2026-01-01T00:05:01Z",
                "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:05:01Z"}]}))),
            get(PODS, pods(vec![pod(agent_done(""), terminated)])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Succeeded));
    assert_eq!(s.completion_time.as_deref(), Some("2026-01-01T00:05:01Z"));
    let out = s.outputs.expect("outputs");
    assert_eq!(out.branch.as_deref(), Some("axon/t"));
    assert_eq!(out.pull_requests, ["https://github.com/o/r/pull/1"]);
    assert_eq!(s.usage.expect("usage").input_tokens, 100);
    assert_eq!(
        s.message.as_deref(),
        Some("agent succeeded: 1 commit(s) on axon/t, pushed")
    );
    let text = metrics.render(&Default::default());
    assert!(
        text.contains("axon_tokens_total{direction=\"input\",spawner=\"\",model=\"\"} 100"),
        "{text}"
    );
    assert!(
        text.contains("axon_tasks_finished_total{phase=\"Succeeded\"} 1"),
        "{text}"
    );
}

fn failed_job() -> Value {
    job(
        json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": "2026-01-01T00:01:01Z"}]}),
    )
}

async fn finished_with(pod: Value) -> (TaskStatus, Vec<Seen>) {
    let (seen, _) = run(
        task(Some(pending())),
        vec![
            get(JOB, failed_job()),
            get(PODS, pods(vec![pod])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    (status_of(&seen), seen)
}

#[tokio::test]
async fn failed_job_says_why() {
    let collected = json!({"success": false, "exitCode": 3, "failureReason": "the tests fail"});
    let results = json!({"terminated": {"exitCode": 1, "reason": "Error", "message": collected.to_string(),
        "startedAt": "2026-01-01T00:00:50Z", "finishedAt": "2026-01-01T00:01:00Z"}});
    let (s, seen) = finished_with(pod(agent_done(""), results)).await;
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    assert_eq!(
        s.message.as_deref(),
        Some("agent failed (exit code 3): the tests fail")
    );
    assert_eq!(seen[3].body["type"], "Warning");

    // Killed by the kubelet (not OOM): its exit code, no results.
    let killed = json!({"terminated": {"exitCode": 137, "reason": "Error",
        "startedAt": "2026-01-01T00:00:10Z", "finishedAt": "2026-01-01T00:01:00Z"}});
    let (s, _) = finished_with(pod(killed, initializing())).await;
    assert_eq!(
        s.message.as_deref(),
        Some("agent exited with code 137 and wrote no results document")
    );
}

#[tokio::test]
async fn a_forged_agent_message_never_becomes_status() {
    let forged = json!({"branch": "main", "commits": ["f".repeat(40)], "pushed": true,
        "pullRequests": ["https://github.com/o/r/pull/666"], "success": true,
        "usage": {"inputTokens": 999999, "outputTokens": 1, "turns": 1}});
    let collected = json!({"branch": "axon/t", "success": false, "exitCode": 1,
        "failureReason": "the agent reported failure"});
    let results = json!({"terminated": {"exitCode": 1, "message": collected.to_string()}});
    let (s, _) = finished_with(pod(agent_done(&forged.to_string()), results)).await;
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    let out = s.outputs.expect("outputs");
    assert_eq!(out.branch.as_deref(), Some("axon/t"));
    assert!(out.commits.is_empty() && !out.pushed && out.pull_requests.is_empty());
    assert!(s.usage.is_none_or(|u| u.input_tokens == 0), "forged usage");
}

#[tokio::test]
async fn agent_oom_and_a_failed_collection_are_named() {
    let oom = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}});
    let (s, _) = finished_with(pod(oom, initializing())).await;
    assert_eq!(
        s.message.as_deref(),
        Some("killed for exceeding its memory limit (OOMKilled)")
    );
    let broken = json!({"terminated": {"exitCode": 2, "message": "cannot read /workspace/repo"}});
    let (s, _) = finished_with(pod(agent_done(""), broken)).await;
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    assert_eq!(
        s.message.as_deref(),
        Some(
            "collecting the results failed (container results exited with code 2: cannot read /workspace/repo); the agent's claims and the work tree were not read"
        )
    );
}

fn deleted() -> Expect {
    expect(
        Method::DELETE,
        JOB,
        200,
        Some(json!({"kind": "Status", "apiVersion": "v1", "status": "Success"})),
    )
}

#[tokio::test]
async fn agent_image_pull_backoff_is_named_and_its_job_deleted() {
    let pull = json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"img\""}});
    let (seen, _) = run(
        task(Some(pending())),
        vec![
            get(JOB, job(json!({"active": 1}))),
            get(PODS, pods(vec![pod(pull, initializing())])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
            deleted(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    assert_eq!(
        s.message.as_deref(),
        Some("cannot pull image img: ImagePullBackOff: Back-off pulling image \"img\"")
    );
    // After the status says Failed, the Job goes (its Pod with it): a pull that succeeds
    // later cannot run the agent behind a Failed Task.
    assert_eq!(seen[4].body["propagationPolicy"], "Background");
    assert_eq!(seen[5].body["reason"], "JobDeleted");
}

#[tokio::test]
async fn a_container_config_error_fails_the_task_and_deletes_its_job() {
    let config = json!({"waiting": {"reason": "CreateContainerConfigError",
        "message": "secret \"key\" not found"}});
    let (seen, _) = run(
        task(Some(pending())),
        vec![
            get(JOB, job(json!({"active": 1}))),
            get(PODS, pods(vec![pod(config, initializing())])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
            deleted(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    assert_eq!(seen[4].method, Method::DELETE);

    // Reconciled again (a restarted controller, or the deletion failed): the Job is looked
    // at and deleted if it is still active; an ended Job is kept.
    let (seen, _) = run(
        task(Some(s.clone())),
        vec![
            get(JOB, job(json!({"active": 1}))),
            deleted(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    assert_eq!(seen.len(), 3);
    run(task(Some(s)), vec![get(JOB, failed_job())]).await;
}

/// `t` with a cancel request from `by`.
fn cancel_requested(mut t: Task, by: &str) -> Task {
    t.metadata.annotations = Some(
        [(
            axon_api::contract::ANNOTATION_CANCEL_REQUESTED.to_string(),
            by.to_string(),
        )]
        .into_iter()
        .collect(),
    );
    t
}

/// A cancel request on a Task without a Job: `Cancelled` at once, without a start time, and
/// no Job is ever created (no Secret read, nothing posted but the status and its Event).
#[tokio::test]
async fn a_pending_task_cancelled_never_gets_a_job() {
    let (seen, metrics) = run(
        cancel_requested(task(Some(pending())), "axon cancel"),
        vec![
            not_found(JOB),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Cancelled));
    assert_eq!(s.message.as_deref(), Some("cancelled (axon cancel)"));
    assert_eq!(s.start_time, None);
    assert_eq!(seen[2].body["reason"], "Cancelled");
    assert!(
        metrics
            .render(&Default::default())
            .contains("axon_tasks_finished_total{phase=\"Cancelled\"} 1")
    );
}

/// A cancel request on a running Task: `Cancelled` first, then its Job deleted (Background:
/// its Pod goes with it). A controller that died in between deletes the Job on its next look;
/// a run that had already ended keeps its own result.
#[tokio::test]
async fn a_running_task_cancelled_has_its_job_deleted() {
    let running = TaskStatus {
        phase: Some(TaskPhase::Running),
        start_time: Some("2026-01-01T00:00:10Z".into()),
        pod_name: Some("t-x1".into()),
        message: Some("agent running".into()),
        ..Default::default()
    };
    let agent_running = json!({"running": {"startedAt": "2026-01-01T00:00:10Z"}});
    let (seen, _) = run(
        cancel_requested(task(Some(running.clone())), "/axon cancel by @alice"),
        vec![
            get(JOB, job(json!({"active": 1}))),
            get(PODS, pods(vec![pod(agent_running.clone(), initializing())])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
            deleted(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Cancelled));
    assert_eq!(
        s.message.as_deref(),
        Some("cancelled (/axon cancel by @alice)")
    );
    assert_eq!(seen[4].method, Method::DELETE);
    assert_eq!(seen[4].body["propagationPolicy"], "Background");
    assert_eq!(seen[5].body["reason"], "JobDeleted");

    // The controller restarted before it deleted the Job: the next look deletes it.
    let mut cancelled = running.clone();
    cancelled.phase = s.phase;
    cancelled.conditions = s.conditions.clone();
    let (seen, _) = run(
        cancel_requested(task(Some(cancelled)), "/axon cancel by @alice"),
        vec![
            get(JOB, job(json!({"active": 1}))),
            deleted(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    assert_eq!(seen.len(), 3);

    // The run ended before the request was seen: its own result stands.
    let (s, _) = finished_with_request(pod(
        agent_done(""),
        json!({"terminated": {"exitCode": 0, "reason": "Completed",
            "message": r#"{"success": true, "exitCode": 0}"#,
            "finishedAt": "2026-01-01T00:05:00Z"}}),
    ))
    .await;
    assert_eq!(s.phase, Some(TaskPhase::Succeeded));
}

async fn finished_with_request(pod: Value) -> (TaskStatus, Vec<Seen>) {
    let running = TaskStatus {
        phase: Some(TaskPhase::Running),
        ..Default::default()
    };
    let (seen, _) = run(
        cancel_requested(task(Some(running)), "axon cancel"),
        vec![
            get(
                JOB,
                job(
                    json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
                ),
            ),
            get(PODS, pods(vec![pod])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    (status_of(&seen), seen)
}

#[tokio::test]
async fn a_retried_task_back_in_pending_has_no_pod() {
    let running = TaskStatus {
        phase: Some(TaskPhase::Running),
        job_name: Some("t".into()),
        pod_name: Some("t-x1".into()),
        message: Some("agent running".into()),
        ..Default::default()
    };
    let mut retry = pod(initializing(), initializing());
    retry["metadata"]["name"] = json!("t-x2");
    retry["metadata"]["creationTimestamp"] = json!("2026-01-01T00:10:00Z");
    retry["status"]["phase"] = json!("Pending");
    let (seen, _) = run(
        task(Some(running)),
        vec![
            get(JOB, job(json!({"active": 1, "failed": 1}))),
            get(PODS, pods(vec![retry])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let patch = &seen[2].body["status"];
    assert_eq!(patch["phase"], "Pending");
    assert!(
        patch.as_object().is_some_and(|p| p.contains_key("podName")) && patch["podName"].is_null(),
        "the stale podName is cleared explicitly: {patch}"
    );
    // Unchanged fields are not sent back (the cached status may be stale).
    assert!(
        patch
            .as_object()
            .is_some_and(|p| !p.contains_key("jobName")),
        "{patch}"
    );
}

#[tokio::test]
async fn a_prompt_over_one_mib_fails_the_task_and_creates_nothing() {
    let mut t = task(None);
    t.spec.prompt = "x".repeat(1024 * 1024 * 14 / 10);
    let (seen, _) = run(
        t,
        vec![
            not_found(JOB),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    assert_eq!(
        s.message.as_deref(),
        Some(
            "spec.prompt: 1.4 MiB is over the Kubernetes backend's 1 MiB limit (ConfigMap); use the local backend or a shorter prompt"
        )
    );
}

#[tokio::test]
async fn a_task_without_timeout_gets_the_default_deadline() {
    let mut t = task(None);
    t.spec.timeout_seconds = None;
    let (seen, _) = run(
        t,
        vec![
            not_found(JOB),
            get(SECRET, secret(&["ANTHROPIC_API_KEY"])),
            expect(Method::POST, CONFIGMAPS, 201, None),
            expect(Method::POST, JOBS, 201, None),
            expect(Method::POST, EVENTS, 201, None),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    assert_eq!(seen[3].body["spec"]["activeDeadlineSeconds"], 14400);
}

#[tokio::test]
async fn deadline_exceeded_is_a_timeout() {
    let (seen, _) = run(
        task(Some(pending())),
        vec![
            get(JOB, job(json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline", "lastTransitionTime": "2026-01-01T00:10:00Z"}]}))),
            get(PODS, pods(vec![])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    assert_eq!(
        s.message.as_deref(),
        Some("timed out after 600s (timeoutSeconds) and was killed")
    );
}

#[tokio::test]
async fn missing_secret_fails_with_its_name() {
    let (seen, _) = run(
        task(None),
        vec![
            not_found(JOB),
            not_found(SECRET),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Failed));
    let m = s.message.unwrap_or_default();
    assert!(
        m.starts_with("Secret \"key\" (with key ANTHROPIC_API_KEY) not found after waiting 30s"),
        "{m}"
    );
}

#[tokio::test]
async fn missing_key_fails_with_its_name() {
    let (seen, _) = run(
        task(None),
        vec![
            not_found(JOB),
            get(SECRET, secret(&["CLAUDE_CODE_OAUTH_TOKEN"])),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let m = status_of(&seen).message.unwrap_or_default();
    assert!(
        m.starts_with("key \"ANTHROPIC_API_KEY\" of Secret \"key\" (its keys: CLAUDE_CODE_OAUTH_TOKEN) not found"),
        "{m}"
    );
}

#[tokio::test]
async fn missing_workspace_fails_with_its_name() {
    let mut t = task(None);
    t.spec.workspace_ref = Some(LocalObjectReference {
        name: "repo".into(),
    });
    let (seen, _) = run(
        t,
        vec![
            not_found(JOB),
            not_found("/apis/axon.io/v1alpha1/namespaces/ns/workspaces/repo"),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let m = status_of(&seen).message.unwrap_or_default();
    assert!(m.starts_with("Workspace \"repo\" not found"), "{m}");
}

#[tokio::test]
async fn a_new_task_waits_for_a_missing_secret_before_failing() {
    let mut t = task(None);
    t.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::now(),
    ));
    let (seen, _) = run(
        t,
        vec![
            not_found(JOB),
            not_found(SECRET),
            patched(),
            expect(Method::POST, EVENTS, 201, None),
        ],
    )
    .await;
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Pending));
}

#[tokio::test]
async fn ttl_deletes_a_finished_task() {
    let mut t = task(Some(TaskStatus {
        phase: Some(TaskPhase::Succeeded),
        completion_time: Some("2026-01-01T00:00:00Z".into()),
        ..Default::default()
    }));
    t.spec.ttl_seconds_after_finished = Some(60);
    let (seen, _) = run(
        t,
        vec![expect(
            Method::DELETE,
            TASK,
            200,
            Some(json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200})),
        )],
    )
    .await;
    assert_eq!(seen[0].body["propagationPolicy"], "Background");
}

#[tokio::test]
async fn finished_task_without_ttl_is_left_alone() {
    let t = task(Some(TaskStatus {
        phase: Some(TaskPhase::Failed),
        completion_time: Some("2026-01-01T00:00:00Z".into()),
        ..Default::default()
    }));
    run(t, vec![]).await;
}

const SPAWNER: &str = "/apis/axon.io/v1alpha1/namespaces/ns/taskspawners/nightly";
const TASKS: &str = "/apis/axon.io/v1alpha1/namespaces/ns/tasks";

/// `t` (or `name`) as TaskSpawner `nightly` (uid `sp-1`) made it.
fn spawned(name: &str, status: Option<TaskStatus>) -> Task {
    let mut t = task(status);
    t.metadata.name = Some(name.into());
    t.metadata.uid = Some(format!("uid-{name}"));
    t.metadata.labels = Some([("axon.io/taskspawner".to_string(), "nightly".to_string())].into());
    t.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "axon.io/v1alpha1".into(),
            kind: "TaskSpawner".into(),
            name: "nightly".into(),
            uid: "sp-1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        },
    ]);
    t
}

#[tokio::test]
async fn a_full_spawner_window_holds_a_new_task_and_looks_again_later() {
    let finished = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    let spent = spawned(
        "nightly-1",
        Some(TaskStatus {
            phase: Some(TaskPhase::Succeeded),
            completion_time: Some(finished.to_string()),
            usage: Some(axon_api::TaskUsage {
                input_tokens: 120,
                output_tokens: 30,
                ..Default::default()
            }),
            ..Default::default()
        }),
    );
    let me = spawned("t", None);
    let spawner = json!({
        "apiVersion": "axon.io/v1alpha1", "kind": "TaskSpawner",
        "metadata": {"name": "nightly", "namespace": "ns", "uid": "sp-1"},
        "spec": {"when": {"cron": {"schedule": "0 * * * *"}},
            "budget": {"perDay": {"maxTokens": 100}},
            "taskTemplate": {"type": "claude-code",
                "credentials": {"type": "api-key", "secretRef": {"name": "key"}}}},
    });
    let list = json!({"apiVersion": "axon.io/v1alpha1", "kind": "TaskList", "metadata": {},
        "items": [serde_json::to_value(&spent).expect("json"), serde_json::to_value(&me).expect("json")]});
    let (client, server) = scripted(vec![
        not_found(JOB),
        get(SECRET, secret(&["ANTHROPIC_API_KEY"])),
        get(SPAWNER, spawner),
        get(TASKS, list),
        patched(),
        expect(Method::POST, EVENTS, 201, None),
    ]);
    let (ctx, _) = context(client);
    let action = reconcile(Arc::new(me), ctx.clone())
        .await
        .expect("reconciled");
    drop(ctx);
    let seen = server.await.expect("verifier");
    assert_eq!(
        seen[3].query,
        "&labelSelector=axon.io%2Ftaskspawner%3Dnightly"
    );
    assert!(
        seen.iter()
            .all(|s| s.method != Method::POST || s.path == EVENTS),
        "no Job is created"
    );
    let s = status_of(&seen);
    assert_eq!(s.phase, Some(TaskPhase::Pending));
    let m = s.message.unwrap_or_default();
    assert!(
        m.starts_with("TaskSpawner nightly budget perDay maxTokens 100 reached (150 tokens spent in the last 24 hours); waiting until "),
        "{m}"
    );
    let waiting = s.conditions.iter().find(|c| c.type_ == "Waiting");
    assert_eq!(
        waiting.map(|c| c.reason.as_str()),
        Some("SpawnerBudgetReached")
    );
    // Room returns in about a day: looked at again within the resync (sooner on a change of
    // the spawner or its Tasks).
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(300))
    );
}
