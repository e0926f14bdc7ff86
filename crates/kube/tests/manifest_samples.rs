//! Writes the built-in-kind manifests (install RBAC/Namespace/Deployment, a rendered Job and
//! ConfigMap, a spawner's Deployment and RBAC) to `$AXON_SAMPLES_DIR`, one file per document,
//! for `scripts/validate-manifests.sh` (kubernetes-validate --strict, checkov). Without the
//! variable it only checks they render.

use axon_api::{
    AgentConfig, AgentConfigSpec, AgentType, CredentialType, Credentials, Cron,
    LocalObjectReference, Plugin, PluginSkill, SecretReference, Task, TaskSpawner, TaskSpawnerSpec,
    TaskSpec, TaskTemplate, When, Workspace, WorkspaceSpec,
};
use axon_core::gateway_plan::route_through_gateway;
use axon_core::plan::plan_run;
use axon_kube::gateway_ca::render_ca_config_map;
use axon_kube::job::{JobOptions, PodGateway, render_config_map, render_job};
use axon_kube::manifests::{install_manifests, to_yaml};
use axon_kube::network_policy::render_restricted_policy;
use axon_kube::spawner_deployment::render_spawner;
use serde_json::Value;

const NS: &str = "axon-samples";

fn samples() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for d in install_manifests("ghcr.io/axon-core/axon:0.1.0", "0.1.0") {
        if d["kind"] != "CustomResourceDefinition" {
            let name = format!(
                "install-{}-{}",
                d["kind"].as_str().unwrap_or_default().to_lowercase(),
                d["metadata"]["name"].as_str().unwrap_or_default()
            );
            out.push((name, d));
        }
    }
    let mut task = Task::new(
        "sample",
        TaskSpec {
            type_: AgentType::ClaudeCode,
            prompt: "Fix it".into(),
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
            agent_config_ref: Some(LocalObjectReference {
                name: "team".into(),
            }),
            ttl_seconds_after_finished: None,
            timeout_seconds: Some(3600),
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
    task.metadata.namespace = Some(NS.into());
    task.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
    let ws = Workspace::new(
        "repo",
        WorkspaceSpec {
            repo: "https://github.com/acme/app.git".into(),
            git_ref: Some("main".into()),
            secret_ref: Some(SecretReference {
                name: "github".into(),
            }),
            files: vec![],
            setup_command: None,
            clone_depth: None,
            remotes: Vec::new(),
        },
    );
    let ac = AgentConfig::new(
        "team",
        AgentConfigSpec {
            agents_md: Some("Be careful.".into()),
            plugins: vec![Plugin {
                name: "tools".into(),
                skills: vec![PluginSkill {
                    name: "deploy".into(),
                    content: "Deploy.".into(),
                }],
                agents: vec![],
            }],
        },
    );
    let plan = plan_run(&task, Some(&ws), Some(&ac)).expect("plan");
    let opts = JobOptions {
        axon_image: "ghcr.io/axon-core/axon:0.1.0".into(),
        version: "0.1.0".into(),
        default_timeout_seconds: 14400,
    };
    let v = |x: &dyn erased::Ser| x.value();
    out.push(("task-job".into(), v(&render_job(&plan, &task, &opts, None))));
    out.push((
        "task-configmap".into(),
        v(&render_config_map(&plan, &task, None)),
    ));
    // The same Task through the gateway, restricted: no Secret in the Pod.
    let mut routed = plan.clone();
    route_through_gateway(&mut routed).expect("routes");
    let gw = PodGateway {
        token: "axgw1.c2FtcGxl.c2lnbmF0dXJl".into(),
        origin: axon_kube::names::gateway_origin(),
        restricted: true,
    };
    out.push((
        "task-job-gateway".into(),
        v(&render_job(&routed, &task, &opts, Some(&gw))),
    ));
    out.push((
        "task-configmap-gateway".into(),
        v(&render_config_map(&routed, &task, Some(&gw))),
    ));
    let ca = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n";
    out.push((
        "gateway-ca-configmap".into(),
        v(&render_ca_config_map(NS, None, ca)),
    ));
    out.push((
        "networkpolicy-restricted".into(),
        v(&render_restricted_policy(NS)),
    ));
    let mut ts = TaskSpawner::new(
        "nightly",
        TaskSpawnerSpec {
            when: When {
                github_issues: None,
                cron: Some(Cron {
                    schedule: "0 * * * *".into(),
                }),
                ..When::default()
            },
            task_template: TaskTemplate {
                type_: AgentType::Codex,
                credentials: Credentials {
                    type_: CredentialType::ApiKey,
                    secret_ref: SecretReference {
                        name: "openai".into(),
                    },
                },
                model: None,
                image: None,
                workspace_ref: Some(LocalObjectReference {
                    name: "repo".into(),
                }),
                agent_config_refs: Vec::new(),
                agent_config_ref: None,
                prompt_template: Some("Fix flakes".into()),
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
    ts.metadata.namespace = Some(NS.into());
    ts.metadata.uid = Some("00000000-0000-0000-0000-000000000002".into());
    let objs = render_spawner(&ts, Some("github"), "ghcr.io/axon-core/axon:0.1.0");
    out.push(("spawner-serviceaccount".into(), v(&objs.service_account)));
    out.push(("spawner-role".into(), v(&objs.role)));
    out.push(("spawner-rolebinding".into(), v(&objs.role_binding)));
    out.push(("spawner-deployment".into(), v(&objs.deployment)));
    out
}

/// Serialize anything to JSON without naming its type at the call site.
mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or_default()
        }
    }
}

#[test]
fn write_samples() {
    let samples = samples();
    assert!(
        samples
            .iter()
            .all(|(_, v)| v["kind"].is_string() && v["apiVersion"].is_string())
    );
    if let Ok(dir) = std::env::var("AXON_SAMPLES_DIR") {
        for (name, v) in &samples {
            let path = std::path::Path::new(&dir).join(format!("{name}.yaml"));
            std::fs::write(path, to_yaml(std::slice::from_ref(v))).expect("write sample");
        }
    }
}
