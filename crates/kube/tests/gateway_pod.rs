//! The Pod of a Task routed through the gateway: no container has a Secret (no
//! `secretKeyRef`, no `envFrom` Secret, no Secret volume, walked over the whole Pod spec for
//! every agent type × credential type × with/without Workspace and AgentConfig × open and
//! restricted), the credentials are the Task's gateway token, the model endpoint and the proxy
//! name the gateway's Service, and `prepare` clones through the same proxy. Snapshots of two
//! such Jobs.

mod fixtures;

use axon_api::{
    AgentConfig, AgentConfigSpec, AgentType, CredentialType, Plugin, PluginSkill, SecretReference,
    Task, Workspace, WorkspaceSpec,
};
use axon_core::gateway_plan::route_through_gateway;
use axon_core::gateway_token::{TaskIdentity, mint, verify};
use axon_core::plan::plan_run;
use axon_kube::job::{GATEWAY_TOKEN_KEY, JobOptions, PodGateway, render_config_map, render_job};
use axon_kube::names::gateway_origin;
use fixtures::task;
use serde_json::Value;

const KEY: &[u8] = b"a fixed test key of 32 bytes!!!!";

fn workspace() -> Workspace {
    Workspace::new(
        "repo",
        WorkspaceSpec {
            repo: "https://github.com/acme/app.git".into(),
            git_ref: Some("main".into()),
            secret_ref: Some(SecretReference {
                name: "github-token".into(),
            }),
            files: vec![],
            setup_command: None,
            clone_depth: None,
            remotes: Vec::new(),
        },
    )
}

fn agent_config() -> AgentConfig {
    AgentConfig::new(
        "team",
        AgentConfigSpec {
            agents_md: Some("Follow TDD.".into()),
            plugins: vec![Plugin {
                name: "team-tools".into(),
                skills: vec![PluginSkill {
                    name: "deploy".into(),
                    content: "Deploy.".into(),
                }],
                agents: vec![],
            }],
        },
    )
}

fn opts() -> JobOptions {
    JobOptions {
        axon_image: "ghcr.io/axon-core/axon:0.1.0".into(),
        version: "0.1.0".into(),
        default_timeout_seconds: 14400,
    }
}

fn gateway(t: &Task, restricted: bool) -> PodGateway {
    PodGateway {
        token: mint(
            KEY,
            &TaskIdentity {
                namespace: "team-a".into(),
                name: t.metadata.name.clone().expect("name"),
                uid: t.metadata.uid.clone().expect("uid"),
            },
        ),
        origin: gateway_origin(),
        restricted,
    }
}

/// The Job (as JSON) and the ConfigMap data of `t` through the gateway.
fn render(t: &Task, ws: bool, ac: bool, restricted: bool) -> (Value, Value) {
    let (w, a) = (workspace(), agent_config());
    let mut plan = plan_run(t, ws.then_some(&w), ac.then_some(&a)).expect("plan");
    route_through_gateway(&mut plan).expect("routes");
    let g = gateway(t, restricted);
    let job = serde_json::to_value(render_job(&plan, t, &opts(), Some(&g))).expect("job");
    let cm = serde_json::to_value(render_config_map(&plan, t, Some(&g))).expect("configmap");
    (job, cm)
}

/// Every place under `v` that refers to a Secret: `secretKeyRef` (env), `secretRef` (envFrom),
/// `secret` (a volume, or a projected volume's source), `secretName`.
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

fn combos() -> Vec<(AgentType, CredentialType)> {
    let mut v: Vec<_> = AgentType::ALL
        .into_iter()
        .map(|a| (a, CredentialType::ApiKey))
        .collect();
    v.push((AgentType::ClaudeCode, CredentialType::Oauth));
    v
}

fn env_of(container: &Value) -> Vec<(String, Value)> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_string(),
                e["value"].clone(),
            )
        })
        .collect()
}

fn env_value(container: &Value, name: &str) -> Option<String> {
    env_of(container)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.as_str().map(str::to_string))
}

#[test]
fn no_container_of_the_pod_has_a_secret() {
    // The walk finds what it must: the Pod rendered without the gateway has Secrets.
    let t = task(AgentType::Codex, CredentialType::ApiKey, true, false);
    let w = workspace();
    let plan = plan_run(&t, Some(&w), None).expect("plan");
    let direct = serde_json::to_value(render_job(&plan, &t, &opts(), None)).expect("job");
    let mut found = Vec::new();
    secret_references(&direct["spec"]["template"], "pod", &mut found);
    assert!(
        found.iter().any(|p| p.ends_with("secretKeyRef"))
            && found.iter().any(|p| p.ends_with(".secret")),
        "{found:?}"
    );

    for (agent, cred) in combos() {
        for ws in [false, true] {
            for ac in [false, true] {
                for restricted in [false, true] {
                    let t = task(agent, cred, ws, ac);
                    let (job, _) = render(&t, ws, ac, restricted);
                    let mut found = Vec::new();
                    secret_references(&job, "job", &mut found);
                    assert!(
                        found.is_empty(),
                        "{agent:?}/{cred:?} ws={ws} ac={ac}: Secret references {found:?}"
                    );
                    let text = job.to_string();
                    assert!(!text.contains("valueFrom"), "no env from anywhere: {text}");
                    assert!(!text.contains("envFrom"), "{text}");
                }
            }
        }
    }
}

#[test]
fn the_agent_holds_the_gateway_token_where_its_keys_went() {
    for (agent, cred) in combos() {
        let t = task(agent, cred, true, false);
        let g = gateway(&t, false);
        let (job, cm) = render(&t, true, false, false);
        let pod = &job["spec"]["template"]["spec"];
        let agent_c = &pod["initContainers"][1];
        assert_eq!(agent_c["name"], "agent");
        for var in ["GITHUB_TOKEN", "GH_TOKEN"] {
            assert_eq!(env_value(agent_c, var).as_deref(), Some(g.token.as_str()));
        }
        let proxy = format!("http://axon:{}@axon-gateway.axon-system.svc:8080", g.token);
        for var in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            assert_eq!(env_value(agent_c, var).as_deref(), Some(proxy.as_str()));
        }
        assert_eq!(env_value(agent_c, "NO_PROXY").as_deref(), Some(""));
        for var in ["SSL_CERT_FILE", "GIT_SSL_CAINFO", "NODE_EXTRA_CA_CERTS"] {
            assert_eq!(
                env_value(agent_c, var).as_deref(),
                Some("/etc/axon/gateway-ca/ca-bundle.crt")
            );
        }
        let base = env_value(agent_c, axon_api::contract::ENV_MODEL_BASE_URL).expect("base URL");
        assert!(
            base.starts_with("http://axon-gateway.axon-system.svc:8080"),
            "{base}"
        );
        // Every credential variable holds the token, and the token names this Task.
        let holds_token: Vec<String> = env_of(agent_c)
            .into_iter()
            .filter(|(_, v)| v.as_str() == Some(g.token.as_str()))
            .map(|(n, _)| n)
            .collect();
        assert!(holds_token.len() >= 3, "{agent:?}: {holds_token:?}");
        assert_eq!(verify(KEY, &g.token).expect("verifies").name, "fix-bugs-42");
        assert_eq!(cm["data"][GATEWAY_TOKEN_KEY], g.token.as_str());

        // prepare clones through the gateway, with the token as its token file.
        let prepare = &pod["initContainers"][0];
        assert_eq!(prepare["name"], "prepare");
        let args: Vec<&str> = prepare["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let at = args
            .iter()
            .position(|a| *a == "--token-file")
            .expect("--token-file");
        assert_eq!(args[at + 1], "/etc/axon/gateway-token/token");
        assert_eq!(
            env_value(prepare, "HTTPS_PROXY").as_deref(),
            Some(proxy.as_str())
        );
        assert_eq!(
            env_value(prepare, "GIT_SSL_CAINFO").as_deref(),
            Some("/etc/axon/gateway-ca/ca-bundle.crt")
        );
        let volumes = pod["volumes"].to_string();
        assert!(volumes.contains("axon-gateway-ca"), "{volumes}");
    }
}

#[test]
fn only_a_restricted_task_pod_carries_the_network_label() {
    let t = task(AgentType::Codex, CredentialType::ApiKey, false, false);
    let (open, _) = render(&t, false, false, false);
    let (restricted, _) = render(&t, false, false, true);
    assert_eq!(
        open["spec"]["template"]["metadata"]["labels"]["axon.io/network"],
        Value::Null
    );
    assert_eq!(
        restricted["spec"]["template"]["metadata"]["labels"]["axon.io/network"],
        "restricted"
    );
    assert_eq!(
        restricted["metadata"]["labels"]["axon.io/network"],
        Value::Null,
        "on the Pod, not the Job"
    );
}

#[test]
fn gateway_job_snapshots() {
    let t = task(AgentType::ClaudeCode, CredentialType::ApiKey, true, true);
    let (job, cm) = render(&t, true, true, true);
    insta::assert_yaml_snapshot!(
        "gateway-job-claude-code-workspace-agentconfig-restricted",
        job
    );
    insta::assert_yaml_snapshot!("gateway-configmap-claude-code", cm["data"]);
    let t = task(AgentType::Codex, CredentialType::ApiKey, false, false);
    let (job, _) = render(&t, false, false, false);
    insta::assert_yaml_snapshot!("gateway-job-codex", job);
}
