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
                agent_config_ref: None,
                prompt_template: None,
                ttl_seconds_after_finished: None,
                timeout_seconds: None,
                backoff_limit: None,
                model_base_url: None,
                env: vec![],
            },
            poll_interval: None,
            max_concurrency: None,
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
        json!(["spawner", "--name", "fix-bugs", "-n", "ns"])
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["serviceAccountName"],
        "fix-bugs-spawner"
    );
    let status = &seen[5].body["status"];
    assert_eq!(status["deploymentName"], "fix-bugs-spawner");
    assert_eq!(status["phase"], "Pending");
}
