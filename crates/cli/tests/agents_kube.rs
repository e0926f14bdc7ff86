//! Each of the four REAL agent CLIs, run as a Task on the Kubernetes backend through the
//! cluster's Axon gateway: a real kube-apiserver and kube-controller-manager
//! (`../shared/kube/up.sh`), `axon install`, `axon controller` and `axon gateway` as processes,
//! and the test kubelet running each Pod's containers as host processes — the real `axon`
//! binary for `prepare` and `results`, and for the agent image `exec axon agent run` with the
//! CLI installed by `scripts/install-deps.sh` (what the agent images under `agents/` do).
//!
//! Per CLI, in a namespace of its own, against the scripted fake model server and a git daemon
//! on 127.0.0.1:
//! - a Task that writes a note, commits it on a new branch and pushes it ends Succeeded with the
//!   branch, the pushed commit and `pushed: true`; its usage is what the gateway measured on the
//!   server's answers, exactly; the server saw the real key, never the gateway token; the key
//!   shows nowhere in `get -o yaml` or `logs`;
//! - the same script under `budget.maxTurns: 1` (2 for OpenCode, whose first request names the
//!   session): the gateway refuses the second call, the CLI exits on the refusal, the `results`
//!   container saves the work tree on `axon/wip/<task>` and pushes it through the gateway, and
//!   the Task ends Failed with reason `BudgetExceeded`.
//!
//! Skipped, with a `SKIPPED` line, when `up.sh` is absent (`AXON_KUBE_REQUIRED=1` fails then).

#[allow(dead_code)]
#[path = "conformance/kube.rs"]
mod kube_driver;
#[allow(dead_code)]
#[path = "conformance/space.rs"]
mod space;

mod agent_clis;
mod support;

use agent_clis::{
    AGENTS, Agent, BRANCH, CONTENT, FILE, assert_measured, bin_dir, have_cli, outcome_reason,
    push_script, served,
};
use axon_api::AgentType;
use axon_testsupport::git_server::GitServer;
use axon_testsupport::model_server::FakeModelServer;
use kube_driver::{Cluster, KubeSpace};
use serde_json::Value;
use space::{Space, SpaceExt};
use std::path::Path;
use std::time::Duration;
use support::str_at;

/// How long one agent's Task may take to finish (two CLIs start at once on 2 cores).
const RUN: Duration = Duration::from_secs(240);

/// The default image of `agent` on the test kubelet: `exec axon agent run` with its CLI on
/// `PATH`, as `agents/<type>/Dockerfile` builds it.
fn add_agent_image(cluster: &Cluster, agent: &Agent) {
    let agent_type: AgentType =
        serde_json::from_value(Value::String(agent.type_.into())).expect("an agent type");
    let image = axon_kube::names::default_agent_image(agent_type, axon_kube::names::VERSION);
    let bin = bin_dir();
    let script = format!(
        "#!/bin/sh\nexport PATH=\"{bin}:/usr/local/bin:/usr/bin:/bin\" AXON_AGENT_TYPE={t}\nexec {axon} agent run \"$1\"\n",
        bin = bin.display(),
        t = agent.type_,
        axon = support::axon_bin().display(),
    );
    let path = cluster.dir().join(format!("entrypoint-{}.sh", agent.type_));
    std::fs::write(&path, script).expect("entrypoint");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    cluster.add_image(&image, &path);
}

fn task_yaml(name: &str, agent: &Agent, model: &FakeModelServer, extra: &str) -> String {
    format!(
        "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata:\n  name: {name}\nspec:\n  type: {}\n  model: {}\n  prompt: Write the note, commit it on a new branch and push it.\n  credentials:\n    type: api-key\n    secretRef:\n      name: agent-key\n  workspaceRef:\n    name: repo\n  modelBaseURL: {}\n  env:\n  - {{name: AXON_MODEL_MAX_RETRIES, value: '0'}}\n  - {{name: npm_config_registry, value: 'http://127.0.0.1:9/'}}\n{extra}",
        agent.type_,
        agent.model,
        model.base_url()
    )
}

/// The Task once it finished (Succeeded or Failed), and what to print when an assertion fails.
fn finished(space: &KubeSpace<'_>, name: &str, model: &FakeModelServer) -> (Value, String) {
    let t = space
        .until_task(name, "Succeeded or Failed", RUN, |t| {
            matches!(
                t.and_then(|t| t["status"]["phase"].as_str()),
                Some("Succeeded" | "Failed")
            )
        })
        .expect("the Task");
    let logs = space.axon(&["logs", name]).all();
    let yaml = space.axon(&["get", "task", name, "-o", "yaml"]).all();
    let text = format!(
        "{t:#}\nlogs:\n{logs}\nevents:\n{}\nmodel requests:\n{}",
        space.events(),
        served(model)
    );
    let secret = AGENTS
        .iter()
        .find(|a| text.contains(a.secret_value) || yaml.contains(a.secret_value));
    assert!(secret.is_none(), "a credential shows:\n{text}\n{yaml}");
    (t, text)
}

fn pushes(space: &KubeSpace<'_>, agent: &Agent, git: &GitServer) {
    let model = FakeModelServer::start(push_script()).expect("model server");
    space.apply_ok("push.yaml", &task_yaml("push", agent, &model, ""));
    let (t, text) = finished(space, "push", &model);
    assert_eq!(str_at(&t, "/status/phase"), Some("Succeeded"), "{text}");
    assert_eq!(str_at(&t, "/status/outputs/branch"), Some(BRANCH), "{text}");
    assert_eq!(
        t.pointer("/status/outputs/pushed"),
        Some(&Value::Bool(true)),
        "{text}"
    );
    let pushed = git.commits(BRANCH);
    assert_eq!(
        str_at(&t, "/status/outputs/commits/0"),
        pushed.first().map(|c| c.sha.as_str()),
        "{text}"
    );
    assert_eq!(
        git.file_at(BRANCH, FILE).as_deref(),
        Some(CONTENT),
        "{text}"
    );
    assert_measured(agent, &t, &model, &text);
}

fn budget_stops(space: &KubeSpace<'_>, agent: &Agent, git: &GitServer) {
    let model = FakeModelServer::start(push_script()).expect("model server");
    let turns = if agent.cli == "opencode" { 2 } else { 1 };
    let extra = format!("  budget:\n    maxTurns: {turns}\n");
    space.apply_ok("budget.yaml", &task_yaml("budget", agent, &model, &extra));
    let (t, text) = finished(space, "budget", &model);
    assert_eq!(str_at(&t, "/status/phase"), Some("Failed"), "{text}");
    let reason = outcome_reason(&t);
    assert_eq!(reason, Some("BudgetExceeded"), "{text}");
    let message = str_at(&t, "/status/message").unwrap_or_default();
    assert!(message.contains(&format!("maxTurns {turns}")), "{text}");
    assert_eq!(
        str_at(&t, "/status/outputs/branch"),
        Some("axon/wip/budget"),
        "{text}"
    );
    assert_eq!(
        t.pointer("/status/outputs/pushed"),
        Some(&Value::Bool(true)),
        "{text}"
    );
    assert_eq!(
        git.file_at("axon/wip/budget", FILE).as_deref(),
        Some(CONTENT),
        "{text}"
    );
    assert_eq!(
        str_at(&t, "/status/usage/source"),
        Some("gateway"),
        "{text}"
    );
    assert_eq!(
        t.pointer("/status/usage/turns").and_then(Value::as_u64),
        Some(turns),
        "{text}"
    );
}

fn run_agent(cluster: &Cluster, agent: &Agent) {
    let space = cluster.space(&format!("agent-{}", agent.cli));
    let git = GitServer::start().expect("git server");
    space.ok(&[
        "create",
        "secret",
        "agent-key",
        "--from-literal",
        &format!("{}={}", agent.key, agent.secret_value),
    ]);
    space.apply_ok(
        "ws.yaml",
        &format!(
            "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata:\n  name: repo\nspec:\n  repo: {}\n  ref: main\n",
            git.url()
        ),
    );
    pushes(&space, agent, &git);
    budget_stops(&space, agent, &git);
}

#[test]
fn the_four_clis_push_and_stop_over_budget_through_the_gateway() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(up) = axon_testsupport::kube_plane::up_sh_or_skip("agents_kube", &root) else {
        return;
    };
    let agents: Vec<&Agent> = AGENTS.iter().filter(|a| have_cli(a.cli)).collect();
    if agents.is_empty() {
        return;
    }
    // No spawner runs here: the spawners' fake GitHub is a closed port.
    let cluster = Cluster::start(&up, support::axon_bin(), "http://127.0.0.1:9");
    for agent in &agents {
        add_agent_image(&cluster, agent);
    }
    // Two CLIs at a time: four node processes at once on 2 cores would only be slower.
    for pair in agents.chunks(2) {
        std::thread::scope(|s| {
            let runs: Vec<_> = pair
                .iter()
                .map(|agent| s.spawn(|| run_agent(&cluster, agent)))
                .collect();
            for (agent, run) in pair.iter().zip(runs) {
                if let Err(p) = run.join() {
                    panic!(
                        "{}: {} (controller, gateway, kubelet Pods and control plane logs in {})",
                        agent.cli,
                        p.downcast_ref::<String>().cloned().unwrap_or_default(),
                        cluster.dir().display()
                    );
                }
            }
        });
    }
}
