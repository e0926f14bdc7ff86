//! The TaskSpawner reconcile against a scripted API server: its ServiceAccount, Role,
//! RoleBinding and Deployment are applied (owned by the TaskSpawner), and status says which
//! Deployment runs it.

mod support;

use axon_api::{
    AgentType, CredentialType, Credentials, GitHubIssues, LocalObjectReference, SecretReference,
    TaskSpawner, TaskSpawnerSpec, TaskTemplate, When,
};
use axon_kube::metrics::Metrics;
use axon_kube::spawner_controller::{SpawnerContext, reconcile};
use http::Method;
use serde_json::json;
use std::sync::Arc;
use support::{expect, get, scripted};

fn spawner() -> TaskSpawner {
    let mut ts = TaskSpawner::new(
        "fix-bugs",
        TaskSpawnerSpec {
            when: When {
                github_issues: Some(GitHubIssues::default()),
                cron: None,
                ..When::default()
            },
            task_template: TaskTemplate {
                type_: AgentType::ClaudeCode,
                credentials: Credentials {
                    type_: CredentialType::Oauth,
                    secret_ref: SecretReference {
                        name: "claude".into(),
                    },
                },
                model: None,
                image: None,
                workspace_ref: Some(LocalObjectReference {
                    name: "repo".into(),
                }),
                agent_config_refs: Vec::new(),
                agent_config_ref: None,
                prompt_template: None,
                ttl_seconds_after_finished: None,
                timeout_seconds: None,
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
            poll_interval: None,
            max_concurrency: None,
            budget: None,
            suspend: false,
            max_total_tasks: None,
            priority_labels: Vec::new(),
        },
    );
    ts.metadata.namespace = Some("ns".into());
    ts.metadata.uid = Some("uid-ts".into());
    ts
}

#[tokio::test]
async fn taskspawner_gets_a_deployment_with_least_privilege() {
    let ws = json!({"apiVersion": "axon.io/v1alpha1", "kind": "Workspace", "metadata": {"name": "repo", "namespace": "ns"},
        "spec": {"repo": "https://github.com/o/r.git", "secretRef": {"name": "gh"}}});
    let (client, server) = scripted(vec![
        get("/apis/axon.io/v1alpha1/namespaces/ns/workspaces/repo", ws),
        expect(
            Method::PATCH,
            "/api/v1/namespaces/ns/serviceaccounts/fix-bugs-spawner",
            200,
            None,
        ),
        expect(
            Method::PATCH,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles/fix-bugs-spawner",
            200,
            None,
        ),
        expect(
            Method::PATCH,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings/fix-bugs-spawner",
            200,
            None,
        ),
        expect(
            Method::PATCH,
            "/apis/apps/v1/namespaces/ns/deployments/fix-bugs-spawner",
            200,
            None,
        ),
        expect(
            Method::PATCH,
            "/apis/axon.io/v1alpha1/namespaces/ns/taskspawners/fix-bugs/status",
            200,
            Some(serde_json::to_value(spawner()).expect("json")),
        ),
    ]);
    let ctx = Arc::new(SpawnerContext {
        client,
        image: "ghcr.io/axon-core/axon:test".into(),
        metrics: Arc::new(Metrics::default()),
    });
    let result = reconcile(Arc::new(spawner()), ctx.clone()).await;
    drop(ctx);
    let seen = server.await.expect("verifier");
    assert!(result.is_ok(), "{result:?}");
    for s in &seen[1..5] {
        assert!(
            s.query.contains("fieldManager=axon-controller"),
            "{}",
            s.query
        );
        assert_eq!(s.body["metadata"]["ownerReferences"][0]["uid"], "uid-ts");
    }
    let rules = seen[2].body["rules"].to_string();
    assert!(
        rules.contains(r#""resourceNames":["gh"],"resources":["secrets"]"#),
        "{rules}"
    );
    assert!(
        rules.contains(r#""resourceNames":["repo"],"resources":["workspaces"]"#),
        "{rules}"
    );
    assert!(!rules.contains("\"*\""), "{rules}");
    let d = &seen[4].body;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["args"],
        json!([
            "spawner",
            "--name",
            "fix-bugs",
            "-n",
            "ns",
            "--backend",
            "kubernetes"
        ])
    );
    let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env,
        &json!([{"name": "AXON_BACKEND", "value": "kubernetes"}, {"name": "AXON_LOG", "value": "info"}]),
        "the binary reads AXON_LOG, not RUST_LOG"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["serviceAccountName"],
        "fix-bugs-spawner"
    );
    let status = &seen[5].body["status"];
    assert_eq!(status["deploymentName"], "fix-bugs-spawner");
    assert_eq!(status["phase"], "Pending");
}

#[tokio::test]
async fn a_bad_cron_schedule_fails_the_spawner_without_a_deployment() {
    let mut ts = spawner();
    ts.spec.when = When {
        github_issues: None,
        cron: Some(axon_api::Cron {
            schedule: "61 * * * *".into(),
        }),
        ..When::default()
    };
    ts.spec.task_template.workspace_ref = None;
    ts.metadata.generation = Some(2);
    let status = "/apis/axon.io/v1alpha1/namespaces/ns/taskspawners/fix-bugs/status";
    let (client, server) = scripted(vec![expect(
        Method::PATCH,
        status,
        200,
        Some(serde_json::to_value(spawner()).expect("json")),
    )]);
    let ctx = Arc::new(SpawnerContext {
        client,
        image: "ghcr.io/axon-core/axon:test".into(),
        metrics: Arc::new(Metrics::default()),
    });
    let result = reconcile(Arc::new(ts.clone()), ctx.clone()).await;
    drop(ctx);
    let seen = server.await.expect("verifier");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(seen.len(), 1, "no ServiceAccount, Role or Deployment");
    let s = &seen[0].body["status"];
    assert_eq!(s["phase"], "Failed");
    let message = s["message"].as_str().expect("message");
    assert!(
        message.starts_with("invalid spec, the spawner is not started: spec.when.cron.schedule: "),
        "{message}"
    );
    assert_eq!(s["conditions"][0]["type"], "SpecValid");
    assert_eq!(s["conditions"][0]["status"], "False");
    assert_eq!(s["conditions"][0]["reason"], "InvalidSpec");
    assert_eq!(s["observedGeneration"], 2);

    // Reconciled again with the status it wrote: nothing to write.
    ts.status = Some(serde_json::from_value(s.clone()).expect("status"));
    let (client, server) = scripted(vec![]);
    let ctx = Arc::new(SpawnerContext {
        client,
        image: "ghcr.io/axon-core/axon:test".into(),
        metrics: Arc::new(Metrics::default()),
    });
    let result = reconcile(Arc::new(ts), ctx.clone()).await;
    drop(ctx);
    assert!(server.await.expect("verifier").is_empty());
    assert!(result.is_ok(), "{result:?}");
}
