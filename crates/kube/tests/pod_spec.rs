//! The isolation a Task's Pod promises, asserted on the rendered Job for built-in and custom
//! images, with and without a Workspace: the agent cannot touch what becomes status (the base
//! commit, the results container, its termination message), the prompt is never in an
//! environment variable or an argument, and every container is Pod Security "restricted".

use axon_api::{
    AgentType, CredentialType, Credentials, LocalObjectReference, SecretReference, Task, TaskSpec,
    Workspace, WorkspaceSpec,
};
use axon_core::plan::plan_run;
use axon_kube::job::{JobOptions, render_config_map, render_job};
use serde_json::Value;

const PROMPT: &str = "Fix issue 42; the secret word is ZEBRA-PROMPT-MARKER";

fn task(ws: bool, image: Option<&str>, prompt: &str, timeout: Option<i64>) -> Task {
    let mut t = Task::new(
        "fix-42",
        TaskSpec {
            type_: AgentType::ClaudeCode,
            prompt: prompt.into(),
            credentials: Credentials {
                type_: CredentialType::ApiKey,
                secret_ref: SecretReference { name: "key".into() },
            },
            model: None,
            image: image.map(str::to_string),
            workspace_ref: ws.then(|| LocalObjectReference {
                name: "repo".into(),
            }),
            agent_config_refs: Vec::new(),
            agent_config_ref: None,
            ttl_seconds_after_finished: None,
            timeout_seconds: timeout,
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
    t.metadata.uid = Some("uid".into());
    t
}

fn workspace() -> Workspace {
    Workspace::new(
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
    )
}

fn opts(default_timeout_seconds: i64) -> JobOptions {
    JobOptions {
        axon_image: "ghcr.io/axon-core/axon:0.1.0".into(),
        version: "0.1.0".into(),
        default_timeout_seconds,
    }
}

fn job(t: &Task, default_timeout: i64) -> Value {
    let w = workspace();
    let plan = plan_run(t, t.spec.workspace_ref.as_ref().map(|_| &w), None).expect("plan");
    serde_json::to_value(render_job(&plan, t, &opts(default_timeout), None)).expect("json")
}

/// Every variant: with/without a Workspace, built-in/custom image.
fn variants() -> Vec<Value> {
    let mut out = Vec::new();
    for ws in [false, true] {
        for image in [None, Some("registry.example/agent:1")] {
            out.push(job(&task(ws, image, PROMPT, Some(600)), 14400));
        }
    }
    out
}

fn pod(job: &Value) -> &Value {
    &job["spec"]["template"]["spec"]
}

fn container<'a>(job: &'a Value, name: &str) -> &'a Value {
    let p = pod(job);
    p["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(p["containers"].as_array().into_iter().flatten())
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn all_containers(job: &Value) -> Vec<&Value> {
    let p = pod(job);
    p["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(p["containers"].as_array().into_iter().flatten())
        .collect()
}

/// `(volume, mountPath, readOnly)` of a container.
fn mounts(c: &Value) -> Vec<(String, String, bool)> {
    c["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_string(),
                m["mountPath"].as_str().unwrap_or_default().to_string(),
                m["readOnly"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn uid(job: &Value, c: &Value) -> i64 {
    c["securityContext"]["runAsUser"]
        .as_i64()
        .or_else(|| pod(job)["securityContext"]["runAsUser"].as_i64())
        .expect("a UID")
}

#[test]
fn the_agent_and_the_results_container_run_as_different_users() {
    for j in variants() {
        let agent = uid(&j, container(&j, "agent"));
        let results = uid(&j, container(&j, "results"));
        assert_ne!(agent, results);
        assert_eq!(results, 65532);
        assert!(agent > 0 && results > 0, "never root");
    }
}

#[test]
fn every_container_is_restricted() {
    for j in variants() {
        let p = pod(&j);
        assert_eq!(p["automountServiceAccountToken"], false);
        assert_ne!(
            p["shareProcessNamespace"], true,
            "no shared process namespace"
        );
        assert!(p["hostPID"].is_null() && p["hostIPC"].is_null() && p["hostNetwork"].is_null());
        assert_eq!(p["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            p["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        for c in all_containers(&j) {
            let sc = &c["securityContext"];
            let name = &c["name"];
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(sc["privileged"], false, "{name}");
            assert_eq!(
                sc["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{name}"
            );
            assert!(sc["capabilities"]["add"].is_null(), "{name}");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{name}");
            assert_eq!(sc["runAsNonRoot"], true, "{name}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
            assert!(c["restartPolicy"].is_null(), "{name}: no sidecar");
        }
    }
}

#[test]
fn the_results_container_reads_the_work_tree_read_only_and_the_agent_never_sees_the_base() {
    for j in variants() {
        let results = mounts(container(&j, "results"));
        let work = results
            .iter()
            .find(|(v, _, _)| v == "workspace")
            .expect("the work tree is mounted in results");
        assert!(work.2, "the work tree is read-only in results");
        for (v, path, ro) in &results {
            if v != "results-tmp" {
                assert!(*ro, "results mounts {v} at {path} read-only");
            }
        }
        let agent = mounts(container(&j, "agent"));
        assert!(
            agent.iter().all(|(v, _, _)| v != "axon-base"),
            "axon-base is not mounted in the agent: {agent:?}"
        );
        assert!(
            agent.iter().all(|(v, _, _)| v != "results-tmp"),
            "the results container's /tmp is its own"
        );
        assert!(
            agent.iter().all(|(v, _, _)| v != "github-token"),
            "the token file is not in the agent"
        );
        let claims = agent
            .iter()
            .find(|(v, _, _)| v == "axon-claims")
            .expect("claims");
        assert!(!claims.2, "the agent writes its claims");
        let prompt = agent
            .iter()
            .find(|(v, _, _)| v == "prompt")
            .expect("prompt");
        assert!(prompt.2, "the prompt is read-only");
        if pod(&j)["initContainers"].as_array().map(Vec::len) == Some(2) {
            let prepare = mounts(container(&j, "prepare"));
            assert!(prepare.iter().any(|(v, _, ro)| v == "axon-base" && !ro));
            assert!(results.iter().any(|(v, _, ro)| v == "axon-base" && *ro));
        }
    }
}

#[test]
fn the_prompt_is_in_no_environment_variable_or_argument() {
    for j in variants() {
        for c in all_containers(&j) {
            let mut texts: Vec<&str> = Vec::new();
            for key in ["command", "args"] {
                texts.extend(
                    c[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                );
            }
            for e in c["env"].as_array().into_iter().flatten() {
                texts.extend(e["value"].as_str());
            }
            assert!(
                texts.iter().all(|t| !t.contains("ZEBRA-PROMPT-MARKER")),
                "{}: {texts:?}",
                c["name"]
            );
        }
        let agent = container(&j, "agent");
        let env = agent["env"].as_array().expect("env");
        assert!(
            env.iter()
                .any(|e| e["name"] == "AXON_PROMPT_FILE" && e["value"] == "/axon/prompt/prompt")
        );
        assert!(
            env.iter()
                .any(|e| e["name"] == "AXON_RESULTS_FILE"
                    && e["value"] == "/axon/claims/results.json")
        );
    }
    let t = task(false, None, PROMPT, None);
    let plan = plan_run(&t, None, None).expect("plan");
    let cm = render_config_map(&plan, &t, None);
    assert_eq!(
        cm.data.expect("data")["prompt"],
        PROMPT,
        "it is in the ConfigMap"
    );
}

#[test]
fn only_a_small_prompt_of_a_custom_image_is_passed_as_its_first_argument() {
    let script = |t: &Task| {
        container(&job(t, 0), "agent")["command"][2]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let custom = Some("registry.example/agent:1");
    assert!(script(&task(false, custom, PROMPT, None)).contains("\"$(cat /axon/prompt/prompt)\""));
    assert!(!script(&task(false, None, PROMPT, None)).contains("/axon/prompt/prompt"));
    let big = "x".repeat(200 * 1024);
    assert!(!script(&task(false, custom, &big, None)).contains("/axon/prompt/prompt"));
}

#[test]
fn only_the_results_container_has_a_termination_message_the_controller_reads() {
    for j in variants() {
        let results = container(&j, "results");
        assert_eq!(results["terminationMessagePolicy"], "File");
        assert_eq!(results["terminationMessagePath"], "/dev/termination-log");
        let args: Vec<&str> = results["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(args[..2], ["agent", "collect"]);
        let after = |flag: &str| args.iter().position(|a| *a == flag).map(|i| args[i + 1]);
        assert_eq!(after("--out"), Some("/dev/termination-log"));
        assert_eq!(after("--claims"), Some("/axon/claims/results.json"));
        let agent = container(&j, "agent");
        assert_ne!(
            agent["terminationMessagePolicy"], "FallbackToLogsOnError",
            "the agent's logs never become a message"
        );
        let custom = container(&j, "agent")["image"] != "ghcr.io/axon-core/axon-claude-code:0.1.0";
        assert_eq!(args.contains(&"--custom"), custom);
        if pod(&j)["initContainers"].as_array().map(Vec::len) == Some(2) {
            assert_eq!(after("--repo"), Some("https://github.com/acme/app.git"));
            assert_eq!(after("--base-dir"), Some("/axon/base"));
            assert_eq!(after("--work"), Some("/workspace/repo"));
            assert_eq!(
                after("--token-file"),
                Some("/var/run/axon/github/GITHUB_TOKEN")
            );
        } else {
            assert_eq!(after("--repo"), None);
            assert_eq!(after("--work"), Some("/workspace"));
        }
    }
}

#[test]
fn git_in_the_results_container_runs_no_program_from_the_work_trees_config() {
    for j in variants() {
        let env: Vec<(String, String)> = container(&j, "results")["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or_default().to_string(),
                    e["value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let count: usize = get("GIT_CONFIG_COUNT")
            .and_then(|c| c.parse().ok())
            .expect("count");
        let overrides: Vec<(&str, &str)> = (0..count)
            .map(|i| {
                (
                    get(&format!("GIT_CONFIG_KEY_{i}")).expect("key"),
                    get(&format!("GIT_CONFIG_VALUE_{i}")).expect("value"),
                )
            })
            .collect();
        assert!(overrides.contains(&("core.fsmonitor", "false")));
        assert!(overrides.contains(&("core.hooksPath", "/dev/null")));
        assert!(
            overrides.contains(&("safe.directory", "*")),
            "the tree is another UID's"
        );
        assert_eq!(get("GIT_CONFIG_GLOBAL"), Some("/dev/null"));
    }
}

#[test]
fn the_deadline_is_the_task_timeout_else_the_controller_default() {
    let deadline = |timeout, default| {
        job(&task(false, None, PROMPT, timeout), default)["spec"]["activeDeadlineSeconds"].clone()
    };
    assert_eq!(deadline(Some(600), 14400), 600);
    assert_eq!(deadline(None, 14400), 14400);
    assert!(deadline(None, 0).is_null(), "0: no default deadline");
}
