//! Snapshots of the Job (and ConfigMap) rendered for every agent type × credential type ×
//! with/without Workspace × with/without AgentConfig, plus the properties every Job must have.
//! The isolation properties of the Pod are asserted in `pod_spec.rs`.

mod fixtures;

use axon_api::{
    AgentConfig, AgentConfigSpec, AgentType, CredentialType, Plugin, PluginAgent, PluginSkill,
    SecretReference, Task, Workspace, WorkspaceFile, WorkspaceSpec,
};
use axon_core::plan::plan_run;
use axon_kube::job::{JobOptions, render_config_map, render_job};
use fixtures::task;
use k8s_openapi::api::batch::v1::Job;

fn workspace() -> Workspace {
    let mut w = Workspace::new(
        "repo",
        WorkspaceSpec {
            repo: "https://github.com/acme/app.git".into(),
            git_ref: Some("main".into()),
            secret_ref: Some(SecretReference {
                name: "github-token".into(),
            }),
            files: vec![WorkspaceFile {
                path: ".axon/notes.md".into(),
                content: "Run make test.".into(),
            }],
            setup_command: Some("npm ci --ignore-scripts".into()),
            clone_depth: Some(1),
            remotes: vec![axon_api::WorkspaceRemote {
                name: "upstream".into(),
                url: "https://github.com/upstream/app.git".into(),
            }],
        },
    );
    w.metadata.namespace = Some("team-a".into());
    w
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
                    content: "---\nname: deploy\n---\nDeploy.".into(),
                }],
                agents: vec![PluginAgent {
                    name: "reviewer".into(),
                    content: "---\nname: reviewer\n---\nReview.".into(),
                }],
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

fn render(t: &Task, ws: bool, ac: bool) -> Job {
    let (w, a) = (workspace(), agent_config());
    let plan = plan_run(t, ws.then_some(&w), ac.then_some(&a)).expect("plan");
    render_job(&plan, t, &opts(), None)
}

fn combos() -> Vec<(AgentType, CredentialType)> {
    let mut v: Vec<_> = AgentType::ALL
        .into_iter()
        .map(|a| (a, CredentialType::ApiKey))
        .collect();
    v.push((AgentType::ClaudeCode, CredentialType::Oauth));
    v
}

#[test]
fn job_snapshots() {
    for (agent, cred) in combos() {
        for ws in [false, true] {
            for ac in [false, true] {
                let t = task(agent, cred, ws, ac);
                let job = render(&t, ws, ac);
                let name = format!(
                    "job-{}-{}{}{}",
                    agent.as_str(),
                    cred.as_str(),
                    if ws { "-workspace" } else { "" },
                    if ac { "-agentconfig" } else { "" }
                );
                insta::assert_yaml_snapshot!(name, job);
            }
        }
    }
}

#[test]
fn config_map_snapshot() {
    let t = task(AgentType::ClaudeCode, CredentialType::ApiKey, true, true);
    let plan = plan_run(&t, Some(&workspace()), Some(&agent_config())).expect("plan");
    insta::assert_yaml_snapshot!(render_config_map(&plan, &t, None));
    let bare = task(AgentType::Codex, CredentialType::ApiKey, false, false);
    let plan = plan_run(&bare, None, None).expect("plan");
    let data = render_config_map(&plan, &bare, None).data.expect("data");
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["gitconfig", "prompt"],
        "without AgentConfig or files, the ConfigMap holds the prompt and the agent's git configuration only"
    );
    assert_eq!(data["prompt"], "Fix the bug described in issue #42");
}

#[test]
fn every_job_is_restricted_and_owned() {
    for (agent, cred) in combos() {
        for ws in [false, true] {
            for ac in [false, true] {
                let t = task(agent, cred, ws, ac);
                let v = serde_json::to_value(render(&t, ws, ac)).expect("json");
                assert_eq!(v["metadata"]["name"], "fix-bugs-42");
                assert_eq!(v["metadata"]["labels"]["axon.io/task"], "fix-bugs-42");
                assert_eq!(
                    v["metadata"]["labels"]["axon.io/agent-type"],
                    agent.as_str()
                );
                let owner = &v["metadata"]["ownerReferences"][0];
                assert_eq!(owner["kind"], "Task");
                assert_eq!(owner["controller"], true);
                assert_eq!(owner["uid"], "0000-task-uid");
                let spec = &v["spec"];
                assert_eq!(spec["backoffLimit"], 0);
                assert_eq!(spec["activeDeadlineSeconds"], 1800);
                let pod = &spec["template"]["spec"];
                assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
                assert_eq!(
                    pod["securityContext"]["seccompProfile"]["type"],
                    "RuntimeDefault"
                );
                assert_eq!(pod["automountServiceAccountToken"], false);
                let containers = pod["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(pod["initContainers"].as_array().into_iter().flatten());
                for c in containers {
                    let sc = &c["securityContext"];
                    assert_eq!(sc["allowPrivilegeEscalation"], false);
                    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
                    assert_eq!(sc["runAsNonRoot"], true);
                }
                let inits = pod["initContainers"].as_array().expect("init containers");
                let names: Vec<&str> = inits.iter().filter_map(|c| c["name"].as_str()).collect();
                assert_eq!(
                    names,
                    if ws {
                        vec!["prepare", "agent"]
                    } else {
                        vec!["agent"]
                    },
                    "prepare (with a Workspace), then the agent"
                );
                let agent_c = inits.last().expect("agent");
                assert_eq!(agent_c["command"][0], "/bin/sh");
                assert!(
                    agent_c["command"][2].as_str().is_some_and(|s| s
                        .lines()
                        .nth(1)
                        .is_some_and(|l| l.starts_with("/axon_entrypoint.sh"))),
                    "the agent container runs the image's entrypoint (after exporting AXON_BASE_BRANCH)"
                );
                let mounts = agent_c["volumeMounts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let env_mount = mounts.iter().find(|m| m["name"] == "axon-agent-env");
                assert_eq!(
                    env_mount.map(|m| (m["mountPath"].clone(), m["readOnly"].clone())),
                    ws.then(|| (serde_json::json!("/axon/env"), serde_json::json!(true))),
                    "with a Workspace the agent reads what prepare wrote (AXON_BASE_BRANCH), read-only"
                );
                let results = &pod["containers"][0];
                assert_eq!(pod["containers"].as_array().map(Vec::len), Some(1));
                assert_eq!(results["name"], "results");
                assert_eq!(results["terminationMessagePolicy"], "File");
                assert_eq!(results["terminationMessagePath"], "/dev/termination-log");
                let text = v.to_string();
                assert!(
                    !text.contains("\"value\":\"secret"),
                    "secrets travel by reference"
                );
            }
        }
    }
}

#[test]
fn custom_image_and_backoff_override() {
    let mut t = task(AgentType::Gemini, CredentialType::ApiKey, false, false);
    t.spec.image = Some("registry.example/my-agent:1".into());
    t.spec.backoff_limit = Some(2);
    let v = serde_json::to_value(render(&t, false, false)).expect("json");
    assert_eq!(
        v["spec"]["template"]["spec"]["initContainers"][0]["image"],
        "registry.example/my-agent:1"
    );
    assert_eq!(v["spec"]["backoffLimit"], 2);
    let t = task(AgentType::Gemini, CredentialType::ApiKey, false, false);
    let v = serde_json::to_value(render(&t, false, false)).expect("json");
    assert_eq!(
        v["spec"]["template"]["spec"]["initContainers"][0]["image"],
        "ghcr.io/axon-core/axon-gemini:0.1.0"
    );
}
