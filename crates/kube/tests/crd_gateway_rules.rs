//! The gateway's fields (`budget`, `network`, `policy`, `pricing`, a TaskSpawner's window
//! `budget`, the new `status.usage` figures) against a real kube-apiserver (`../shared/kube/up.sh`,
//! on 127.0.0.1, always stopped): the CRDs install (their CEL rules compile, the list-map
//! `pricing` is accepted), a Task using every field is stored as written (nothing pruned), and
//! what `axon_api::rules` refuses at `axon apply` the server refuses too — for a client that
//! skips Axon's own checks (`kubectl apply`), naming the field.
//!
//! Skipped, with a `SKIPPED` line, when `up.sh` is absent (see `kube_plane::up_sh_or_skip`).

use axon_api::{Task, TaskSpawner};
use axon_kube::KubeBackend;
use axon_testsupport::kube_plane::{ControlPlane, up_sh_or_skip};
use axon_testsupport::kubelet::client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const NS: &str = "default";
/// The whole test, control plane included.
const BUDGET: Duration = Duration::from_secs(120);

fn task(name: &str, extra: Value) -> Task {
    let mut spec = json!({"type": "claude-code", "prompt": "Say hello",
        "credentials": {"type": "api-key", "secretRef": {"name": "claude"}}});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    serde_json::from_value(json!({"apiVersion": "axon.io/v1alpha1", "kind": "Task",
        "metadata": {"name": name, "namespace": NS}, "spec": spec}))
    .expect("task")
}

fn spawner(name: &str, template_extra: Value, spec_extra: Value) -> TaskSpawner {
    let mut template = json!({"type": "codex", "promptTemplate": "Tick {{.ID}}",
        "credentials": {"type": "api-key", "secretRef": {"name": "codex"}}});
    if let (Some(t), Some(e)) = (template.as_object_mut(), template_extra.as_object()) {
        t.extend(e.clone());
    }
    let mut spec = json!({"when": {"cron": {"schedule": "0 * * * *"}}, "taskTemplate": template});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), spec_extra.as_object()) {
        s.extend(e.clone());
    }
    serde_json::from_value(
        json!({"apiVersion": "axon.io/v1alpha1", "kind": "TaskSpawner",
        "metadata": {"name": name, "namespace": NS}, "spec": spec}),
    )
    .expect("spawner")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_keeps_and_checks_the_gateway_fields() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(up) = up_sh_or_skip("crd_gateway_rules", &root) else {
        return;
    };
    let plane = ControlPlane::start(&up);
    // The plane is stopped when `plane` drops, on success, panic or timeout alike.
    let result = tokio::time::timeout(BUDGET, scenario(&plane)).await;
    assert!(
        result.is_ok(),
        "the test took more than {}s (logs in {})",
        BUDGET.as_secs(),
        plane.dir().display()
    );
}

async fn scenario(plane: &ControlPlane) {
    let admin = client(&plane.kubeconfig(), None).await;
    KubeBackend::from_client(admin.clone(), NS)
        .install("registry.invalid/axon:test", "0.0.0-test", None, |_| {})
        .await
        .expect("install: the CRDs (and their CEL rules) are accepted and Established");
    let tasks: Api<Task> = Api::namespaced(admin.clone(), NS);
    let spawners: Api<TaskSpawner> = Api::namespaced(admin.clone(), NS);
    let pp = PostParams::default();

    // Every field, valid: stored as written, nothing pruned.
    let full = json!({
        "budget": {"maxCostUSD": 2.5, "maxTokens": 2_000_000, "maxTurns": 40},
        "network": {"mode": "restricted", "allow": ["pypi.org", "*.pythonhosted.org", "127.0.0.1"]},
        "policy": {"protectedBranches": ["release/*", "hotfix/**"]},
        "pricing": [
            {"model": "my-model", "inputPerMTok": 3, "outputPerMTok": 15,
             "cacheReadPerMTok": 0.3, "cacheWritePerMTok": 3.75},
            {"model": "free", "inputPerMTok": 0, "outputPerMTok": 0}
        ]
    });
    let sent = task("full", full);
    let stored = tasks.create(&pp, &sent).await.expect("a valid Task");
    assert_eq!(stored.spec, sent.spec, "the server kept every field");
    let usage = json!({"status": {"usage": {"inputTokens": 1200, "outputTokens": 80,
        "costUSD": 0.01, "turns": 3, "cacheReadTokens": 900, "cacheWriteTokens": 100,
        "requests": 4, "source": "gateway"}}});
    let patched = tasks
        .patch_status("full", &PatchParams::default(), &Patch::Merge(&usage))
        .await
        .expect("status usage");
    let u = patched.status.and_then(|s| s.usage).expect("usage");
    assert_eq!(
        (u.cache_read_tokens, u.cache_write_tokens, u.requests),
        (900, 100, 4),
        "the new usage figures are kept"
    );
    assert_eq!(u.source, Some(axon_api::UsageSource::Gateway));

    // `network: {}` defaults to open.
    let defaulted = tasks
        .create(&pp, &task("defaulted", json!({"network": {}})))
        .await
        .expect("empty network");
    assert_eq!(
        defaulted.spec.network.map(|n| n.mode),
        Some(axon_api::NetworkMode::Open)
    );

    // What the loader refuses, the server refuses, naming the field.
    let refused_tasks = [
        (
            json!({"network": {"allow": ["pypi.org"]}}),
            "set mode: restricted or remove allow",
        ),
        (
            json!({"network": {"mode": "open", "allow": ["pypi.org"]}}),
            "set mode: restricted or remove allow",
        ),
        (
            json!({"network": {"mode": "restricted", "allow": ["https://pypi.org/simple"]}}),
            "spec.network.allow[0]",
        ),
        (
            json!({"network": {"mode": "restricted", "allow": ["pypi.org:443"]}}),
            "spec.network.allow[0]",
        ),
        (json!({"budget": {"maxTurns": 0}}), "spec.budget.maxTurns"),
        (
            json!({"budget": {"maxTokens": -1}}),
            "spec.budget.maxTokens",
        ),
        (
            json!({"budget": {"maxCostUSD": -1}}),
            "spec.budget.maxCostUSD",
        ),
        (
            json!({"policy": {"protectedBranches": [""]}}),
            "spec.policy.protectedBranches[0]",
        ),
        (
            json!({"policy": {"protectedBranches": ["a b"]}}),
            "spec.policy.protectedBranches[0]",
        ),
        (
            json!({"pricing": [{"model": "m", "inputPerMTok": -1, "outputPerMTok": 1}]}),
            "spec.pricing[0].inputPerMTok",
        ),
        (
            json!({"pricing": [{"model": "m", "inputPerMTok": 1, "outputPerMTok": 1},
                               {"model": "m", "inputPerMTok": 2, "outputPerMTok": 2}]}),
            "Duplicate value",
        ),
    ];
    for (i, (extra, says)) in refused_tasks.iter().enumerate() {
        let e = tasks
            .create(&pp, &task(&format!("bad-{i}"), extra.clone()))
            .await
            .expect_err(&format!("refused: {extra}"))
            .to_string();
        assert!(e.contains(says), "{extra}: {e}");
    }

    // A TaskSpawner: its template has the same rules; its window budget must be positive.
    spawners
        .create(
            &pp,
            &spawner(
                "ok",
                json!({"budget": {"maxTurns": 5}, "network": {"mode": "restricted"}}),
                json!({"budget": {"perHour": {"maxTokens": 500_000},
                                  "perDay": {"maxCostUSD": 50, "maxTokens": 5_000_000}}}),
            ),
        )
        .await
        .expect("a valid TaskSpawner");
    let refused_spawners = [
        (
            json!({"network": {"allow": ["pypi.org"]}}),
            json!({}),
            "set mode: restricted or remove allow",
        ),
        (
            json!({"budget": {"maxTurns": 0}}),
            json!({}),
            "spec.taskTemplate.budget.maxTurns",
        ),
        (
            json!({}),
            json!({"budget": {"perDay": {"maxCostUSD": 0}}}),
            "spec.budget.perDay.maxCostUSD",
        ),
        (
            json!({}),
            json!({"budget": {"perHour": {"maxTokens": 0}}}),
            "spec.budget.perHour.maxTokens",
        ),
    ];
    for (i, (template, spec, says)) in refused_spawners.iter().enumerate() {
        let e = spawners
            .create(
                &pp,
                &spawner(&format!("bad-{i}"), template.clone(), spec.clone()),
            )
            .await
            .expect_err(&format!("refused: {template} {spec}"))
            .to_string();
        assert!(e.contains(says), "{template} {spec}: {e}");
    }
}
